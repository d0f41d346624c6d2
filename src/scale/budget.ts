// The cluster-wide per-tenant request budget (PostgreSQL, several processes). Microsoft throttles the
// Management Activity API per tenant and publisher (2,000 requests/minute baseline, m365-api.md §2.5);
// microsoft.requestsPerMinutePerTenant is our own limit below it, and here it holds for all processes
// together, not per process.
//
// Time is cut into windows of BUDGET_WINDOW_MS (10 s) aligned to the epoch; each window allows
// floor(limit × 10 s / 60 s) requests per tenant × API to the whole cluster. A process reserves requests in
// chunks (one row per window × tenant × API in `request_budget`, an INSERT … ON CONFLICT DO UPDATE that
// refuses beyond the window's allowance and says with RETURNING what it granted) and spends them locally
// without SQL. When a window is used up the caller waits for the next one; what a process reserved and did
// not use expires with its window.
//
// Cost: the first request of a tenant × API in a window costs one reservation; reservations wanted at the
// same time by concurrent jobs go out as ONE multi-row statement (group commit: while a statement is in
// flight, the next batch gathers), so a poll cycle over thousands of tenants adds a fraction of a statement
// per tenant. Every request is covered by a reservation in the table, so the guarantee holds for any number
// of processes (a free local allowance would have needed a known, fixed number of processes).
import { sql, type Kysely } from 'kysely';
import { OperatorError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { RequestBudget } from '../m365/http.ts';
import { nowIso } from '../store/db.ts';
import type { Database } from '../store/schema.ts';

/** The length of a budget window. 60 s is a whole number of windows, so every calendar minute stays within the limit too. */
export const BUDGET_WINDOW_MS = 10_000;

export interface Reservation {
  /** ISO start of the window. */
  windowStart: string;
  tenantId: string;
  api: string;
  want: number;
}

/**
 * One statement for many rows: reserves up to `want` requests per window × tenant × API, never beyond
 * `limit` per row; answers what each row got, in the order given (0 when its window is used up).
 */
export async function reserveBudget(db: Kysely<Database>, rows: Reservation[], limit: number): Promise<number[]> {
  if (!rows.length) return [];
  // A consistent order (rows lock in it) keeps two processes' multi-row statements from deadlocking; one row per key.
  const byKey = new Map<string, Reservation>();
  for (const r of rows) {
    const k = `${r.windowStart}|${r.tenantId}|${r.api}`;
    const prev = byKey.get(k);
    byKey.set(k, prev ? { ...prev, want: prev.want + r.want } : r);
  }
  const unique = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  const lim = sql.lit(Math.max(0, Math.floor(limit)));
  const returned = await db
    .insertInto('request_budget')
    .values(
      unique.map((r) => {
        const n = Math.max(0, Math.min(Math.floor(r.want), Math.floor(limit)));
        return { window_start: r.windowStart, tenant_id: r.tenantId, api: r.api, reserved: n, last_grant: n };
      }),
    )
    .onConflict((oc) =>
      oc
        .columns(['window_start', 'tenant_id', 'api'])
        // Both right-hand sides read the row as it was: what is left is granted, up to what was asked.
        .doUpdateSet({
          reserved: sql<number>`CASE WHEN request_budget.reserved + excluded.reserved > ${lim} THEN ${lim} ELSE request_budget.reserved + excluded.reserved END`,
          last_grant: sql<number>`CASE WHEN request_budget.reserved + excluded.reserved > ${lim} THEN ${lim} - request_budget.reserved ELSE excluded.reserved END`,
        })
        .where('request_budget.reserved', '<', limit),
    )
    .returning(['window_start', 'tenant_id', 'api', 'last_grant'])
    .execute();
  const granted = new Map<string, number>();
  for (const r of returned) granted.set(`${r.window_start}|${r.tenant_id}|${r.api}`, Number(r.last_grant));
  const share = new Map<string, number>();
  return rows.map((r) => {
    // Duplicated keys (not expected from the budget below) share the grant in order.
    const k = `${r.windowStart}|${r.tenantId}|${r.api}`;
    const left = share.has(k) ? share.get(k)! : (granted.get(k) ?? 0);
    const g = Math.min(left, r.want);
    share.set(k, left - g);
    return g;
  });
}

/** Deletes windows that ended before `before` (epoch ms). */
export async function pruneBudget(db: Kysely<Database>, before: number): Promise<number> {
  const r = await db.deleteFrom('request_budget').where('window_start', '<', nowIso(new Date(before))).executeTakeFirst();
  return Number(r.numDeletedRows ?? 0);
}

export interface ClusterBudgetOptions {
  db: Kysely<Database>;
  /** microsoft.requestsPerMinutePerTenant: the whole cluster's limit per tenant × API. */
  requestsPerMinute: number;
  logger?: Logger;
  now?: () => number;
  /** Window length (default BUDGET_WINDOW_MS; tests use shorter ones). */
  windowMs?: number;
  /** Requests reserved per statement and key (default a eighth of a window's allowance, 1–25). */
  chunk?: number;
  /** Rows per reservation statement (default 500). */
  maxRows?: number;
  /** Consecutive failed reservation statements after which take() throws (default 5; it waits before). */
  maxFailures?: number;
}

export interface ClusterBudget extends RequestBudget {
  /** Requests one window allows per tenant × API, cluster-wide. */
  readonly perWindow: number;
  readonly windowMs: number;
  readonly stats: { statements: number; rows: number; granted: number; used: number; waits: number; failures: number };
}

interface KeyState {
  window: number;
  left: number;
  /** The cluster has nothing left for this key in this window. */
  full: boolean;
  pending?: Promise<void>;
}

interface Waiting {
  tenantId: string;
  api: string;
  state: KeyState;
  want: number;
  resolve(): void;
  reject(e: unknown): void;
}

export function createClusterBudget(o: ClusterBudgetOptions): ClusterBudget {
  const now = o.now ?? Date.now;
  const logger = o.logger ?? silentLogger();
  const windowMs = o.windowMs ?? BUDGET_WINDOW_MS;
  const perWindow = Math.max(1, Math.floor((o.requestsPerMinute * windowMs) / 60_000));
  const chunk = Math.max(1, Math.min(perWindow, o.chunk ?? Math.min(25, Math.floor(perWindow / 8))));
  const maxRows = o.maxRows ?? 500;
  const maxFailures = o.maxFailures ?? 5;
  const states = new Map<string, KeyState>();
  const queue = new Map<string, Waiting>();
  const stats = { statements: 0, rows: 0, granted: 0, used: 0, waits: 0, failures: 0 };
  let flushing = false;
  let failuresInARow = 0;
  let lastPrune = 0;

  async function flush(): Promise<void> {
    try {
      while (queue.size) {
        const batch: Waiting[] = [];
        for (const [k, w] of queue) {
          queue.delete(k);
          batch.push(w);
          if (batch.length >= maxRows) break;
        }
        try {
          const grants = await reserveBudget(
            o.db,
            batch.map((w) => ({ windowStart: nowIso(new Date(w.state.window)), tenantId: w.tenantId, api: w.api, want: w.want })),
            perWindow,
          );
          stats.statements++;
          stats.rows += batch.length;
          failuresInARow = 0;
          batch.forEach((w, i) => {
            const g = grants[i] ?? 0;
            stats.granted += g;
            w.state.left += g;
            w.state.full = g < w.want;
            w.state.pending = undefined;
            w.resolve();
          });
        } catch (e) {
          stats.failures++;
          failuresInARow++;
          logger.warn({ err: ((e as Error)?.message ?? String(e)).slice(0, 300), keys: batch.length }, 'reserving request budget failed');
          for (const w of batch) {
            w.state.pending = undefined;
            w.reject(e);
          }
        }
      }
    } finally {
      flushing = false;
    }
  }

  function reserve(tenantId: string, api: string, state: KeyState): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      queue.set(`${state.window}|${tenantId}|${api}`, { tenantId, api, state, want: chunk, resolve, reject });
      if (!flushing) {
        flushing = true;
        // Everything asked for in this turn of the event loop goes into the first statement.
        queueMicrotask(() => void flush());
      }
    });
  }

  function prune(t: number): void {
    if (t - lastPrune < 60_000) return;
    lastPrune = t;
    const current = Math.floor(t / windowMs) * windowMs;
    for (const [k, s] of states) if (s.window < current && !s.pending) states.delete(k);
    // A minute of past windows stays (harmless); older rows go. Every process prunes; the statements are idempotent.
    pruneBudget(o.db, current - Math.max(60_000, 6 * windowMs)).catch((e) => logger.warn({ err: (e as Error)?.message }, 'pruning the request budget failed'));
  }

  async function afterReservation(tenantId: string, api: string, p: Promise<void>): Promise<number> {
    try {
      await p;
    } catch (e) {
      if (failuresInARow >= maxFailures) {
        failuresInARow = 0;
        throw new OperatorError('TW_STORE_UNREACHABLE', { host: 'PostgreSQL (request budget)', reason: ((e as Error)?.message ?? String(e)).slice(0, 200) });
      }
      // The store may be restarting: wait, then ask again.
      return Math.min(windowMs, 250 * 2 ** failuresInARow);
    }
    return take(tenantId, api);
  }

  function take(tenantId: string, api: string): number | Promise<number> {
    const t = now();
    const window = Math.floor(t / windowMs) * windowMs;
    const key = `${tenantId}|${api}`;
    let s = states.get(key);
    if (!s || s.window !== window) {
      // A new window: what was left of the previous one expires with it.
      s = { window, left: 0, full: false };
      states.set(key, s);
      prune(t);
    }
    if (s.left > 0) {
      s.left--;
      stats.used++;
      return 0;
    }
    if (s.full) {
      stats.waits++;
      return Math.max(1, window + windowMs - t);
    }
    s.pending ??= reserve(tenantId, api, s);
    return afterReservation(tenantId, api, s.pending);
  }

  return { take, perWindow, windowMs, stats };
}
