// Fairness on both schedulers (pg-boss on PostgreSQL, in-process on SQLite): tenant A comes back with a
// 7-day backlog (content over the simulator's last 6¾ days, slow to download) and is planned first; while
// it catches up — and is planned and notified again meanwhile — tenants B and C get their new records
// ingested through the other slot. Then A's backlog is complete, each record once. The simulator's clock is
// moved forward by the days of backlog and tenantwatch's poll clock follows it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.ts';
import { buildIngest, type IngestParts } from '../src/main.ts';
import { createPollJobs } from '../src/scale/jobs.ts';
import { bossTarget, startBossScheduler, startLocalScheduler, type Scheduler } from '../src/scale/scheduler.ts';
import { nowIso } from '../src/store/db.ts';
import { startSim, type SimContentType, type StartedSim } from './helpers/sim.ts';
import { freshStore, postgresUrl, type TestStore } from './helpers/stores.ts';
import { addTenants, ingestWorld, records, simConfig, storedIds, tenantIds } from './helpers/ingest-world.ts';

const CT: SimContentType = 'Audit.Exchange';
const HOUR = 3600;
const BACKLOG_BLOBS = 27; // one every 6 hours: 6¾ days
const PER_BLOB = 5;

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each([
  { dialect: 'sqlite' as const, kind: 'in-process' },
  { dialect: 'postgres' as const, kind: 'pg-boss' },
])('fairness of the $kind scheduler ($dialect)', ({ dialect, kind }) => {
  let sim: StartedSim;
  let store: TestStore;
  let parts: IngestParts | undefined;
  let scheduler: Scheduler | undefined;
  const [a, b, c] = tenantIds(3) as [string, string, string];
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 3, types: [CT] }) });
    store = await freshStore(dialect);
    await addTenants(store.db, [a, b, c]);
  });
  afterAll(async () => {
    await scheduler?.stop();
    await parts?.http.close();
    await parts?.store.close();
    if (dialect === 'postgres') {
      const admin = new pg.Client({ connectionString: postgresUrl() });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${bossTarget(store.url).schema} CASCADE`);
      await admin.end();
    }
    await store?.dispose();
    await sim?.stop();
  });

  it('ingests the other tenants\' new records while a tenant catches up a 7-day backlog, and the backlog completely', { timeout: 240_000 }, async () => {
    // A's backlog: a blob every 6 hours of simulated time.
    const start = Date.parse((await sim.control.advanceClock(60)).now);
    const backlogIds: string[] = [];
    for (let i = 0; i < BACKLOG_BLOBS; i++) {
      const recs = records(a, CT, PER_BLOB);
      await sim.control.injectRecords(a, CT, recs);
      for (const r of recs) backlogIds.push(`${a}|${r.Id as string}`);
      await sim.control.advanceClock(6 * HOUR);
    }
    const simNow = Date.parse((await sim.control.advanceClock(60)).now);
    const offset = simNow - Date.now();
    const clock = () => new Date(Date.now() + offset);
    // B and C: new records, and cursors polled a minute ago. A: last listed before its backlog, polled longest ago.
    const newIds: string[] = [];
    for (const t of [b, c]) {
      const recs = records(t, CT, 3);
      await sim.control.injectRecords(t, CT, recs);
      for (const r of recs) newIds.push(`${t}|${r.Id as string}`);
    }
    const cursor = (t: string, listedTo: number, polledAt: number) => ({
      tenant_id: t,
      content_type: CT,
      listed_to: nowIso(new Date(listedTo)),
      last_poll_at: nowIso(new Date(polledAt)),
      backoff_level: 0,
      updated_at: nowIso(new Date(polledAt)),
    });
    await store.db
      .insertInto('ingest_cursors')
      .values([cursor(a, start - 30_000, start), cursor(b, simNow - 120_000, simNow - 60_000), cursor(c, simNow - 120_000, simNow - 60_000)])
      .execute();
    // A's blobs are slow to download; its listing is not.
    await sim.control.faults({ match: { tenantId: a, path: '/activity/feed/audit/' }, delayMs: 400 });
    // Listings end at a whole second: let the second of the injections pass.
    await new Promise((r) => setTimeout(r, 1100));

    const config = simConfig(sim, store.url, { microsoft: { contentTypes: [CT] }, ingest: { concurrency: 2, perTenantConcurrency: 1, overlapMinutes: 10 } });
    parts = await buildIngest(config, silentLogger());
    const jobs = createPollJobs({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger(), now: clock });
    const opts = { db: parts.store.db, config, logger: silentLogger(), jobs, role: 'worker', plan: false };
    scheduler = dialect === 'postgres' ? await startBossScheduler({ ...opts, url: store.url }) : startLocalScheduler(opts);
    expect(scheduler.kind).toBe(kind);

    // A is polled first (a notification, or the stalest key of a cycle) and starts catching up in one slot.
    await scheduler.enqueue([{ tenantId: a, contentType: CT }]);
    await waitFor('A catching up', async () => (await store.db.selectFrom('ingest_blobs').select('content_id').where('tenant_id', '=', a).execute()).length > 0);
    // Meanwhile A is notified again, then a cycle is planned (A first again: stalest). Either would hand A the
    // second slot too if a key could run twice at once, and B and C would wait for the whole backlog.
    await scheduler.enqueue([{ tenantId: a, contentType: CT }]);
    await scheduler.planNow();
    await waitFor('B and C ingested', async () => {
      const ids = await storedIds(store.db);
      return newIds.every((k) => ids.get(k) === 1);
    });
    const ids = await storedIds(store.db);
    const caughtUp = backlogIds.filter((k) => ids.has(k)).length;
    // One slot for A: B and C go through the other long before A's backlog (27 downloads one after the other) is
    // half done. Had A taken both slots, B and C would only have started near its end.
    expect(caughtUp, 'A is still catching up when B and C are done').toBeLessThanOrEqual(backlogIds.length / 2);

    await waitFor('A caught up', async () => {
      const now = await storedIds(store.db);
      return backlogIds.every((k) => now.get(k) === 1);
    }, 180_000);
    await scheduler.idle();
    const after = await storedIds(store.db);
    expect(backlogIds.every((k) => after.get(k) === 1)).toBe(true);
    expect([...after.keys()].filter((k) => k.startsWith(a)).length).toBe(BACKLOG_BLOBS * PER_BLOB);
    const lost = await store.db.selectFrom('ingest_cursors').select(['lost_from']).where('tenant_id', '=', a).executeTakeFirstOrThrow();
    expect(lost.lost_from).toBeNull();
  });
});
