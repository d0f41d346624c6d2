// Keeps every tenant's context (accepted domains, recipients) fresh: on demand (`refreshTenantContexts`) and on a
// schedule (`startContextRefresh`, called by the service). Reuses the onboarding checks in read-only mode, so a
// refresh also updates health; a failed accepted-domain load marks the tenant unknown and unhealthy.
import { silentLogger } from '../log.ts';
import { checkTenants, type TenantDeps, type TenantReport } from './onboard.ts';
import { listTenants } from './registry.ts';

export async function refreshTenantContexts(deps: TenantDeps, opts: { tenantIds?: string[]; concurrency?: number } = {}): Promise<TenantReport[]> {
  let tenants = await listTenants(deps.db, { enabledOnly: true });
  if (opts.tenantIds) {
    const want = new Set(opts.tenantIds.map((t) => t.toLowerCase()));
    tenants = tenants.filter((t) => want.has(t.tenantId));
  }
  return checkTenants(deps, tenants, { mode: 'health', concurrency: opts.concurrency });
}

export interface ContextRefresher {
  /** Runs one refresh now (skipped while another is running); resolves with its reports. */
  runNow(): Promise<TenantReport[]>;
  stop(): Promise<void>;
}

/** Refreshes every `intervalMs` (default 6 h), the first run after `initialDelayMs` (default 0). Errors are logged, never thrown. */
export function startContextRefresh(deps: TenantDeps, opts: { intervalMs?: number; initialDelayMs?: number } = {}): ContextRefresher {
  const logger = deps.logger ?? silentLogger();
  const interval = opts.intervalMs ?? 6 * 3600_000;
  let running: Promise<TenantReport[]> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const run = (): Promise<TenantReport[]> => {
    if (running) return running;
    running = refreshTenantContexts(deps)
      .then((reports) => {
        logger.info({ tenants: reports.length, unhealthy: reports.filter((r) => !r.healthy).length }, 'tenant contexts refreshed');
        return reports;
      })
      .catch((e: unknown) => {
        logger.error({ err: e }, 'tenant context refresh failed');
        return [] as TenantReport[];
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      void run().finally(() => schedule(interval));
    }, ms);
    timer.unref();
  };
  schedule(opts.initialDelayMs ?? 0);
  return {
    runNow: run,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
