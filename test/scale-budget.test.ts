// The per-tenant request budget: the reservation statement on both dialects, two budget instances (each
// with its own connection pool, as two processes have) sharing one PostgreSQL never letting more than the
// limit through per window — counted at the real simulator — and callers over budget waiting, not failing
// (cluster budget on PostgreSQL, the process budget SQLite uses). Time is a manual clock: a window opens
// only when the test says so, so the counts are exact and nothing depends on the machine's speed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.ts';
import { createM365Http, type M365Http, type RequestBudget } from '../src/m365/http.ts';
import { createManagementApi } from '../src/m365/management-api.ts';
import { createTokenProvider, type TokenProvider } from '../src/m365/token.ts';
import { createClusterBudget, pruneBudget, reserveBudget } from '../src/scale/budget.ts';
import { nowIso, openStore, type Store } from '../src/store/db.ts';
import { startSim, type StartedSim } from './helpers/sim.ts';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { ingestWorld, simConfig, tenantIds } from './helpers/ingest-world.ts';

const WINDOW = 10_000;

/** A clock that moves only when told; sleepers wake when it passes their time. */
function manualClock(start: number) {
  let t = start;
  const sleepers: Array<{ at: number; wake: () => void }> = [];
  return {
    now: () => t,
    sleep: (ms: number) => new Promise<void>((wake) => sleepers.push({ at: t + ms, wake })),
    sleeping: () => sleepers.length,
    advance(ms: number) {
      t += ms;
      for (let i = sleepers.length - 1; i >= 0; i--) if (sleepers[i]!.at <= t) sleepers.splice(i, 1)[0]!.wake();
    },
  };
}

async function waitFor(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Takes `n` requests from the budget, sleeping on the clock when told to wait; resolves with the clock's time of each. */
async function spend(budget: RequestBudget, clock: ReturnType<typeof manualClock>, tenant: string, n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      for (let w = await budget.take(tenant, 'management'); w > 0; w = await budget.take(tenant, 'management')) await clock.sleep(w);
      return clock.now();
    }),
  );
}

describe.each(DIALECTS)('request budget reservations on %s', (dialect) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await freshStore(dialect);
  });
  afterAll(async () => {
    await store.dispose();
  });

  it('grants chunks up to the limit per window × tenant × API, the rest partially, then nothing', async () => {
    const w = '2026-03-01T10:00:00.000Z';
    const r = (tenantId: string, want: number, api = 'management') => ({ windowStart: w, tenantId, api, want });
    expect(await reserveBudget(store.db, [r('t1', 4), r('t2', 4)], 10)).toEqual([4, 4]);
    expect(await reserveBudget(store.db, [r('t1', 4)], 10)).toEqual([4]);
    expect(await reserveBudget(store.db, [r('t1', 4), r('t1', 4, 'graph'), r('t2', 4)], 10)).toEqual([2, 4, 4]);
    expect(await reserveBudget(store.db, [r('t1', 4), r('t2', 4)], 10)).toEqual([0, 2]);
    expect(await reserveBudget(store.db, [{ ...r('t1', 4), windowStart: '2026-03-01T10:00:10.000Z' }], 10)).toEqual([4]);
    const rows = await store.db.selectFrom('request_budget').select(['window_start', 'tenant_id', 'api', 'reserved']).execute();
    expect(rows.every((x) => Number(x.reserved) <= 10)).toBe(true);
    expect(await pruneBudget(store.db, Date.parse('2026-03-01T10:00:10.000Z'))).toBe(3);
    expect(await store.db.selectFrom('request_budget').select('tenant_id').execute()).toHaveLength(1);
  });

  it('two budget instances on their own connections never let more than a window allows through together', async () => {
    const other: Store = await openStore(store.url);
    try {
      const start = Math.ceil(Date.parse('2026-03-02T00:00:00.000Z') / WINDOW) * WINDOW;
      const clock = manualClock(start);
      const opts = { requestsPerMinute: 60, now: clock.now, chunk: 4 }; // 10 per 10-second window
      const a = createClusterBudget({ db: store.db, ...opts });
      const b = createClusterBudget({ db: other.db, ...opts });
      expect(a.perWindow).toBe(10);
      let finished = false;
      const done = Promise.all([spend(a, clock, 't-shared', 25), spend(b, clock, 't-shared', 25)]).then((x) => {
        finished = true;
        return x.flat();
      });
      const usedPerWindow: number[] = [];
      let before = 0;
      while (!finished) {
        // Everyone not let through is asleep until the next window: nothing else can go in this one.
        await waitFor(`window ${usedPerWindow.length}: the rest asleep`, () => finished || clock.sleeping() === 50 - (a.stats.used + b.stats.used));
        const used = a.stats.used + b.stats.used;
        usedPerWindow.push(used - before);
        before = used;
        clock.advance(WINDOW);
        await new Promise((r) => setTimeout(r, 10));
      }
      const times = await done;
      expect(times).toHaveLength(50);
      // Never more than a window allows, together; what a process reserved and did not use expires (a few windows
      // may let fewer through), so 50 requests need at least 5 windows.
      expect(Math.max(...usedPerWindow)).toBeLessThanOrEqual(10);
      expect(usedPerWindow.filter((n) => n > 0).length).toBeGreaterThanOrEqual(5);
      const perWindow = new Map<number, number>();
      for (const t of times) perWindow.set(Math.floor(t / WINDOW), (perWindow.get(Math.floor(t / WINDOW)) ?? 0) + 1);
      expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(10);
      expect(usedPerWindow[0]).toBe(10); // 25 + 25 callers: the first window is used in full
      const rows = await store.db.selectFrom('request_budget').select(['reserved']).where('tenant_id', '=', 't-shared').execute();
      expect(rows.every((x) => Number(x.reserved) <= 10)).toBe(true);
      expect(rows.reduce((n, x) => n + Number(x.reserved), 0)).toBeGreaterThanOrEqual(50);
    } finally {
      await other.close();
    }
  });

  it('reserves for many tenants wanted at once in one statement', async () => {
    const clock = manualClock(Date.parse('2026-03-03T00:00:00.000Z'));
    const budget = createClusterBudget({ db: store.db, requestsPerMinute: 1200, now: clock.now });
    const tenants = Array.from({ length: 200 }, (_, i) => `t-many-${i}`);
    await Promise.all(tenants.map((t) => spend(budget, clock, t, 1)));
    expect(budget.stats.used).toBe(200);
    expect(budget.stats.rows).toBe(200);
    expect(budget.stats.statements).toBe(1);
    // The rest of each chunk is spent without SQL.
    await Promise.all(tenants.map((t) => spend(budget, clock, t, 5)));
    expect(budget.stats.statements).toBe(1);
    const stamp = nowIso(new Date(clock.now()));
    expect((await store.db.selectFrom('request_budget').select('tenant_id').where('window_start', '=', stamp).execute()).length).toBe(200);
  });
});

describe('request budgets in front of the simulator', () => {
  let sim: StartedSim;
  const [tenant] = tenantIds(1) as [string];
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 1, types: ['Audit.Exchange'] }) });
  });
  afterAll(async () => {
    await sim.stop();
  });

  async function listCalls(): Promise<number> {
    return (await sim.control.requests({ tenant, path: '/activity/feed/subscriptions/list' })).length;
  }

  it('PostgreSQL: two processes sharing the cluster budget send at most the window allowance to Microsoft together, and callers over it wait', { timeout: 120_000 }, async () => {
    await sim.control.clearRequests();
    const store = await freshStore('postgres');
    const other = await openStore(store.url);
    const clients: Array<{ http: M365Http; tokens: TokenProvider }> = [];
    try {
      const config = simConfig(sim, store.url, { microsoft: { contentTypes: ['Audit.Exchange'], requestsPerMinutePerTenant: 60, maxRetries: 0 } });
      const clock = manualClock(Math.ceil(Date.now() / WINDOW) * WINDOW);
      const budgets = [store, other].map((s) => createClusterBudget({ db: s.db, requestsPerMinute: config.microsoft.requestsPerMinutePerTenant, now: clock.now, chunk: 3 }));
      const apis = budgets.map((budget) => {
        const tokens = createTokenProvider({ config });
        const http = createM365Http({ config, tokens, budget, now: clock.now, sleep: clock.sleep });
        clients.push({ http, tokens });
        return createManagementApi({ config, http });
      });
      const used = () => budgets[0]!.stats.used + budgets[1]!.stats.used;
      // 2 × 12 listings; the cluster allows 10 per window.
      let finished = false;
      const results = Promise.all(apis.flatMap((api) => Array.from({ length: 12 }, () => api.listSubscriptions(tenant)))).finally(() => (finished = true));
      const perWindow: number[] = [];
      let before = 0;
      while (!finished && perWindow.length < 20) {
        // Quiet: every request let through has reached the simulator, every other caller sleeps until the next window.
        await waitFor(`window ${perWindow.length}`, async () => finished || (clock.sleeping() === 24 - used() && (await listCalls()) === used()));
        const now = await listCalls();
        perWindow.push(now - before);
        before = now;
        clock.advance(WINDOW);
        await new Promise((r) => setTimeout(r, 10));
      }
      const lists = await results;
      expect(lists).toHaveLength(24); // every caller got its answer: waiting, never failing
      expect(await listCalls()).toBe(24);
      expect(perWindow[0]).toBe(10);
      expect(Math.max(...perWindow)).toBeLessThanOrEqual(10);
      const rows = await store.db.selectFrom('request_budget').select(['reserved']).where('tenant_id', '=', tenant).execute();
      expect(rows.every((r) => Number(r.reserved) <= 10)).toBe(true);
    } finally {
      for (const c of clients) {
        await c.http.close();
        await c.tokens.close?.();
      }
      await other.close();
      await store.dispose();
    }
  });

  it('SQLite (one process): the process budget lets a burst through, then callers wait for it to refill', { timeout: 120_000 }, async () => {
    await sim.control.clearRequests();
    const config = simConfig(sim, 'sqlite::memory:', { microsoft: { contentTypes: ['Audit.Exchange'], requestsPerMinutePerTenant: 60, maxRetries: 0 } });
    const clock = manualClock(Date.now());
    const tokens = createTokenProvider({ config });
    const http = createM365Http({ config, tokens, logger: silentLogger(), now: clock.now, sleep: clock.sleep });
    try {
      const api = createManagementApi({ config, http });
      const results = Promise.all(Array.from({ length: 14 }, () => api.listSubscriptions(tenant)));
      // A burst of a sixth of a minute's allowance (10), then one per second.
      await waitFor('the burst at the simulator', async () => (await listCalls()) >= 10);
      await waitFor('the rest waiting', () => clock.sleeping() === 4);
      expect(await listCalls()).toBe(10);
      for (let s = 0; s < 4; s++) {
        clock.advance(1000);
        await waitFor(`request ${11 + s}`, async () => (await listCalls()) >= 11 + s);
      }
      expect(await results).toHaveLength(14);
      expect(await listCalls()).toBe(14);
    } finally {
      await http.close();
      await tokens.close?.();
    }
  });
});
