// Tenants against the real simulator over HTTPS through MSAL: discovery (active, expired, missing GDAP), onboarding a
// mixed world (consented, unconsented, audit off, throttled, failing), health, token caching, Retry-After, AF429 as
// 403, certificate and secret credentials, domain resolution, and the CLI's output carrying no secret.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSim, type StartedSim } from '../../test/helpers/sim.ts';
import { freshStore, type TestStore } from '../../test/helpers/stores.ts';
import { configSchema, type Config } from '../config.ts';
import { createM365Clients, type M365Clients } from '../m365/clients.ts';
import { resolveTenantIdByDomain } from '../m365/token.ts';
import { loadTenantContext } from './context.ts';
import { addDiscovered, discoverTenants } from './discovery.ts';
import { renderReports, reportJson } from './format.ts';
import { CHECKS, checkTenants, type TenantReport } from './onboard.ts';
import { refreshTenantContexts, startContextRefresh } from './refresh.ts';
import { addTenant, getTenantById, listTenants, setTenantEnabled } from './registry.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
const CLIENT_ID = '6f1e2d3c-0000-4000-8000-00000000a001';
const SECRET = 'sim-secret-Zq8v4Lr2';
const T = {
  contoso: '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11',
  fabrikam: '3f2b6c1e-7a41-4d0b-9c55-2e8f1a7b9d10',
  northwind: '4a4a4a4a-0000-4000-8000-000000000004',
  tailspin: '5b5b5b5b-0000-4000-8000-000000000005',
  woodgrove: '6c6c6c6c-0000-4000-8000-000000000006',
};

async function cert(dir: string, name: string): Promise<{ certPath: string; bundlePath: string }> {
  const key = path.join(dir, `${name}.key`);
  const crt = path.join(dir, `${name}.crt`);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', `/CN=${name}`], { timeout: 60_000 });
  const bundlePath = path.join(dir, `${name}.pem`);
  writeFileSync(bundlePath, readFileSync(key, 'utf8') + readFileSync(crt, 'utf8'));
  return { certPath: crt, bundlePath };
}

const user = (upn: string) => ({ upn, displayName: upn.split('@')[0] });

let sim: StartedSim;
let dir: string;
let appCert: { certPath: string; bundlePath: string };
let strangerCert: { certPath: string; bundlePath: string };

function configFor(microsoft: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): Readonly<Config> {
  return configSchema.parse({
    microsoft: {
      partnerTenantId: PARTNER,
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url },
      caFile: sim.caPath,
      maxRetries: 3,
      ...microsoft,
    },
    ...rest,
  });
}

/** Clients whose waits are recorded instead of slept (Retry-After and backoff are asserted, not timed). */
function clientsFor(config: Readonly<Config>): { clients: M365Clients; waits: number[] } {
  const waits: number[] = [];
  const clients = createM365Clients(config, {
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  return { clients, waits };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tw-tenants-sim-'));
  [appCert, strangerCert] = await Promise.all([cert(dir, 'app'), cert(dir, 'stranger')]);
  sim = await startSim({
    world: {
      app: { clientId: CLIENT_ID, clientSecret: SECRET, certificate: appCert.certPath },
      partner: { tenantId: PARTNER, domain: 'msp.example' },
      tenants: [
        { id: T.contoso, name: 'Contoso Ltd', domains: ['contoso.com', 'contoso.onmicrosoft.com'], consented: true, gdap: 'active', auditLogEnabled: true, users: [user('jane@contoso.com')] },
        { id: T.fabrikam, name: 'Fabrikam', domains: ['fabrikam.example'], consented: false, gdap: 'expired', auditLogEnabled: true, users: [user('ann@fabrikam.example')] },
        { id: T.northwind, name: 'Northwind', domains: ['northwind.example'], consented: true, gdap: 'none', auditLogEnabled: false, users: [user('bo@northwind.example')] },
        { id: T.tailspin, name: 'Tailspin', domains: ['tailspin.example'], consented: true, gdap: 'active', auditLogEnabled: true, users: [user('cy@tailspin.example')] },
        { id: T.woodgrove, name: 'Woodgrove', domains: ['woodgrove.example'], consented: true, gdap: 'active', auditLogEnabled: true, users: [user('di@woodgrove.example')] },
      ],
    },
  });
}, 180_000);

afterAll(async () => {
  await sim?.stop();
});

describe('tenants against m365-sim', () => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore('sqlite');
    await sim.control.clearFaults();
  });
  afterEach(async () => {
    await store.dispose();
  });

  it('discovers customers with active, expired and missing GDAP relationships and adds only the watchable ones', async () => {
    const config = configFor();
    const { clients } = clientsFor(config);
    try {
      const r = await discoverTenants({ db: store.db, config, graph: clients.graph });
      expect(r.problems).toEqual([]);
      const by = Object.fromEntries(r.tenants.map((t) => [t.tenantId, t]));
      expect(by[T.contoso]).toMatchObject({ name: 'Contoso Ltd', gdap: 'active', registered: false });
      expect(by[T.fabrikam]).toMatchObject({ gdap: 'expired' });
      expect(by[T.northwind]).toMatchObject({ gdap: 'none', contract: true });
      const added = await addDiscovered(store.db, r.tenants);
      expect(added.map((t) => t.tenantId).sort()).toEqual([T.contoso, T.northwind, T.tailspin, T.woodgrove].sort());
      expect(await getTenantById(store.db, T.fabrikam)).toBeUndefined();
      // Idempotent: a second discovery sees them registered and adds nothing.
      const again = await discoverTenants({ db: store.db, config, graph: clients.graph });
      expect(await addDiscovered(store.db, again.tenants)).toEqual([]);
      expect(again.tenants.find((t) => t.tenantId === T.contoso)?.registered).toBe(true);
    } finally {
      await clients.close();
    }
  });

  it('onboards a mixed world with one row per tenant and the exact result of every check', async () => {
    for (const id of Object.values(T)) await addTenant(store.db, { tenantId: id, source: 'manual' });
    // Tailspin: Exchange throttles twice with Retry-After 1; Woodgrove: Exchange answers 500 every time.
    await sim.control.faults({ match: { path: '/adminapi/', tenantId: T.tailspin }, status: 429, retryAfter: 1, count: 2 });
    await sim.control.faults({ match: { path: '/adminapi/', tenantId: T.woodgrove }, status: 500, count: 1000 });
    const config = configFor();
    const { clients, waits } = clientsFor(config);
    let reports: TenantReport[];
    try {
      reports = await checkTenants({ db: store.db, config, clients }, await listTenants(store.db), { mode: 'onboard' });
    } finally {
      await clients.close();
    }
    const matrix = Object.fromEntries(reports.map((r) => [r.name, CHECKS.map((c) => (r.checks[c].ok ? '✓' : '✗')).join('')]));
    // columns: token directory acceptedDomains recipients auditLog subscriptions
    expect(matrix).toEqual({
      'Contoso Ltd': '✓✓✓✓✓✓',
      [T.fabrikam]: '✗✗✗✗✗✗',
      Northwind: '✓✓✓✓✗✗',
      Tailspin: '✓✓✓✓✓✓',
      Woodgrove: '✓✓✗✗✗✓',
    });
    const byName = Object.fromEntries(reports.map((r) => [r.name, r]));
    expect(byName[T.fabrikam]!.checks.token).toMatchObject({ ok: false, reason: 'admin consent missing [AADSTS700016]', upstreamCode: 'AADSTS700016' });
    expect(byName[T.fabrikam]!.checks.token.fix).toBe(`admin consent missing: open ${sim.url}/${T.fabrikam}/adminconsent?client_id=${CLIENT_ID}`);
    expect(byName[T.fabrikam]!.checks.auditLog.reason).toBe('skipped: no token');
    expect(byName.Northwind!.checks.auditLog).toEqual({ ok: false, reason: 'unified audit log is off', fix: `run \`tenantwatch tenants onboard ${T.northwind} --enable-audit\`` });
    expect(byName.Northwind!.checks.subscriptions.reason).toMatch(/^audit log off/);
    expect(byName.Woodgrove!.checks.acceptedDomains.reason).toBe('Microsoft failed (HTTP 500) [InternalServerError]');
    expect(byName['Contoso Ltd']!.checks.subscriptions.reason).toBe('3/3 enabled (3 started now)');
    expect(reports.map((r) => r.healthy)).toEqual(reports.map((r) => r.name === 'Contoso Ltd' || r.name === 'Tailspin'));
    // Tailspin's throttling was waited out as Microsoft asked (Retry-After: 1 → 1000 ms, twice).
    expect(waits.filter((w) => w === 1000)).toHaveLength(2);

    // Context: known where accepted domains loaded; unknown (never guessed) where Exchange failed.
    const contoso = await loadTenantContext(store.db, T.contoso);
    expect(contoso.known).toBe(true);
    expect(contoso.acceptedDomains.map((d) => d.domain).sort()).toEqual(['contoso.com', 'contoso.onmicrosoft.com']);
    expect(contoso.recipients.length).toBeGreaterThan(0);
    expect(await loadTenantContext(store.db, T.woodgrove)).toMatchObject({ known: false, acceptedDomains: [] });

    // The table: one row per tenant, one column per check.
    const table = renderReports(reports);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^tenant\s+name\s+token\s+directory\s+acceptedDomains\s+recipients\s+auditLog\s+subscriptions$/);
    for (const r of reports) expect(lines.filter((l) => l.startsWith(r.tenantId))).toHaveLength(1);
    expect(table).toContain(`/ token: admin consent missing: open ${sim.url}/${T.fabrikam}/adminconsent?client_id=${CLIENT_ID}`);
    expect(table).toContain('2/5 tenant(s) healthy');
  });

  it('is idempotent and turns the audit log on only with --enable-audit', async () => {
    await addTenant(store.db, { tenantId: T.contoso, source: 'manual' });
    await addTenant(store.db, { tenantId: T.northwind, source: 'manual' });
    const config = configFor();
    const { clients } = clientsFor(config);
    try {
      const first = await checkTenants({ db: store.db, config, clients }, await listTenants(store.db), { mode: 'onboard' });
      expect(first.find((r) => r.tenantId === T.northwind)!.checks.auditLog.ok).toBe(false);
      expect((await sim.control.state(T.northwind)).auditConfig.unifiedAuditLogIngestionEnabled).toBe(false);

      const second = await checkTenants({ db: store.db, config, clients }, await listTenants(store.db), { mode: 'onboard', enableAudit: true });
      const nw = second.find((r) => r.tenantId === T.northwind)!;
      expect(nw.checks.auditLog).toEqual({ ok: true, reason: 'turned on now (Microsoft takes up to 60 minutes)' });
      expect((await sim.control.state(T.northwind)).auditConfig.unifiedAuditLogIngestionEnabled).toBe(true);
      expect(nw.checks.subscriptions.fix).toBe(`the audit log was just turned on; run \`tenantwatch tenants onboard ${T.northwind}\` again in an hour`);
      const c2 = second.find((r) => r.tenantId === T.contoso)!;
      expect(c2.checks.subscriptions).toMatchObject({ ok: true, reason: '3/3 enabled' });
      expect(await listTenants(store.db)).toHaveLength(2);
    } finally {
      await clients.close();
    }
  });

  it('checks health read-only and in the machine-readable shape', async () => {
    await addTenant(store.db, { tenantId: T.northwind, source: 'manual' });
    await sim.control.config(T.northwind, { auditLogEnabled: false });
    const config = configFor();
    const { clients } = clientsFor(config);
    try {
      const [r] = await checkTenants({ db: store.db, config, clients }, await listTenants(store.db), { mode: 'health', enableAudit: true });
      expect(r!.checks.auditLog.ok).toBe(false);
      const json = reportJson(r!);
      expect(Object.keys(json)).toEqual(['tenantId', 'name', 'healthy', 'checks']);
      expect(json).toMatchObject({ tenantId: T.northwind, name: 'Northwind', healthy: false });
      for (const c of ['token', 'auditLog', 'subscriptions']) expect(Object.keys((json.checks as Record<string, object>)[c]!)).toEqual(expect.arrayContaining(['ok', 'reason', 'fix']));
      // Health never switches anything on, even when asked to.
      expect((await sim.control.state(T.northwind)).auditConfig.unifiedAuditLogIngestionEnabled).toBe(false);
      const [again] = await checkTenants({ db: store.db, config, clients }, await listTenants(store.db), { mode: 'health' });
      expect(again!.checks.auditLog.ok).toBe(false);
    } finally {
      await clients.close();
    }
  });

  it('refreshes contexts on demand and on a schedule, skipping disabled tenants', async () => {
    await addTenant(store.db, { tenantId: T.contoso, source: 'manual' });
    await addTenant(store.db, { tenantId: T.tailspin, source: 'manual' });
    await setTenantEnabled(store.db, T.tailspin, false);
    const config = configFor();
    const { clients } = clientsFor(config);
    const refresher = startContextRefresh({ db: store.db, config, clients }, { initialDelayMs: 3_600_000 });
    try {
      expect((await loadTenantContext(store.db, T.contoso)).known).toBe(false);
      const reports = await refresher.runNow();
      expect(reports.map((r) => r.tenantId)).toEqual([T.contoso]);
      expect((await loadTenantContext(store.db, T.contoso)).known).toBe(true);
      expect((await loadTenantContext(store.db, T.tailspin)).known).toBe(false);
      await setTenantEnabled(store.db, T.tailspin, true);
      expect((await refreshTenantContexts({ db: store.db, config, clients }, { tenantIds: [T.tailspin] })).map((r) => r.tenantId)).toEqual([T.tailspin]);
      expect((await loadTenantContext(store.db, T.tailspin)).acceptedDomains.map((d) => d.domain)).toContain('tailspin.example');
    } finally {
      await refresher.stop();
      await clients.close();
    }
  });

  it('marks a tenant unknown when its accepted domains can no longer be loaded', async () => {
    await addTenant(store.db, { tenantId: T.tailspin, source: 'manual' });
    const config = configFor();
    const { clients } = clientsFor(config);
    try {
      await checkTenants({ db: store.db, config, clients }, await listTenants(store.db), { mode: 'health' });
      expect((await loadTenantContext(store.db, T.tailspin)).known).toBe(true);
      await sim.control.faults({ match: { path: '/adminapi/', tenantId: T.tailspin }, status: 403, count: 1000, body: { error: { code: 'Forbidden', message: 'The role assigned to application isn\'t supported in this scenario.' } } });
      const [r] = await checkTenants({ db: store.db, config, clients }, await listTenants(store.db), { mode: 'health' });
      expect(r!.healthy).toBe(false);
      expect(r!.checks.acceptedDomains).toMatchObject({ ok: false, reason: 'permission missing (HTTP 403) [Forbidden]' });
      expect(await loadTenantContext(store.db, T.tailspin)).toMatchObject({ known: false, acceptedDomains: [] });
    } finally {
      await clients.close();
    }
  });

  it('asks for one token per tenant and resource however many calls it makes', async () => {
    await addTenant(store.db, { tenantId: T.contoso, source: 'manual' });
    await addTenant(store.db, { tenantId: T.tailspin, source: 'manual' });
    await sim.control.clearRequests();
    const config = configFor();
    const { clients } = clientsFor(config);
    try {
      for (let i = 0; i < 3; i++) await checkTenants({ db: store.db, config, clients }, await listTenants(store.db), { mode: 'health' });
    } finally {
      await clients.close();
    }
    const tokenPosts = (await sim.control.requests({ path: '/oauth2/v2.0/token', method: 'POST' })).filter((e) => e.status === 200);
    const counts: Record<string, number> = {};
    for (const e of tokenPosts) counts[`${e.tenant}|${e.resource}`] = (counts[`${e.tenant}|${e.resource}`] ?? 0) + 1;
    expect(Object.values(counts)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Object.keys(counts)).toHaveLength(6);
  });

  it('retries a 429 after the Retry-After Microsoft gave, and AF429 that arrives as HTTP 403', async () => {
    const config = configFor();
    const { clients, waits } = clientsFor(config);
    try {
      await sim.control.clearRequests();
      await sim.control.faults({ match: { path: '/v1.0/organization', tenantId: T.contoso }, status: 429, retryAfter: 2, count: 1 });
      const org = await clients.graph.organization(T.contoso);
      expect(org.displayName).toBe('Contoso Ltd');
      expect(waits).toContain(2000);
      const hits = await sim.control.requests({ path: '/v1.0/organization', tenant: T.contoso });
      expect(hits.map((h) => h.status)).toEqual([429, 200]);

      await sim.control.faults({
        match: { path: '/subscriptions/list', tenantId: T.contoso },
        status: 403,
        count: 1,
        body: { error: { code: 'AF429', message: `Too many requests. Method=ListSubscriptions, PublisherId=${PARTNER}` } },
      });
      const subs = await clients.management.listSubscriptions(T.contoso);
      expect(Array.isArray(subs)).toBe(true);
      expect(clients.http.stats.throttled).toBe(2);
    } finally {
      await clients.close();
    }
  });

  it('gives up on a tenant that keeps failing with a coded error carrying the status', async () => {
    const config = configFor();
    const { clients, waits } = clientsFor(config);
    try {
      await sim.control.faults({ match: { path: '/v1.0/domains', tenantId: T.contoso }, status: 503, count: 100 });
      await expect(clients.graph.domains(T.contoso)).rejects.toMatchObject({ code: 'TW_M365_UPSTREAM_FAILED', status: 503 });
      // 1 try + 3 retries (microsoft.maxRetries), with growing backoff between them.
      expect(waits).toHaveLength(3);
    } finally {
      await clients.close();
    }
  });

  it('signs in with the certificate (PEM with key and certificate) and refuses an unknown certificate or secret', async () => {
    const good = clientsFor(configFor({ clientSecret: undefined, certificateFile: appCert.bundlePath }));
    const stranger = clientsFor(configFor({ clientSecret: undefined, certificateFile: strangerCert.bundlePath }));
    const wrongSecret = clientsFor(configFor({ clientSecret: 'not-the-secret' }));
    try {
      expect((await good.clients.graph.organization(T.contoso)).id).toBe(T.contoso);
      await expect(stranger.clients.tokens.getToken(T.contoso, 'graph')).rejects.toMatchObject({ code: 'TW_M365_CREDENTIAL_REFUSED', upstreamCode: 'AADSTS700027' });
      await expect(wrongSecret.clients.tokens.getToken(T.contoso, 'graph')).rejects.toMatchObject({ code: 'TW_M365_CREDENTIAL_REFUSED', upstreamCode: 'AADSTS7000215' });
    } finally {
      await Promise.all([good.clients.close(), stranger.clients.close(), wrongSecret.clients.close()]);
    }
  });

  it('resolves a verified domain to its tenant id and refuses an unknown one', async () => {
    const config = configFor();
    expect(await resolveTenantIdByDomain(config, 'contoso.com')).toBe(T.contoso);
    await expect(resolveTenantIdByDomain(config, 'nobody-here.example')).rejects.toMatchObject({ code: 'TW_M365_TENANT_NOT_FOUND' });
  });

  it('prints the onboarding table and health JSON from the CLI without any secret or token', async () => {
    const cfgPath = path.join(dir, 'tenantwatch.yaml');
    const dbPath = path.join(mkdtempSync(path.join(os.tmpdir(), 'tw-cli-')), 'tw.db');
    writeFileSync(
      cfgPath,
      JSON.stringify({
        microsoft: { partnerTenantId: PARTNER, clientId: CLIENT_ID, clientSecret: SECRET, baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url }, caFile: sim.caPath, maxRetries: 1 },
        store: { url: `sqlite:${dbPath}` },
        log: { level: 'debug' },
      }),
    );
    const cli = async (...args: string[]) => {
      try {
        const r = await run(process.execPath, [path.join(ROOT, 'bin/tenantwatch.js'), '--config', cfgPath, ...args], { timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        const x = e as { code: number; stdout: string; stderr: string };
        return { code: x.code, stdout: x.stdout, stderr: x.stderr };
      }
    };
    const bad = await cli('tenants', 'add', 'not a tenant');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('TW_TENANT_ID_INVALID');
    expect((await cli('tenants', 'add', T.contoso)).stdout).toContain(`added ${T.contoso}`);
    expect((await cli('tenants', 'add', 'fabrikam.example')).stdout).toContain(`added ${T.fabrikam}`);
    const unknown = await cli('tenants', 'add', 'nobody-here.example');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('TW_TENANT_UNRESOLVED');
    const onboard = await cli('tenants', 'onboard', '--all');
    expect(onboard.code).toBe(1);
    expect(onboard.stdout).toMatch(new RegExp(`^${T.contoso}\\s+Contoso Ltd\\s+✓`, 'm'));
    expect(onboard.stdout).toContain('admin consent missing [AADSTS700016]');
    const health = await cli('tenants', 'health', '--json');
    const parsed = JSON.parse(health.stdout) as Array<{ tenantId: string; healthy: boolean; checks: Record<string, { ok: boolean }> }>;
    expect(parsed.map((t) => [t.tenantId, t.healthy])).toEqual([
      [T.contoso, true],
      [T.fabrikam, false],
    ]);
    const list = await cli('tenants', 'list', '--json');
    expect(JSON.parse(list.stdout)).toHaveLength(2);
    const consent = await cli('tenants', 'consent-url', 'fabrikam.example');
    expect(consent.stdout.trim()).toBe(`${sim.url}/fabrikam.example/adminconsent?client_id=${CLIENT_ID}`);
    for (const out of [onboard, health, list, bad]) {
      const all = out.stdout + out.stderr;
      expect(all).not.toContain(SECRET);
      expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./);
      expect(all).not.toMatch(/PRIVATE KEY/);
    }
  }, 240_000);
});
