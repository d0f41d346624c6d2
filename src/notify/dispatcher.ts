// The dispatcher: the *when* of notifications (channels are the *where*). Delivers due outbox rows with
// retries (exponential backoff; the channel's answer decides "retry?"), dead-letters after maxAttempts,
// and takes a lease on each row with a conditional UPDATE (works on SQLite and PostgreSQL) so two
// dispatchers never send the same row at once. A crash after sending and before marking the row sent
// means the row is sent again after its lease runs out, with the same idempotency key: at-least-once
// delivery, exactly-once as seen by a receiver that dedupes on the key.
// Pick-up: every pollMs (the fallback, and how rows written by other processes are found), and at once
// when code in this process signals that a transaction writing outbox rows has committed on the same
// store (outboxCommitted), so a notification does not wait for the next poll.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Logger } from '../log.ts';
import type { Channel, NotificationMessage, NotificationView, SendResult } from './types.ts';

export interface Clock {
  now(): Date;
}

export interface DispatcherDeps {
  db: Kysely<Database>;
  channels: ReadonlyMap<string, Channel>;
  logger?: Logger;
  clock?: Clock;
  /** notify.maxAttempts: after this many failed tries a row is dead-lettered. */
  maxAttempts?: number;
  /** How often to look for due rows (ms). */
  pollMs?: number;
  /** First retry delay (ms); doubles per attempt up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a claimed row stays ours; must exceed any channel timeout. Default: longest timeout + 30 s. */
  leaseMs?: number;
  /** At most this many sends in flight per channel (a hanging channel only ties up its own slots). */
  perChannelConcurrency?: number;
  /** Rows claimed per poll. */
  batchSize?: number;
  /** Console link for an alert (web.publicUrl + /alerts/<id>). */
  alertUrl?: (alertId: string) => string | undefined;
  /** The signed Secure and Remediate link for an alert (src/remediate/links.ts), when configured. */
  linkFor?: (alert: NotificationView) => string | undefined;
  /** One place for background failures; never throws into the host. */
  onError?: (e: unknown) => void;
  /** Identifies this dispatcher's leases (tests). */
  owner?: string;
}

export interface DrainReport {
  sent: number;
  failed: number;
  dead: number;
}

export interface Dispatcher {
  /** Stops polling and waits for sends in flight. */
  stop(): Promise<void>;
  /** Delivers everything due now (and what becomes due while retrying within `maxWaitMs`), then resolves. */
  drain(opts?: { maxWaitMs?: number }): Promise<DrainReport>;
  /** Looks for due rows now instead of at the next poll (again right after a look already under way). */
  wake(): void;
}

/** The running dispatchers of each store handle (the Kysely instance), for outboxCommitted(). */
const running = new WeakMap<object, Set<() => void>>();

/**
 * Call after a transaction that wrote notify_outbox rows has committed: wakes this process's dispatchers
 * on the same store handle. Other processes find the rows at their next poll.
 */
export function outboxCommitted(db: object): void {
  const set = running.get(db);
  if (set) for (const wake of set) wake();
}

type OutboxRow = Database['notify_outbox'];

export function backoffMs(attempt: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.max(0, attempt - 1));
}

export function startDispatcher(deps: DispatcherDeps): Dispatcher {
  const db = deps.db;
  const clock = deps.clock ?? { now: () => new Date() };
  const maxAttempts = deps.maxAttempts ?? 8;
  const pollMs = deps.pollMs ?? 1000;
  const base = deps.baseBackoffMs ?? 1000;
  const maxBackoff = deps.maxBackoffMs ?? 10 * 60_000;
  const perChannel = deps.perChannelConcurrency ?? 4;
  const batch = deps.batchSize ?? 50;
  const longest = Math.max(1000, ...[...deps.channels.values()].map((c) => c.timeoutMs));
  const leaseMs = deps.leaseMs ?? longest + 30_000;
  const owner = deps.owner ?? `d_${process.pid}_${randomBytes(4).toString('hex')}`;
  const onError = deps.onError ?? ((e: unknown) => deps.logger?.error({ err: e }, 'notification dispatcher error'));
  const inFlight = new Map<string, Promise<void>>();
  const perChannelCount = new Map<string, number>();
  const totals: DrainReport = { sent: 0, failed: 0, dead: 0 };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  // Due rows were left for a channel at its concurrency limit.
  let saturated = false;

  const iso = (ms = 0) => new Date(clock.now().getTime() + ms).toISOString();

  async function claim(): Promise<OutboxRow[]> {
    const now = iso();
    const candidates = await db
      .selectFrom('notify_outbox')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', now)]),
          // A dispatcher died holding the lease: take the row over.
          eb.and([eb('status', '=', 'sending'), eb('lease_until', '<', now)]),
        ]),
      )
      .orderBy('next_attempt_at')
      .limit(batch * 2)
      .execute();
    const got: OutboxRow[] = [];
    for (const r of candidates) {
      if (got.length >= batch) break;
      if (inFlight.has(r.id)) continue;
      const ch = deps.channels.get(r.channel);
      if (ch && (perChannelCount.get(r.channel) ?? 0) + got.filter((g) => g.channel === r.channel).length >= perChannel) {
        saturated = true; // looked at again as soon as one of the channel's sends finishes
        continue;
      }
      const leaseUntil = iso(leaseMs);
      // The lease: only one dispatcher's conditional update matches the row's current state.
      const u = await db
        .updateTable('notify_outbox')
        .set({ status: 'sending', lease_owner: owner, lease_until: leaseUntil })
        .where('id', '=', r.id)
        .where('status', '=', r.status)
        .where('attempts', '=', r.attempts)
        .where((eb) => (r.lease_until === null ? eb('lease_until', 'is', null) : eb('lease_until', '=', r.lease_until)))
        .executeTakeFirst();
      if (Number(u.numUpdatedRows) === 1) {
        // The snapshot may have been refreshed (the alert grew) between our read and the claim.
        const now2 = await db.selectFrom('notify_outbox').select('view_json').where('id', '=', r.id).executeTakeFirst();
        got.push({ ...r, view_json: now2?.view_json ?? r.view_json, status: 'sending', lease_owner: owner, lease_until: leaseUntil });
      }
    }
    return got;
  }

  async function finish(r: OutboxRow, result: SendResult, started: number): Promise<void> {
    const attempt = r.attempts + 1;
    const now = iso();
    const duration = Math.max(0, Date.now() - started);
    let status: string;
    let next = r.next_attempt_at;
    if (result.ok) status = 'sent';
    else if (!result.retry || attempt >= maxAttempts) status = 'dead';
    else {
      status = 'pending';
      next = iso(backoffMs(attempt, base, maxBackoff));
    }
    await db.transaction().execute(async (trx) => {
      const u = await trx
        .updateTable('notify_outbox')
        .set({
          status,
          attempts: attempt,
          next_attempt_at: next,
          lease_owner: null,
          lease_until: null,
          last_error: result.ok ? null : result.error.slice(0, 500),
          sent_at: result.ok ? now : null,
        })
        .where('id', '=', r.id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      // Our lease was taken over (we were too slow): the other dispatcher owns the outcome.
      if (Number(u.numUpdatedRows) !== 1) return;
      await trx
        .insertInto('notify_attempts')
        .values({ outbox_id: r.id, attempt, at: now, ok: result.ok ? 1 : 0, retry: !result.ok && result.retry ? 1 : 0, error: result.ok ? null : result.error.slice(0, 500), duration_ms: duration })
        .execute();
      if (status === 'sent' || status === 'dead') {
        await trx
          .insertInto('alert_activity')
          .values({
            alert_id: r.alert_id,
            at: now,
            actor: 'tenantwatch',
            action: status === 'sent' ? 'notification-sent' : 'notification-dead',
            detail_json: JSON.stringify({ channel: r.channel, event: r.event, key: r.id, attempts: attempt, ...(result.ok ? {} : { error: result.error.slice(0, 200) }) }),
          })
          .execute();
      }
    });
    if (result.ok) totals.sent++;
    else if (status === 'dead') totals.dead++;
    else totals.failed++;
    if (!result.ok) deps.logger?.warn({ channel: r.channel, key: r.id, attempt, retry: result.retry, dead: status === 'dead', error: result.error }, 'notification not delivered');
  }

  function messageOf(r: OutboxRow): NotificationMessage {
    const view = JSON.parse(r.view_json) as NotificationView;
    const m: NotificationMessage = { key: r.id, view };
    const a = deps.alertUrl?.(view.alertId);
    if (a) m.alertUrl = a;
    try {
      const l = view.event === 'test' ? undefined : deps.linkFor?.(view);
      if (l) m.remediateUrl = l;
    } catch (e) {
      onError(e);
    }
    return m;
  }

  async function deliver(r: OutboxRow): Promise<void> {
    const ch = deps.channels.get(r.channel);
    const started = Date.now();
    if (!ch) {
      await finish(r, { ok: false, retry: true, error: `no channel named ${r.channel} is configured` }, started);
      return;
    }
    let result: SendResult;
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), ch.timeoutMs);
    try {
      const m = messageOf(r);
      // The channel may ignore the signal: a hard deadline decides for it.
      result = await Promise.race([
        ch.send(m, { signal: ac.signal }),
        new Promise<SendResult>((resolve) => ac.signal.addEventListener('abort', () => resolve({ ok: false, retry: true, error: `timed out after ${ch.timeoutMs} ms` }), { once: true })),
      ]);
    } catch (e) {
      result = { ok: false, retry: true, error: `channel error: ${(e as Error)?.message ?? String(e)}` };
    } finally {
      clearTimeout(t);
    }
    await finish(r, result, started);
  }

  function launch(r: OutboxRow): void {
    perChannelCount.set(r.channel, (perChannelCount.get(r.channel) ?? 0) + 1);
    const p = deliver(r)
      .catch(onError)
      .finally(() => {
        inFlight.delete(r.id);
        perChannelCount.set(r.channel, (perChannelCount.get(r.channel) ?? 1) - 1);
        if (saturated) {
          saturated = false;
          wake();
        }
      });
    inFlight.set(r.id, p);
  }

  async function tick(): Promise<number> {
    const rows = await claim();
    for (const r of rows) launch(r);
    return rows.length;
  }

  // A wake during a look: the look may have read before the rows committed, so another follows at once.
  let again = false;

  function run(): void {
    timer = undefined;
    if (stopped) return;
    again = false;
    ticking = tick()
      .then(() => undefined)
      .catch(onError)
      .finally(() => {
        ticking = undefined;
        if (again) run();
        else schedule();
      });
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(run, pollMs);
    timer.unref?.();
  }

  function wake(): void {
    if (stopped) return;
    if (ticking) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    run();
  }

  const wakers = running.get(db) ?? new Set<() => void>();
  running.set(db, wakers);
  wakers.add(wake);
  schedule();

  return {
    wake,
    async stop() {
      stopped = true;
      wakers.delete(wake);
      if (timer) clearTimeout(timer);
      await ticking;
      await Promise.allSettled([...inFlight.values()]);
    },
    async drain(opts = {}) {
      const before = { ...totals };
      const deadline = Date.now() + (opts.maxWaitMs ?? 0);
      for (;;) {
        const n = await tick();
        if (n === 0 && inFlight.size === 0) {
          // Anything pending but not yet due? Wait for it only within maxWaitMs.
          const next = await db.selectFrom('notify_outbox').select('next_attempt_at').where('status', 'in', ['pending', 'sending']).orderBy('next_attempt_at').limit(1).executeTakeFirst();
          if (!next || Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, Math.min(200, Math.max(10, deadline - Date.now()))));
          continue;
        }
        if (inFlight.size > 0) await Promise.race(inFlight.values());
      }
      return { sent: totals.sent - before.sent, failed: totals.failed - before.failed, dead: totals.dead - before.dead };
    },
  };
}

/** Sends one message through one channel now, outside the outbox (`tenantwatch channels test`). */
export async function sendNow(ch: Channel, m: NotificationMessage): Promise<SendResult> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), ch.timeoutMs);
  try {
    return await Promise.race([
      ch.send(m, { signal: ac.signal }),
      new Promise<SendResult>((resolve) => ac.signal.addEventListener('abort', () => resolve({ ok: false, retry: true, error: `timed out after ${ch.timeoutMs} ms` }), { once: true })),
    ]);
  } catch (e) {
    return { ok: false, retry: true, error: `channel error: ${(e as Error)?.message ?? String(e)}` };
  } finally {
    clearTimeout(t);
  }
}
