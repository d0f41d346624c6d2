// `tenantwatch tenants …`: discover (GDAP), add, remove, enable/disable, list, import a context file, onboard,
// health, refresh, consent-url. Exit codes: 0 ok (every tenant healthy), 1 some tenant unhealthy or Microsoft
// failed, 2 bad usage (bad tenant id/domain, unknown tenant, bad file).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { OperatorError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createM365Clients, type M365Clients } from '../m365/clients.ts';
import { isM365Error } from '../m365/m365-error.ts';
import { consentUrl, resolveTenantIdByDomain } from '../m365/token.ts';
import type { Store } from '../store/db.ts';
import { parseTenantContextFile } from '../tenants/context-file.ts';
import { addDiscovered, discoverTenants } from '../tenants/discovery.ts';
import { renderDiscovery, renderReports, renderTenantList, reportJson, storedReport } from '../tenants/format.ts';
import { importContexts } from '../tenants/import.ts';
import { checkTenants } from '../tenants/onboard.ts';
import { addTenant, listTenants, parseTenantRef, removeTenant, requireTenant, setTenantEnabled, type TenantRecord } from '../tenants/registry.ts';
import { action, configFor, loggerFor, storeFor } from './common.ts';
import { clusterStatus } from '../scale/registry.ts';

interface Ctx {
  config: Readonly<Config>;
  store: Store;
  logger: Logger;
  clients(): M365Clients;
}

async function withCtx(c: Command, fn: (ctx: Ctx) => Promise<number>): Promise<number> {
  const config = configFor(c);
  const logger = loggerFor(config);
  const store = await storeFor(config);
  let clients: M365Clients | undefined;
  try {
    return await fn({
      config,
      store,
      logger,
      clients: () => (clients ??= createM365Clients(config, { logger })),
    });
  } finally {
    await clients?.close();
    await store.close();
  }
}

const out = (s: string) => process.stdout.write(s);

/** A domain Microsoft does not know is bad input (exit 2); an unreachable Microsoft stays an operational failure. */
async function resolveDomain(config: Readonly<Config>, domain: string): Promise<string> {
  try {
    return await resolveTenantIdByDomain(config, domain);
  } catch (e) {
    if (isM365Error(e) && e.code === 'TW_M365_TENANT_NOT_FOUND') {
      throw new OperatorError('TW_TENANT_UNRESOLVED', { domain, reason: e.upstreamCode ?? e.upstreamMessage ?? 'not found' }, { upstreamCode: e.upstreamCode });
    }
    throw e;
  }
}

async function selectTenants(ctx: Ctx, tenant: string | undefined, all: boolean | undefined): Promise<TenantRecord[]> {
  if (tenant && all) throw new OperatorError('TW_TENANT_USAGE', { detail: 'give a tenant or --all, not both' });
  if (tenant) return [await requireTenant(ctx.store.db, tenant)];
  return listTenants(ctx.store.db, { enabledOnly: true });
}

export function registerTenants(program: Command): void {
  const cmd = program.command('tenants').description('customer tenants: discover, add, onboard, health, context');

  cmd
    .command('discover')
    .description('list customer tenants from GDAP relationships in the partner tenant (legacy contracts as fallback); --add registers the new ones')
    .option('--add', 'register new tenants with an active or pending GDAP relationship (or a legacy contract)')
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { add?: boolean; json?: boolean }, c: Command) =>
        withCtx(c, async (ctx) => {
          const r = await discoverTenants({ db: ctx.store.db, config: ctx.config, graph: ctx.clients().graph, logger: ctx.logger });
          const added = opts.add ? await addDiscovered(ctx.store.db, r.tenants) : [];
          const addedIds = new Set(added.map((t) => t.tenantId));
          if (opts.json) {
            out(JSON.stringify({ tenants: r.tenants.map((t) => ({ ...t, added: addedIds.has(t.tenantId) })), problems: r.problems }, null, 2) + '\n');
          } else {
            out(renderDiscovery(r.tenants, addedIds));
            for (const p of r.problems) out(`warning: ${p.source} could not be read: ${p.upstreamCode ? `${p.upstreamCode}: ` : ''}${p.reason}\n`);
            const fresh = r.tenants.filter((t) => !t.registered && !addedIds.has(t.tenantId)).length;
            out(`${r.tenants.length} customer tenant(s), ${added.length} added now, ${fresh} not registered${!opts.add && fresh ? ' (use --add)' : ''}\n`);
            const expired = r.tenants.filter((t) => !t.registered && (t.gdap === 'expired' || t.gdap === 'terminated'));
            if (opts.add && expired.length) out(`${expired.length} with an expired or terminated GDAP relationship were not added: renew the relationship, or add by hand with \`tenantwatch tenants add <tenant>\`\n`);
          }
          return 0;
        }),
      ),
    );

  cmd
    .command('add <tenant>')
    .description('register a customer tenant by GUID or verified domain (idempotent)')
    .option('--name <name>', 'display name (default: from Microsoft at onboarding)')
    .action(
      action(async (tenant: string, opts: { name?: string }, c: Command) => {
        const ref = parseTenantRef(tenant); // bad ids/domains fail before any config or network
        return withCtx(c, async (ctx) => {
          const tenantId = ref.kind === 'id' ? ref.tenantId : await resolveDomain(ctx.config, ref.domain);
          const r = await addTenant(ctx.store.db, { tenantId, name: opts.name, defaultDomain: ref.kind === 'domain' ? ref.domain : undefined, source: 'manual', enable: true });
          out(`${r.added ? 'added' : 'already registered'} ${r.tenant.tenantId} (${r.tenant.name})\n`);
          out(`next: tenantwatch tenants onboard ${r.tenant.tenantId}\n`);
          return 0;
        });
      }),
    );

  cmd
    .command('remove <tenant>')
    .description('stop watching a tenant and forget it (GUID or domain)')
    .action(
      action(async (tenant: string, _o: unknown, c: Command) => {
        parseTenantRef(tenant);
        return withCtx(c, async (ctx) => {
          const t = await requireTenant(ctx.store.db, tenant);
          await removeTenant(ctx.store.db, t.tenantId);
          out(`removed ${t.tenantId} (${t.name})\n`);
          return 0;
        });
      }),
    );

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    cmd
      .command(`${name} <tenant>`)
      .description(`${name} watching a registered tenant`)
      .action(
        action(async (tenant: string, _o: unknown, c: Command) => {
          parseTenantRef(tenant);
          return withCtx(c, async (ctx) => {
            const t = await requireTenant(ctx.store.db, tenant);
            await setTenantEnabled(ctx.store.db, t.tenantId, enabled);
            out(`${enabled ? 'enabled' : 'disabled'} ${t.tenantId} (${t.name})\n`);
            return 0;
          });
        }),
      );
  }

  cmd
    .command('list')
    .description('registered tenants with their last known health (no network)')
    .option('--json', 'print a JSON array in the shape of `tenants health --json`')
    .action(
      action(async (opts: { json?: boolean }, c: Command) =>
        withCtx(c, async (ctx) => {
          const tenants = await listTenants(ctx.store.db);
          if (opts.json) out(JSON.stringify(tenants.map((t) => ({ ...reportJson(storedReport(t)), enabled: t.enabled, source: t.source, defaultDomain: t.defaultDomain, checkedAt: t.healthCheckedAt })), null, 2) + '\n');
          else out(renderTenantList(tenants));
          return 0;
        }),
      ),
    );

  cmd
    .command('import <file>')
    .description('import tenant contexts (accepted domains, recipients, trusted IPs, exclusions) from a YAML file (contracts §3)')
    .action(
      action(async (file: string, _o: unknown, c: Command) => {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (e) {
          throw new OperatorError('TW_TENANT_CONTEXT_INVALID', { path: file, count: 1 }, { details: [`cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})`] });
        }
        const parsed = parseTenantContextFile(text);
        if (parsed.problems.length) throw new OperatorError('TW_TENANT_CONTEXT_INVALID', { path: file, count: parsed.problems.length }, { details: parsed.problems });
        return withCtx(c, async (ctx) => {
          const r = await importContexts(ctx.store.db, parsed.tenants);
          out(`imported ${r.length} tenant context(s): ${r.filter((x) => x.added).length} new tenant(s), ${r.filter((x) => !x.added).length} updated\n`);
          return 0;
        });
      }),
    );

  cmd
    .command('onboard [tenant]')
    .description('check and set up tenants: token (consent), directory, accepted domains, recipients, audit log, subscriptions')
    .option('--all', 'every enabled tenant (the default without a tenant)')
    .option('--enable-audit', 'turn unified audit log ingestion on where it is off')
    .option('--json', 'print JSON (contracts §1 shape)')
    .action(
      action(async (tenant: string | undefined, opts: { all?: boolean; enableAudit?: boolean; json?: boolean }, c: Command) => {
        if (tenant) parseTenantRef(tenant);
        return withCtx(c, async (ctx) => {
          const tenants = await selectTenants(ctx, tenant, opts.all);
          const reports = await checkTenants({ db: ctx.store.db, config: ctx.config, clients: ctx.clients(), logger: ctx.logger }, tenants, { mode: 'onboard', enableAudit: opts.enableAudit });
          out(opts.json ? JSON.stringify(reports.map(reportJson), null, 2) + '\n' : renderReports(reports));
          return reports.every((r) => r.healthy) ? 0 : 1;
        });
      }),
    );

  cmd
    .command('health [tenant]')
    .description('the onboarding checks, read-only, plus last successful poll, lag and errors; refreshes the stored context')
    .option('--json', 'print a JSON array: {"tenantId","name","healthy","checks":{…},"ingest":{…}}')
    .action(
      action(async (tenant: string | undefined, opts: { json?: boolean }, c: Command) => {
        if (tenant) parseTenantRef(tenant);
        return withCtx(c, async (ctx) => {
          const tenants = await selectTenants(ctx, tenant, undefined);
          const reports = await checkTenants({ db: ctx.store.db, config: ctx.config, clients: ctx.clients(), logger: ctx.logger }, tenants, { mode: 'health' });
          if (opts.json) {
            out(JSON.stringify(reports.map(reportJson), null, 2) + '\n');
          } else {
            out(renderReports(reports));
            for (const r of reports) {
              if (!r.ingest) continue;
              const i = r.ingest;
              out(`${r.name}: last poll ${i.lastSuccessAt ?? 'never'}, lag ${i.lagSeconds === null ? '-' : `${Math.round(i.lagSeconds / 60)} min`}, ${i.errorCount} content type(s) in error, ${i.failedBlobs} failed blob(s)${i.lastError ? ` (last: ${i.lastError})` : ''}\n`);
            }
            // Several processes (src/scale): who is alive and how the poll jobs stand.
            const cl = await clusterStatus(ctx.store.db);
            if (cl.workers.length) out(`cluster (${cl.scheduler}): ${cl.workersAlive} process(es) alive, poll jobs ${cl.jobs.queued} queued, ${cl.jobs.running} running, ${cl.jobs.retrying} retrying, ${cl.jobs.failed} failed, ${cl.jobs.dead} dead-lettered\n`);
          }
          return reports.every((r) => r.healthy) ? 0 : 1;
        });
      }),
    );

  cmd
    .command('consent-url <tenant>')
    .description('print the admin consent URL a Global Administrator of the customer opens once')
    .action(
      action(async (tenant: string, _o: unknown, c: Command) => {
        const ref = parseTenantRef(tenant);
        const config = configFor(c);
        if (!config.microsoft.clientId) throw new OperatorError('TW_CONFIG_INVALID', { count: 1 }, { details: ['microsoft.clientId: required to build the consent URL'] });
        out(`${consentUrl(config, ref.kind === 'id' ? ref.tenantId : ref.domain)}\n`);
        return 0;
      }),
    );
}
