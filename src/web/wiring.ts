// The ports the web server uses, built over the other modules' query functions on the same store. The
// caller (main.ts, demo, tests) may pass its own; buildServer fills in what is missing from here.
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Config } from '../config.ts';
import type { Database } from '../store/schema.ts';
import { isOperatorError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Severity } from '../model.ts';
import { acknowledgeAlert, getAlertDetail, listAlerts, reopenAlert, resolveAlert, snoozeAlert, type AlertStatus } from '../alerts/queries.ts';
import { listRuns } from '../remediate/log-store.ts';
import { listTenants, getTenantById } from '../tenants/registry.ts';
import { reportJson, storedReport } from '../tenants/format.ts';
import { checkTenant } from '../tenants/onboard.ts';
import { addDiscovered, discoverTenants, shouldAdd } from '../tenants/discovery.ts';
import type { M365Clients } from '../m365/clients.ts';
import { checkChannels, createChannels } from '../notify/channels/index.ts';
import { memoryInbox } from '../notify/channels/memory.ts';
import { sendNow } from '../notify/dispatcher.ts';
import { testView } from '../notify/view.ts';
import { readNotifySettings } from './settings.ts';
import type { AlertListItem, AlertsPort, ChannelsPort, TenantsPort, TenantView } from './ports.ts';

/** Contract fields first (contracts §6), then the extras the console shows. */
function item(a: Record<string, unknown> & { id: string }, names: Map<string, string>): AlertListItem {
  return {
    id: a.id,
    ruleId: a.ruleId as string,
    behaviour: a.behaviour as string,
    severity: a.severity as string,
    tenantId: a.tenantId as string,
    userId: a.userId as string,
    status: a.status as string,
    count: a.count as number,
    firstSeen: a.firstSeen as string,
    lastSeen: a.lastSeen as string,
    summary: a.summary as string,
    tenantName: names.get(a.tenantId as string),
  };
}

function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function tenantNames(db: Kysely<Database>): Promise<Map<string, string>> {
  const rows = await db.selectFrom('tenants').select(['tenant_id', 'name']).execute();
  return new Map(rows.map((r) => [r.tenant_id, r.name]));
}

export function storeAlerts(db: Kysely<Database>): AlertsPort {
  return {
    async list(f) {
      const page = await listAlerts(db, {
        status: f.status as AlertStatus | undefined,
        tenantId: f.tenantId,
        userId: f.userId,
        behaviour: f.behaviour,
        minSeverity: f.severity as Severity | undefined,
        cursor: f.cursor,
        limit: f.limit,
      });
      const names = await tenantNames(db);
      return { items: page.items.map((a) => item(a as unknown as Record<string, unknown> & { id: string }, names)), next: page.next };
    },
    async get(id) {
      const d = await getAlertDetail(db, id, { remediationRuns: (x, alertId) => listRuns(x, { alertId, limit: 50 }) });
      if (!d) return undefined;
      const names = await tenantNames(db);
      const e = d.enrichment;
      // The raw audit records behind the evidence, for "raw JSON" on demand (bounded at ingest).
      const ids = d.evidence.map((x) => x.recordId).slice(0, 200);
      const raws = ids.length
        ? await db.selectFrom('ingest_records').select(['record_id', 'raw_json', 'raw_truncated']).where('tenant_id', '=', d.tenantId).where('record_id', 'in', ids).execute()
        : [];
      const rawOf = new Map(raws.map((r) => [r.record_id, r.raw_truncated ? r.raw_json : parseOr(r.raw_json)]));
      return {
        ...d,
        evidence: d.evidence.map((x) => ({ ...x, raw: rawOf.get(x.recordId) })),
        tenantName: names.get(d.tenantId),
        enrichment: e ? { ip: e.ip, ...(e.geo ?? {}), baselineKnown: e.baselineKnown, newIp: e.newIp, newCountry: e.newCountry, newAsn: e.newAsn } : null,
      };
    },
    async act(id, action, actor, opts) {
      try {
        const o = { actor, note: opts.note };
        if (action === 'ack') return item((await acknowledgeAlert(db, id, o)) as unknown as Record<string, unknown> & { id: string }, await tenantNames(db));
        if (action === 'resolve') return item((await resolveAlert(db, id, o)) as unknown as Record<string, unknown> & { id: string }, await tenantNames(db));
        if (action === 'snooze') return item((await snoozeAlert(db, id, opts.until!, o)) as unknown as Record<string, unknown> & { id: string }, await tenantNames(db));
        return item((await reopenAlert(db, id, o)) as unknown as Record<string, unknown> & { id: string }, await tenantNames(db));
      } catch (e) {
        if (isOperatorError(e) && e.code === 'TW_ALERT_NOT_FOUND') return undefined;
        throw e;
      }
    },
    async version() {
      const r = await db
        .selectFrom('alerts')
        .select([sql<number>`count(*)`.as('n'), sql<string | null>`max(updated_at)`.as('u')])
        .executeTakeFirst();
      return `${r?.n ?? 0}|${r?.u ?? ''}`;
    },
  };
}

export function storeTenants(deps: { db: Kysely<Database>; config: Readonly<Config>; clients?: () => M365Clients; logger?: Logger }): TenantsPort {
  const { db, config } = deps;
  const view = async (tenantId: string): Promise<TenantView | undefined> => {
    const t = await getTenantById(db, tenantId);
    if (!t) return undefined;
    return { ...(reportJson(storedReport(t)) as unknown as TenantView), enabled: t.enabled, defaultDomain: t.defaultDomain, checkedAt: t.healthCheckedAt, trustedIps: t.context?.trustedIps ?? [] };
  };
  const check = async (tenantId: string, mode: 'onboard' | 'health', enableAudit = false) => {
    const t = await getTenantById(db, tenantId);
    if (!t || !deps.clients) return undefined;
    await checkTenant({ db, config, clients: deps.clients(), logger: deps.logger }, t, { mode, enableAudit });
    return view(tenantId);
  };
  return {
    async list() {
      const out: TenantView[] = [];
      for (const t of await listTenants(db)) {
        out.push({ ...(reportJson(storedReport(t)) as unknown as TenantView), enabled: t.enabled, defaultDomain: t.defaultDomain, checkedAt: t.healthCheckedAt, trustedIps: t.context?.trustedIps ?? [] });
      }
      return out;
    },
    ...(deps.clients
      ? {
          check: (id: string) => check(id, 'health'),
          onboard: async (id: string) => ((await check(id, 'onboard')) ?? {}) as Record<string, unknown>,
          enableAuditLog: async (id: string) => ((await check(id, 'onboard', true)) ?? {}) as Record<string, unknown>,
          discover: async () => {
            const r = await discoverTenants({ db, config, graph: deps.clients!().graph, logger: deps.logger });
            const added = await addDiscovered(db, r.tenants.filter(shouldAdd));
            return { discovered: r.tenants.length, added: added.map((t) => t.tenantId), problems: r.problems };
          },
        }
      : {}),
  };
}

export function storeChannels(db: Kysely<Database>, config: Readonly<Config>): ChannelsPort {
  return {
    async sendTest(name) {
      const notify = await readNotifySettings(db, config);
      const spec = notify.channels.find((c) => c.name === name);
      if (!spec) return { ok: false, error: `no channel named ${name}` };
      // The running memory channel (demo) keeps its deliveries; others are built from the saved settings.
      const ch = (spec.type === 'memory' ? memoryInbox(name) : undefined) ?? createChannels({ channels: [spec], routes: [] }).get(name)!;
      const now = new Date().toISOString();
      const r = await sendNow(ch, { key: `test-${Date.now()}`, view: testView(now) });
      return r.ok ? { ok: true } : { ok: false, error: r.error };
    },
  };
}

/** Channel checks of the notify module (per-type schemas), for the settings API. */
export function validateChannel(channel: Record<string, unknown>): string[] {
  return checkChannels({ channels: [channel as never], routes: [] });
}
