// Shared by the ingest suites and bench/ingest.ts: a small simulator world with every content type
// subscribed, records with unique Ids, and a tenantwatch configuration pointing at the simulator.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import YAML from 'yaml';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Db } from '../../src/store/db.ts';
import type { SimContentType, StartedSim } from './sim.ts';

export const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
export const CLIENT = '6f1e2d3c-0000-4000-8000-00000000a001';
export const SECRET = 'sim-secret-1';
export const ALL_TYPES: SimContentType[] = ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint', 'Audit.General', 'DLP.All'];

export function tenantIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `2f6c1a7e-0c1d-4c55-9a53-${String(i + 1).padStart(12, '0')}`);
}

export function ingestWorld(opts: { tenants: number; quirks?: Record<string, unknown>; seed?: number; types?: SimContentType[] }): object {
  return {
    app: { clientId: CLIENT, clientSecret: SECRET },
    partner: { tenantId: PARTNER, domain: 'msp.example' },
    tenants: tenantIds(opts.tenants).map((id, i) => ({
      id,
      name: `Tenant ${i + 1}`,
      domains: [`t${i + 1}.example.com`],
      users: [{ upn: `jane@t${i + 1}.example.com` }],
      subscriptions: opts.types ?? ALL_TYPES,
    })),
    seed: opts.seed ?? 7,
    quirks: { duplicates: 0, outOfOrder: false, lateBlobs: 0, pageSize: 100, ...opts.quirks },
  };
}

/** The configuration a tenantwatch process uses against the simulator. */
export function simConfigInput(sim: Pick<StartedSim, 'url' | 'caPath'>, storeUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const u = sim.url;
  const ingest = (extra.ingest ?? {}) as Record<string, unknown>;
  const microsoft = (extra.microsoft ?? {}) as Record<string, unknown>;
  return {
    ...extra,
    microsoft: {
      partnerTenantId: PARTNER,
      clientId: CLIENT,
      clientSecret: SECRET,
      baseUrls: { login: u, management: u, graph: u, exchange: u },
      caFile: sim.caPath,
      contentTypes: ALL_TYPES,
      maxRetries: 6,
      ...microsoft,
    },
    store: { url: storeUrl },
    ingest: { concurrency: 4, perTenantConcurrency: 2, ...ingest },
    log: { level: 'silent' },
  };
}

export function simConfig(sim: Pick<StartedSim, 'url' | 'caPath'>, storeUrl: string, extra: Record<string, unknown> = {}): Readonly<Config> {
  return loadConfig({ env: {}, overrides: simConfigInput(sim, storeUrl, extra) });
}

export function writeSimConfig(file: string, sim: Pick<StartedSim, 'url' | 'caPath'>, storeUrl: string, extra: Record<string, unknown> = {}): void {
  writeFileSync(file, YAML.stringify(simConfigInput(sim, storeUrl, extra)));
}

export async function addTenants(db: Db, ids: string[]): Promise<void> {
  const now = new Date().toISOString();
  for (const [i, id] of ids.entries()) {
    await db
      .insertInto('tenants')
      .values({ tenant_id: id, name: `Tenant ${i + 1}`, default_domain: `t${i + 1}.example.com`, source: 'manual', enabled: 1, added_at: now })
      .onConflict((oc) => oc.column('tenant_id').doNothing())
      .execute();
  }
}

const OPS: Record<SimContentType, { recordType: number; workload: string; operation: string }> = {
  'Audit.AzureActiveDirectory': { recordType: 15, workload: 'AzureActiveDirectory', operation: 'UserLoggedIn' },
  'Audit.Exchange': { recordType: 2, workload: 'Exchange', operation: 'MailItemsAccessed' },
  'Audit.SharePoint': { recordType: 6, workload: 'SharePoint', operation: 'FileAccessed' },
  'Audit.General': { recordType: 52, workload: 'MicrosoftTeams', operation: 'MemberAdded' },
  'DLP.All': { recordType: 11, workload: 'Exchange', operation: 'DlpRuleMatch' },
};

/** `n` benign records of a content type for a tenant, each with a fresh Id. */
export function records(tenantId: string, contentType: SimContentType, n: number): Array<Record<string, unknown>> {
  const o = OPS[contentType];
  const t = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
  return Array.from({ length: n }, () => ({
    Id: randomUUID(),
    CreationTime: t,
    Operation: o.operation,
    OrganizationId: tenantId,
    RecordType: o.recordType,
    UserKey: '10032001A1B2C3D4',
    UserType: 0,
    Version: 1,
    Workload: o.workload,
    ClientIP: '203.0.113.7:51234',
    UserId: `jane@${tenantId.slice(-2)}.example.com`,
    ResultStatus: 'Succeeded',
  }));
}

/** Every record Id stored, per tenant, with how often it is there. */
export async function storedIds(db: Db): Promise<Map<string, number>> {
  const rows = await db.selectFrom('ingest_records').select(['tenant_id', 'record_id']).execute();
  const m = new Map<string, number>();
  for (const r of rows) m.set(`${r.tenant_id}|${r.record_id}`, (m.get(`${r.tenant_id}|${r.record_id}`) ?? 0) + 1);
  return m;
}
