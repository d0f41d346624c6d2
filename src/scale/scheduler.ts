// Work distribution. On PostgreSQL, pg-boss: every worker plans a cycle each ingest.pollIntervalSeconds by
// inserting one poll job per tenant × content type into a `short`-policy queue keyed by tenant|contentType
// (at most one queued per key, so N planning workers never pile jobs up), and consumes jobs with as many
// slots as ingest.concurrency. A worker that dies leaves its jobs active until their expiry (the lease,
// scale.jobLeaseSeconds); pg-boss then retries them with backoff (scale.retryLimit, scale.retryDelaySeconds);
// after the retries they land in the dead-letter queue, visible in clusterStatus(). A key whose job waits
// for (or runs) a retry is left out of planning, so a poison tenant backs off instead of being re-queued
// every interval. Web processes only send jobs (webhook notifications). On SQLite, one process: the same
// job function runs from an in-process queue with the same keys and the same ordering.
import PgBoss from 'pg-boss';
import type { Kysely } from 'kysely';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { nowIso } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import { isPollJob, planCycle, pollKey, POLL_DEAD_QUEUE, POLL_QUEUE, type PollJob, type PollJobs } from './jobs.ts';
import { BOSS_SCHEMA_KEY, HEARTBEAT_MS, heartbeat, newBeat, pruneWorkers, unregister, type WorkerBeat } from './registry.ts';

export interface Scheduler {
  readonly kind: 'pg-boss' | 'in-process';
  /** Asks for polls of these keys soon (a webhook notification announced content), from any process. */
  enqueue(jobs: PollJob[]): Promise<number>;
  /** Plans one cycle now (every enabled tenant × content type; on pg-boss, less the keys backing off after a failure). */
  planNow(): Promise<number>;
  /** Resolves when nothing is queued or running (tests, the benchmark). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface SchedulerOptions {
  db: Kysely<Database>;
  config: Readonly<Config>;
  logger: Logger;
  /** Absent on web-only processes: they send jobs and run none. */
  jobs?: PollJobs;
  role: string;
  /** Owner id in the registry (defaults to the jobs' owner). */
  owner?: string;
  /** Run the planning loop (default true when jobs are run here). */
  plan?: boolean;
  /** How long a running job is protected before pg-boss gives it to another worker (default scale.jobLeaseSeconds). */
  leaseSeconds?: number;
  /** Retries of a failing job before it goes to the dead-letter queue (default scale.retryLimit), first delay (default scale.retryDelaySeconds, doubling). */
  retryLimit?: number;
  retryDelaySeconds?: number;
  /** Job slots of this process (default ingest.concurrency). */
  slots?: number;
}

/** The pg-boss schema of a store URL: `<schema>_boss` when the URL names a schema (tests), else `pgboss`. */
export function bossTarget(url: string): { connectionString: string; schema: string } {
  const u = new URL(url);
  const storeSchema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  return { connectionString: u.toString(), schema: storeSchema ? `${storeSchema}_boss`.slice(0, 63) : 'pgboss' };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * pg-boss's fetch picks the oldest queued jobs (`ORDER BY created_on, id` when fetched without priority),
 * but its own fetch index is on (name, start_after), so every fetch sorted every queued job of the queue
 * (30,000 in a 10,000-tenant cycle). An index in that order on the poll queue's partition lets PostgreSQL
 * read just the first rows. Created once (IF NOT EXISTS), by workers.
 */
export const FETCH_INDEX = 'tw_fetch_order';
async function ensureFetchIndex(boss: PgBoss, schema: string): Promise<void> {
  const { rows } = await boss.getDb().executeSql(`SELECT partition_name FROM ${quoteIdent(schema)}.queue WHERE name = $1`, [POLL_QUEUE]);
  const partition = (rows as Array<{ partition_name: string | null }>)[0]?.partition_name;
  if (!partition) return;
  const index = quoteIdent(`${partition.slice(0, 40)}_${FETCH_INDEX}`);
  await boss.getDb().executeSql(`CREATE INDEX IF NOT EXISTS ${index} ON ${quoteIdent(schema)}.${quoteIdent(partition)} (created_on, id) WHERE state < 'active'`, []);
}

/** A worker leases as many jobs beyond its free slots as its slots start within this time (see fetchAhead). */
const AHEAD_MS = 2000;
/** Buffered jobs that could not start within this time go back to the queue. */
const STALE_MS = 2 * AHEAD_MS;
/** At most this many jobs per slot are leased beyond the free slots. */
const MAX_AHEAD_PER_SLOT = 3;

/**
 * How many jobs a worker with `slots` job slots leases beyond its free slots when its jobs take `avgJobMs` on
 * average: what its slots will start within AHEAD_MS, at most MAX_AHEAD_PER_SLOT per slot. Long jobs (a
 * backlog) get none ahead, so they stay in the queue for whichever worker frees a slot first.
 */
export function fetchAhead(slots: number, avgJobMs: number): number {
  return Math.min(MAX_AHEAD_PER_SLOT * slots, Math.floor((slots * AHEAD_MS) / Math.max(1, avgJobMs)));
}

/** How long a finished job waits for others to be completed with it in one statement. */
const COMPLETE_BATCH_MS = 50;
/** How often a completion or failure the store refused is sent again. */
const ACK_RETRY_MS = 2000;

function errText(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).slice(0, 300);
}

function sleep(ms: number, signal: { wake?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

/** Shared by both schedulers: heartbeats and a planning loop. */
function loops(o: SchedulerOptions, beat: WorkerBeat, plan: () => Promise<number>): { stop(): Promise<void> } {
  let stopping = false;
  const planSignal: { wake?: () => void } = {};
  const beatSignal: { wake?: () => void } = {};
  const beating = (async () => {
    while (!stopping) {
      await heartbeat(o.db, beat).catch((e) => o.logger.warn({ err: errText(e) }, 'heartbeat failed'));
      await sleep(HEARTBEAT_MS, beatSignal);
    }
  })();
  const planning =
    o.plan === false || !o.jobs
      ? Promise.resolve()
      : (async () => {
          while (!stopping) {
            try {
              const n = await plan();
              o.logger.debug({ jobs: n }, 'poll cycle planned');
              await pruneWorkers(o.db);
            } catch (e) {
              o.logger.warn({ err: errText(e) }, 'planning a poll cycle failed');
            }
            await sleep(o.config.ingest.pollIntervalSeconds * 1000, planSignal);
          }
        })();
  return {
    async stop() {
      stopping = true;
      planSignal.wake?.();
      beatSignal.wake?.();
      await Promise.all([beating, planning]);
      await unregister(o.db, beat.owner).catch(() => {});
    },
  };
}

export async function startBossScheduler(o: SchedulerOptions & { url: string }): Promise<Scheduler> {
  const target = bossTarget(o.url);
  const runsJobs = !!o.jobs;
  const boss = new PgBoss({
    connectionString: target.connectionString,
    schema: target.schema,
    // Names the store's schema too, so an operator (or a test) can tell whose connections these are.
    application_name: `tenantwatch ${target.schema}`.slice(0, 63),
    max: 4,
    // Only workers run maintenance (expiring the jobs of dead workers, retries, archiving).
    supervise: runsJobs,
    schedule: false,
    migrate: true,
    maintenanceIntervalSeconds: 30,
  });
  // A dropped connection or a restarting server surfaces here (maintenance, the pool's idle clients); pg's
  // pool opens a new connection for the next query. Without a listener the 'error' event would end the process.
  boss.on('error', (e) => o.logger.warn({ err: errText(e) }, 'pg-boss error'));
  await boss.start();
  // Explicit options (tests) win over the configuration.
  const retry = {
    retryLimit: o.retryLimit ?? o.config.scale.retryLimit,
    retryDelay: o.retryDelaySeconds ?? o.config.scale.retryDelaySeconds,
    retryBackoff: true,
    expireInSeconds: o.leaseSeconds ?? o.config.scale.jobLeaseSeconds,
  };
  const queueOptions = { name: POLL_QUEUE, policy: 'short' as const, ...retry, deadLetter: POLL_DEAD_QUEUE };
  for (let attempt = 0; ; attempt++) {
    try {
      await boss.createQueue(POLL_DEAD_QUEUE, { name: POLL_DEAD_QUEUE, policy: 'standard' });
      await boss.createQueue(POLL_QUEUE, queueOptions);
      // createQueue keeps an existing queue as it was: bring its defaults in line with this configuration.
      await boss.updateQueue(POLL_QUEUE, queueOptions);
      if (runsJobs) await ensureFetchIndex(boss, target.schema);
      break;
    } catch (e) {
      // Two processes creating the queue at the same moment: the loser sees a conflict; try again.
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
  }
  const stamp = nowIso(new Date());
  await o.db
    .insertInto('settings')
    .values({ key: BOSS_SCHEMA_KEY, value: target.schema, updated_at: stamp })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: target.schema, updated_at: stamp }))
    .execute();

  const owner = o.owner ?? o.jobs?.owner ?? `web/${process.pid}`;
  const beat = newBeat(owner, o.role, 'pg-boss');
  const contentTypes = o.config.microsoft.contentTypes as readonly string[];

  // Each job carries this process's lease and retry settings (they win over the queue's defaults in pg-boss).
  async function insert(jobs: PollJob[]): Promise<number> {
    for (let i = 0; i < jobs.length; i += 500) {
      await boss.insert(jobs.slice(i, i + 500).map((j) => ({ name: POLL_QUEUE, data: j, singletonKey: pollKey(j), ...retry })));
    }
    return jobs.length;
  }
  // Keys backing off: a job of theirs failed and waits for its retry, or runs it. Planning leaves them to
  // their retries (a fresh job would bypass the backoff); once dead-lettered, the next round plans them again.
  const backoffSql = `SELECT DISTINCT singleton_key AS key FROM ${quoteIdent(target.schema)}.job
    WHERE name = $1 AND state IN ('retry', 'active') AND retry_count > 0`;
  async function backingOff(): Promise<Set<string>> {
    const { rows } = await boss.getDb().executeSql(backoffSql, [POLL_QUEUE]);
    return new Set((rows as Array<{ key: string | null }>).map((x) => x.key ?? ''));
  }
  const plan = async (): Promise<number> => {
    const [all, skip] = await Promise.all([planCycle(o.db, contentTypes), backingOff()]);
    return insert(skip.size ? all.filter((j) => !skip.has(pollKey(j))) : all);
  };

  // The consumer: fetch jobs in batches (a quarter of the slots' worth at least, not one fetch per finished
  // job, with some leased ahead: see the buffer below), run each, and complete them in batches (one statement
  // for the jobs finished within COMPLETE_BATCH_MS). A completion lost with a dying worker only means the job
  // runs again after its lease: the claim rows, not the queue, keep ingest exactly-once. A completion or
  // failure that the store refused (PostgreSQL restarting) is sent again every ACK_RETRY_MS until it goes
  // through or the job's lease is over, so the job does not sit `active` for the whole lease after the store
  // is back.
  let stopping = false;
  let stopped = false;
  const slots = Math.max(1, o.slots ?? o.config.ingest.concurrency);
  const refill = Math.max(1, Math.floor(slots / 4));
  const running = new Set<Promise<void>>();
  const idleSignal: { wake?: () => void } = {};
  let done: string[] = [];
  let flushing: Promise<void> | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  const unacked: Array<{ id: string; error?: string; since: number }> = [];
  let ackTimer: NodeJS.Timeout | undefined;
  function ackLater(items: Array<{ id: string; error?: string }>): void {
    const since = Date.now();
    for (const a of items) unacked.push({ ...a, since });
    ackTimer ??= setTimeout(() => void retryAcks(), ACK_RETRY_MS);
  }
  async function retryAcks(): Promise<void> {
    if (ackTimer) clearTimeout(ackTimer);
    ackTimer = undefined;
    const now = Date.now();
    // After its lease pg-boss has expired the job itself (retry or dead letter): nothing left to say.
    const due = unacked.splice(0).filter((a) => now - a.since < retry.expireInSeconds * 1000);
    const complete = due.filter((a) => a.error === undefined);
    if (complete.length) await boss.complete(POLL_QUEUE, complete.map((a) => a.id)).catch(() => unacked.push(...complete));
    for (const a of due) if (a.error !== undefined) await boss.fail(POLL_QUEUE, a.id, { message: a.error }).catch(() => unacked.push(a));
    if (unacked.length && !stopped) ackTimer = setTimeout(() => void retryAcks(), ACK_RETRY_MS);
  }
  async function flushCompleted(): Promise<void> {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    await flushing;
    if (!done.length) return;
    const ids = done;
    done = [];
    flushing = boss
      .complete(POLL_QUEUE, ids)
      .then(() => undefined)
      .catch((e) => {
        o.logger.warn({ err: errText(e), jobs: ids.length }, 'completing jobs failed (sent again while their lease lasts)');
        ackLater(ids.map((id) => ({ id })));
      });
    await flushing;
  }
  function completed(id: string): void {
    done.push(id);
    if (done.length >= slots) void flushCompleted();
    else flushTimer ??= setTimeout(() => void flushCompleted(), COMPLETE_BATCH_MS);
  }
  // Jobs fetched ahead of free slots. Each pg-boss fetch is a statement with a locking CTE and an UPDATE; a fetch
  // per few freed slots at hundreds of short jobs a second spent PostgreSQL's CPU on fetching. So a worker
  // leases some jobs beyond its free slots, as many as its slots will start within AHEAD_MS at the duration
  // its jobs take (fetchAhead over expectedJobMs), and fetches again when half of those are used up: short
  // empty polls come in batches of dozens, long jobs only as slots free up. A guess from short jobs can be
  // wrong for the next ones (a cycle of empty polls, then a backlog): buffered jobs that could not start
  // within STALE_MS go back to the queue for whichever worker frees a slot first, and nothing more is fetched
  // ahead until one of this worker's jobs ends, so one worker never sits on work another could do. Buffered
  // jobs are `active` (leased); on stop they go back too, on SIGKILL they run elsewhere after their lease.
  const buffer: Array<{ job: PgBoss.Job<object>; at: number }> = [];
  const startedAt = new Map<string, number>();
  let avgJobMs = AHEAD_MS; // a cautious start: one job per slot ahead until durations are known
  let aheadHeld = false;
  /** The longer of the average finished job and the average age of the running ones (a long job tells before it ends). */
  function expectedJobMs(now: number): number {
    if (!startedAt.size) return avgJobMs;
    let age = 0;
    for (const t of startedAt.values()) age += now - t;
    return Math.max(avgJobMs, age / startedAt.size);
  }
  function start(job: PgBoss.Job<object>): void {
    const p = (async () => {
      beat.running++;
      const t0 = Date.now();
      startedAt.set(job.id, t0);
      try {
        if (!isPollJob(job.data)) throw new Error('malformed poll job');
        await o.jobs!.run(job.data);
        completed(job.id);
        beat.jobsDone++;
      } catch (e) {
        beat.jobsFailed++;
        o.logger.warn({ job: job.data, err: errText(e) }, 'poll job failed (retried with backoff)');
        await boss.fail(POLL_QUEUE, job.id, { message: errText(e) }).catch(() => ackLater([{ id: job.id, error: errText(e) }]));
      } finally {
        beat.running--;
        startedAt.delete(job.id);
        avgJobMs = avgJobMs * 0.9 + (Date.now() - t0) * 0.1;
        aheadHeld = false;
      }
    })();
    running.add(p);
    void p.finally(() => running.delete(p));
  }
  const consuming = !runsJobs
    ? Promise.resolve()
    : (async () => {
        while (!stopping) {
          while (buffer.length && running.size < slots) start(buffer.shift()!.job);
          const now = Date.now();
          if (buffer.length && now - buffer[0]!.at > STALE_MS) {
            aheadHeld = true;
            await giveBack(buffer.splice(0).map((b) => b.job.id));
            continue;
          }
          const ahead = aheadHeld ? 0 : fetchAhead(slots, expectedJobMs(now));
          const want = slots - running.size + ahead - buffer.length;
          // Fetch in batches: once a quarter of the slots' worth is missing, or half of what is leased ahead.
          if (want < Math.max(refill, Math.ceil(ahead / 2))) {
            // Enough in hand: wait for a job to end (running is not empty here: free slots would have taken the
            // buffer), or for the buffer to go stale.
            await Promise.race([...running, sleep(buffer.length ? STALE_MS / 4 : 1000, idleSignal)]);
            idleSignal.wake?.(); // a job ended first: clear the nap's timer instead of leaving one per wake-up
            continue;
          }
          let fetched: Array<PgBoss.Job<object>> = [];
          try {
            fetched = await boss.fetch<object>(POLL_QUEUE, { batchSize: want, priority: false });
          } catch (e) {
            o.logger.warn({ err: errText(e) }, 'fetching poll jobs failed (store unreachable?)');
          }
          if (!fetched.length) {
            if (running.size >= slots) await Promise.race(running);
            else await sleep(running.size ? 250 : 1000, idleSignal);
            continue;
          }
          const at = Date.now();
          for (const job of fetched) buffer.push({ job, at });
        }
      })();
  // Back to `created` as if never fetched (started_on cleared, so the next fetch does not count a retry). A key
  // planned again meanwhile already has its one queued job ('short'): that lease is cancelled instead.
  const giveBackSql = `WITH back AS (
      UPDATE ${quoteIdent(target.schema)}.job j SET state = 'created', started_on = NULL
      WHERE j.name = $1 AND j.id = ANY($2::uuid[]) AND j.state = 'active'
        AND NOT EXISTS (SELECT 1 FROM ${quoteIdent(target.schema)}.job q
          WHERE q.name = j.name AND q.singleton_key IS NOT DISTINCT FROM j.singleton_key AND q.state = 'created')
      RETURNING j.id)
    SELECT id::text AS id FROM back`;
  async function giveBack(ids: string[]): Promise<void> {
    if (!ids.length) return;
    try {
      let back: string[];
      try {
        const { rows } = await boss.getDb().executeSql(giveBackSql, [POLL_QUEUE, ids]);
        back = (rows as Array<{ id: string }>).map((r) => r.id);
      } catch {
        // A planner queued one of these keys between the check and the update: one at a time.
        back = [];
        for (const id of ids) {
          const { rows } = await boss.getDb().executeSql(giveBackSql, [POLL_QUEUE, [id]]).catch(() => ({ rows: [] as unknown[] }));
          if (rows.length) back.push(id);
        }
      }
      const covered = ids.filter((id) => !back.includes(id));
      if (covered.length) await boss.cancel(POLL_QUEUE, covered);
    } catch (e) {
      o.logger.warn({ err: errText(e), jobs: ids.length }, 'could not give fetched jobs back (they run again after their lease)');
    }
  }

  const background = loops(o, beat, plan);
  return {
    kind: 'pg-boss',
    enqueue: insert,
    planNow: plan,
    async idle() {
      for (;;) {
        const queued = await boss.getQueueSize(POLL_QUEUE);
        if (queued === 0 && running.size === 0 && buffer.length === 0) {
          await flushCompleted();
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      stopping = true;
      idleSignal.wake?.();
      await o.jobs?.stop();
      await consuming;
      await giveBack(buffer.splice(0).map((b) => b.job.id));
      await Promise.allSettled([...running]);
      await flushCompleted();
      stopped = true;
      if (unacked.length) await retryAcks();
      await background.stop();
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 }).catch(() => {});
    },
  };
}

/**
 * SQLite (one process): the same jobs, keys and ordering from an in-process queue. A key is queued once and
 * runs in one slot at a time (a key queued again while it runs waits for that run), so a tenant with a
 * deep backlog holds one slot per content type while the other keys flow through the rest. Planned cycles
 * queue at the back, stalest first; keys sent by enqueue() (webhook notifications) go to the front.
 */
export function startLocalScheduler(o: SchedulerOptions): Scheduler {
  if (!o.jobs) throw new Error('the in-process scheduler runs jobs');
  const jobs = o.jobs;
  const beat = newBeat(o.owner ?? jobs.owner, o.role, 'in-process');
  const queue: PollJob[] = [];
  const queuedKeys = new Set<string>();
  const runningKeys = new Set<string>();
  const slots = Math.max(1, o.slots ?? o.config.ingest.concurrency);
  let active = 0;
  let stopping = false;
  const waiters: Array<() => void> = [];
  const contentTypes = o.config.microsoft.contentTypes as readonly string[];

  function settle(): void {
    beat.queued = queue.length;
    beat.running = active;
    if (queue.length === 0 && active === 0) while (waiters.length) waiters.shift()!();
  }
  function pump(): void {
    // The first queued job whose key is not running; the few skipped ones keep their place.
    for (let i = 0; !stopping && active < slots && i < queue.length; ) {
      const key = pollKey(queue[i]!);
      if (runningKeys.has(key)) {
        i++;
        continue;
      }
      const job = i === 0 ? queue.shift()! : queue.splice(i, 1)[0]!;
      queuedKeys.delete(key);
      runningKeys.add(key);
      active++;
      void jobs
        .run(job)
        .then(
          () => void beat.jobsDone++,
          (e) => {
            beat.jobsFailed++;
            o.logger.warn({ job, err: errText(e) }, 'poll job failed (retried next cycle)');
          },
        )
        .finally(() => {
          runningKeys.delete(key);
          active--;
          pump();
          settle();
        });
    }
    settle();
  }
  function add(list: PollJob[], front: boolean): number {
    const fresh: PollJob[] = [];
    for (const j of list) {
      const key = pollKey(j);
      if (queuedKeys.has(key)) continue;
      queuedKeys.add(key);
      fresh.push({ tenantId: j.tenantId, contentType: j.contentType });
    }
    if (front) queue.unshift(...fresh);
    else for (const j of fresh) queue.push(j);
    pump();
    return fresh.length;
  }
  const enqueue = async (list: PollJob[]): Promise<number> => add(list, true);
  const plan = async (): Promise<number> => add(await planCycle(o.db, contentTypes), false);
  const background = loops(o, beat, plan);
  return {
    kind: 'in-process',
    enqueue,
    planNow: plan,
    idle: () => (queue.length === 0 && active === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    async stop() {
      stopping = true;
      queue.length = 0;
      queuedKeys.clear();
      await jobs.stop();
      while (active > 0) await new Promise((r) => setTimeout(r, 50));
      settle();
      await background.stop();
    },
  };
}
