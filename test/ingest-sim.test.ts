// Ingest against the real simulator (HTTPS, real token flow, real Management Activity API quirks).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ingestHealth, updateCursor } from '../src/ingest/store.ts';
import { createPoller, type PollReport } from '../src/ingest/poller.ts';
import { silentLogger } from '../src/log.ts';
import { buildIngest, type IngestParts } from '../src/main.ts';
import { startSim, type SimContentType, type StartedSim } from './helpers/sim.ts';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { ALL_TYPES, PARTNER, addTenants, ingestWorld, records, simConfig, storedIds, tenantIds, writeSimConfig } from './helpers/ingest-world.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/tenantwatch.js');

async function setup(sim: StartedSim, store: TestStore, tenants: string[], extra: Record<string, unknown> = {}) {
  const config = simConfig(sim, store.url, extra);
  await addTenants(store.db, tenants);
  const parts = await buildIngest(config, silentLogger());
  const poller = createPoller({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger(), retryBaseMs: 0 });
  return { config, parts, poller };
}

async function close(parts: IngestParts): Promise<void> {
  await parts.http.close();
  await parts.store.close();
}

async function inject(sim: StartedSim, tenant: string, ct: SimContentType, n: number, into: Set<string>): Promise<void> {
  const recs = records(tenant, ct, n);
  const r = await sim.control.injectRecords(tenant, ct, recs);
  expect(r.accepted).toBe(n);
  for (const x of recs) into.add(`${tenant}|${x.Id as string}`);
}

/** Listing windows end at a whole second (the API's time format): let content created this second become listable. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 1100));

describe.each(DIALECTS)('ingest from the simulator on %s', (dialect) => {
  let sim: StartedSim;
  let store: TestStore;
  const tenants = tenantIds(3);
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 3, quirks: { duplicates: 0.6, outOfOrder: true, lateBlobs: 0.3, lateBlobDelaySeconds: 2, pageSize: 2 } }) });
  });
  afterAll(async () => {
    await sim.stop();
  });
  afterEach(async () => {
    await store?.dispose();
  });

  it('ingests every injected record of every tenant and content type exactly once despite duplicates, disorder and late blobs', async () => {
    store = await freshStore(dialect);
    const { parts, poller } = await setup(sim, store, tenants);
    const injected = new Set<string>();
    for (let batch = 0; batch < 3; batch++) for (const t of tenants) for (const ct of ALL_TYPES) await inject(sim, t, ct, 4, injected);
    const reports: PollReport[] = [];
    for (let cycle = 0; cycle < 10; cycle++) {
      reports.push(await poller.pollOnce());
      const ids = await storedIds(store.db);
      if (ids.size >= injected.size && reports.at(-1)!.totals.blobs === 0 && cycle > 0) break;
      await new Promise((r) => setTimeout(r, 1500));
    }
    const ids = await storedIds(store.db);
    expect([...ids.keys()].sort()).toEqual([...injected].sort());
    expect([...ids.values()].every((n) => n === 1)).toBe(true);
    // Each record counted as new exactly once over all cycles; the simulator's repeats were dropped as duplicates.
    expect(reports.reduce((a, r) => a + r.totals.records, 0)).toBe(injected.size);
    expect(reports.reduce((a, r) => a + r.totals.duplicates, 0)).toBeGreaterThan(0);
    expect(reports.reduce((a, r) => a + r.totals.errors, 0)).toBe(0);
    // PublisherIdentifier on every Management Activity API request, blob downloads and next pages included.
    const reqs = (await sim.control.requests()).filter((r) => r.path.includes('/activity/feed/'));
    expect(reqs.some((r) => r.path.includes('nextPage='))).toBe(true);
    expect(reqs.some((r) => r.path.includes('/activity/feed/audit/'))).toBe(true);
    expect(reqs.filter((r) => r.publisher !== PARTNER)).toEqual([]);
    const health = await ingestHealth(store.db);
    expect(health).toHaveLength(tenants.length * ALL_TYPES.length);
    expect(health.every((h) => h.cursor !== null && h.lagSeconds !== null && h.pendingBlobs === 0)).toBe(true);
    await close(parts);
  });
});

describe('two workers on one PostgreSQL', () => {
  let sim: StartedSim;
  let store: TestStore;
  const tenants = tenantIds(4);
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 4, types: ['Audit.Exchange', 'Audit.AzureActiveDirectory'], quirks: { duplicates: 0.5, outOfOrder: true, pageSize: 4 } }) });
  });
  afterAll(async () => {
    await sim.stop();
    await store?.dispose();
  });

  it('share the blobs through the claim rows and process each record exactly once', { timeout: 120_000 }, async () => {
    store = await freshStore('postgres');
    const extra = { microsoft: { contentTypes: ['Audit.Exchange', 'Audit.AzureActiveDirectory'] } };
    const a = await setup(sim, store, tenants, extra);
    const b = await setup(sim, store, tenants, extra);
    const injected = new Set<string>();
    for (let i = 0; i < 4; i++) for (const t of tenants) for (const ct of ['Audit.Exchange', 'Audit.AzureActiveDirectory'] as const) await inject(sim, t, ct, 5, injected);
    await settle();
    const [ra, rb] = await Promise.all([a.poller.pollOnce(), b.poller.pollOnce()]);
    expect(ra.totals.records + rb.totals.records).toBe(injected.size);
    expect(ra.totals.blobs > 0 && rb.totals.blobs > 0).toBe(true);
    const ids = await storedIds(store.db);
    expect(ids.size).toBe(injected.size);
    const fetched = (await sim.control.requests({ path: '/activity/feed/audit/' })).filter((r) => r.status === 200);
    const blobs = await store.db.selectFrom('ingest_blobs').select(['content_id']).execute();
    expect(fetched.length).toBe(blobs.length); // no blob downloaded twice
    await close(a.parts);
    await close(b.parts);
  });
});

describe('ingest under faults from the simulator', () => {
  let sim: StartedSim;
  let store: TestStore;
  // Each test has tenants of its own: the simulator keeps every record injected by the tests before it.
  const [ta, tb, tc, td, te, tf, tg, th, ti, tj] = tenantIds(10) as [string, string, string, string, string, string, string, string, string, string];
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 10, types: ['Audit.Exchange', 'Audit.AzureActiveDirectory'] }) });
  });
  afterAll(async () => {
    await sim.stop();
  });
  afterEach(async () => {
    await sim.control.clearFaults();
    await store?.dispose();
  });
  const only = { microsoft: { contentTypes: ['Audit.Exchange', 'Audit.AzureActiveDirectory'] } };

  it('rides out a 429 storm with Retry-After and loses nothing', async () => {
    store = await freshStore('sqlite');
    const { parts, poller } = await setup(sim, store, [ta], only);
    const injected = new Set<string>();
    await inject(sim, ta, 'Audit.Exchange', 10, injected);
    await settle();
    await sim.control.clearRequests();
    await sim.control.faults({ match: { path: '/activity/feed/', tenantId: ta }, status: 429, retryAfter: 1, count: 4 });
    const report = await poller.pollOnce({ tenants: [ta] });
    expect(report.totals.errors).toBe(0);
    expect((await storedIds(store.db)).size).toBe(10);
    const throttled = (await sim.control.requests()).filter((r) => r.status === 429);
    expect(throttled.length).toBe(4);
    await close(parts);
  });

  it('treats AF429 sent as HTTP 403 as throttling and retries', async () => {
    store = await freshStore('sqlite');
    const { parts, poller } = await setup(sim, store, [tb], only);
    const injected = new Set<string>();
    await inject(sim, tb, 'Audit.AzureActiveDirectory', 7, injected);
    await settle();
    await sim.control.faults({
      match: { path: '/activity/feed/audit/', tenantId: tb },
      status: 403,
      body: { error: { code: 'AF429', message: `Too many requests. Method=GetBlob, PublisherId=${PARTNER}` } },
      count: 2,
    });
    const report = await poller.pollOnce({ tenants: [tb] });
    expect(report.totals.errors).toBe(0);
    const ids = await storedIds(store.db);
    expect([...injected].every((id) => ids.has(id))).toBe(true);
    await close(parts);
  });

  it.each([
    ['a body cut off mid-JSON', { malformedJson: true, count: 1 }, /TW_INGEST_BLOB_MALFORMED/],
    ['a connection cut mid-body on every retry', { truncateBody: true, count: 50 }, /TW_M365_/],
  ] as const)('reports a truncated blob (%s) and fetches it again once it is good', async (_what, fault, code) => {
    store = await freshStore('sqlite');
    const tenant = 'malformedJson' in fault ? tc : tf;
    // Few retries for the cut connection: the point is the report and the later re-fetch, not http.ts's backoff.
    const { parts, poller } = await setup(sim, store, [tenant], { microsoft: { ...only.microsoft, maxRetries: 1 } });
    const injected = new Set<string>();
    await inject(sim, tenant, 'Audit.Exchange', 5, injected);
    await settle();
    await sim.control.faults({ match: { path: '/activity/feed/audit/', tenantId: tenant }, ...fault });
    const first = await poller.pollOnce({ tenants: [tenant] });
    const ex = first.tenants[0]!.contentTypes.find((c) => c.contentType === 'Audit.Exchange')!;
    expect(ex.errors).toBe(1);
    expect(ex.errorMessages.join(' ')).toMatch(code);
    expect((await storedIds(store.db)).size).toBe(0);
    const h = (await ingestHealth(store.db, { tenantId: tenant })).find((x) => x.contentType === 'Audit.Exchange')!;
    expect(h.failedBlobs).toBe(1);
    expect(h.lastError).toMatch(code);
    await sim.control.clearFaults();
    const second = await poller.pollOnce({ tenants: [tenant], ignoreBackoff: true });
    expect(second.totals.records).toBe(5);
    expect(second.totals.errors).toBe(0);
    expect((await storedIds(store.db)).size).toBe(5);
    await close(parts);
  });

  it('counts a tenant whose token stops working and leaves the other tenants untouched', async () => {
    store = await freshStore('sqlite');
    const { parts, poller } = await setup(sim, store, [td, te], only);
    const injected = new Set<string>();
    await inject(sim, td, 'Audit.Exchange', 3, injected);
    await inject(sim, te, 'Audit.Exchange', 3, injected);
    await settle();
    await sim.control.faults({ match: { path: '/oauth2/v2.0/token', tenantId: te }, status: 400, body: { error: 'invalid_client', error_description: 'AADSTS7000222: The provided client secret keys are expired.', error_codes: [7000222] } });
    const report = await poller.pollOnce();
    const r1 = report.tenants.find((t) => t.tenantId === td)!;
    const r2 = report.tenants.find((t) => t.tenantId === te)!;
    expect(r1.contentTypes.reduce((a, c) => a + c.records, 0)).toBe(3);
    expect(r1.contentTypes.reduce((a, c) => a + c.errors, 0)).toBe(0);
    expect(r2.contentTypes.reduce((a, c) => a + c.errors, 0)).toBeGreaterThan(0);
    await close(parts);
  });

  it('catches up after downtime in windows of at most 24 hours', async () => {
    store = await freshStore('sqlite');
    const { parts, poller } = await setup(sim, store, [th], only);
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000 - 3600_000).toISOString();
    await updateCursor(store.db, th, 'Audit.Exchange', { listed_to: threeDaysAgo }, new Date().toISOString());
    const injected = new Set<string>();
    await inject(sim, th, 'Audit.Exchange', 3, injected);
    await settle();
    await sim.control.clearRequests();
    const report = await poller.pollOnce({ tenants: [th] });
    expect(report.totals.records).toBe(3);
    const listings = (await sim.control.requests({ tenant: th, path: 'contentType=Audit.Exchange' })).filter((r) => r.path.includes('startTime='));
    const windows = listings.map((r) => {
      const q = new URL(`https://x${r.path}`).searchParams;
      return [Date.parse(`${q.get('startTime')}Z`), Date.parse(`${q.get('endTime')}Z`)] as const;
    });
    expect(windows.length).toBeGreaterThanOrEqual(4);
    expect(windows.every(([a, b]) => b > a && b - a <= 86_400_000)).toBe(true);
    expect(Math.min(...windows.map(([a]) => a))).toBeLessThanOrEqual(Date.parse(threeDaysAgo));
    await close(parts);
  });

  it('says loudly what fell out of the 7-day retention after a longer outage', async () => {
    store = await freshStore('sqlite');
    const { parts, poller } = await setup(sim, store, [ti], only);
    const nineDaysAgo = new Date(Date.now() - 9 * 86_400_000).toISOString();
    await updateCursor(store.db, ti, 'Audit.Exchange', { listed_to: nineDaysAgo }, new Date().toISOString());
    const report = await poller.pollOnce({ tenants: [ti] });
    const ex = report.tenants[0]!.contentTypes.find((c) => c.contentType === 'Audit.Exchange')!;
    expect(ex.lost?.from).toBe(nineDaysAgo);
    expect(ex.errorMessages.join(' ')).toMatch(/fell out of the 7-day retention/);
    const h = (await ingestHealth(store.db, { tenantId: ti })).find((x) => x.contentType === 'Audit.Exchange')!;
    expect(h.lost?.from).toBe(nineDaysAgo);
    expect(h.cursor! > nineDaysAgo).toBe(true);
    await close(parts);
  });

  it('backs a content type off when Microsoft keeps throttling, and other content types carry on', async () => {
    store = await freshStore('sqlite');
    const { parts, poller } = await setup(sim, store, [tj], { microsoft: { ...only.microsoft, maxRetries: 1 } });
    const injected = new Set<string>();
    await inject(sim, tj, 'Audit.AzureActiveDirectory', 2, injected);
    await settle();
    await sim.control.faults({ match: { path: 'contentType=Audit.Exchange', tenantId: tj }, status: 403, body: { error: { code: 'AF429', message: 'Too many requests. Method=ListContent' } } });
    const first = await poller.pollOnce({ tenants: [tj] });
    const ex = first.tenants[0]!.contentTypes.find((c) => c.contentType === 'Audit.Exchange')!;
    expect(ex.errorMessages.join(' ')).toMatch(/TW_M365_THROTTLED/);
    expect(first.totals.records).toBe(2);
    const h = (await ingestHealth(store.db, { tenantId: tj })).find((x) => x.contentType === 'Audit.Exchange')!;
    expect(h.backoffUntil! > new Date().toISOString()).toBe(true);
    await sim.control.clearRequests();
    const second = await poller.pollOnce({ tenants: [tj] });
    expect(second.tenants[0]!.contentTypes.find((c) => c.contentType === 'Audit.Exchange')!.errorMessages.join(' ')).toMatch(/paused until/);
    expect((await sim.control.requests({ tenant: tj, path: 'contentType=Audit.Exchange' })).length).toBe(0);
    await close(parts);
  });

  it('prints the poll report as contracts §1 JSON from the command line', async () => {
    store = await freshStore('sqlite');
    await addTenants(store.db, [tg]);
    const injected = new Set<string>();
    await inject(sim, tg, 'Audit.Exchange', 4, injected);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-poll-'));
    const cfg = path.join(dir, 'tw.yaml');
    writeSimConfig(cfg, sim, store.url, only);
    const { stdout } = await run(process.execPath, [BIN, '--config', cfg, 'poll', '--json', '--tenant', tg], { timeout: 60_000 });
    const report = JSON.parse(stdout) as { tenants: Array<Record<string, unknown>>; totals: Record<string, unknown> };
    expect(Object.keys(report.totals).sort()).toEqual(['blobs', 'duplicates', 'errors', 'malformed', 'records']);
    expect(report.totals.records).toBe(4);
    const t = report.tenants[0] as { tenantId: string; contentTypes: Array<Record<string, unknown>> };
    expect(t.tenantId).toBe(tg);
    for (const c of t.contentTypes) for (const k of ['contentType', 'blobs', 'records', 'duplicates', 'malformed', 'errors']) expect(c).toHaveProperty(k);
    rmSync(dir, { recursive: true, force: true });
  });
});
