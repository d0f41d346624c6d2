// Who is alive in the cluster, and how the work stands. Each process heartbeats one row in `settings`
// (key `scale.worker.<owner>`, value JSON) — no table of our own and no queue of our own: the job counts
// come from pg-boss's tables on PostgreSQL and from each process's heartbeat on SQLite.
// `clusterStatus(db)` is the one query others (tenants health, the API) call.
import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import { nowIso } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import { isPostgres } from '../store/portable.ts';
import { POLL_DEAD_QUEUE, POLL_QUEUE } from './jobs.ts';

export const WORKER_KEY_PREFIX = 'scale.worker.';
/** Where the pg-boss schema of this store is recorded (written by every PostgreSQL worker at start). */
export const BOSS_SCHEMA_KEY = 'scale.boss_schema';
export const HEARTBEAT_MS = 10_000;
/** A process whose heartbeat is older than this counts as dead. */
export const ALIVE_WITHIN_MS = 3 * HEARTBEAT_MS;

export interface WorkerBeat {
  owner: string;
  host: string;
  pid: number;
  role: string;
  scheduler: 'pg-boss' | 'in-process';
  startedAt: string;
  /** Jobs this process runs now / holds queued locally (the in-process scheduler). */
  running: number;
  queued: number;
  jobsDone: number;
  jobsFailed: number;
}

export interface WorkerStatus extends WorkerBeat {
  beatAt: string;
  alive: boolean;
}

export interface JobCounts {
  queued: number;
  running: number;
  retrying: number;
  failed: number;
  /** Jobs that used up their retries and sit in the dead-letter queue. */
  dead: number;
  completed: number;
}

export interface TenantLag {
  tenantId: string;
  /** now − newest record seen over all content types, seconds (null before the first record). */
  lagSeconds: number | null;
  pendingBlobs: number;
  failedBlobs: number;
  lastError: string | null;
}

export interface ClusterStatus {
  scheduler: 'pg-boss' | 'in-process' | 'none';
  workersAlive: number;
  workers: WorkerStatus[];
  jobs: JobCounts;
  tenants: TenantLag[];
}

export async function heartbeat(db: Kysely<Database>, beat: WorkerBeat, now = new Date()): Promise<void> {
  const value = JSON.stringify(beat);
  const at = nowIso(now);
  await db
    .insertInto('settings')
    .values({ key: WORKER_KEY_PREFIX + beat.owner, value, updated_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
    .execute();
}

/** A process that stops cleanly removes its row; dead ones are pruned after a day. */
export async function unregister(db: Kysely<Database>, owner: string): Promise<void> {
  await db.deleteFrom('settings').where('key', '=', WORKER_KEY_PREFIX + owner).execute();
}

export async function pruneWorkers(db: Kysely<Database>, now = new Date()): Promise<void> {
  await db
    .deleteFrom('settings')
    .where('key', 'like', `${WORKER_KEY_PREFIX}%`)
    .where('updated_at', '<', nowIso(new Date(now.getTime() - 86_400_000)))
    .execute();
}

export function newBeat(owner: string, role: string, scheduler: WorkerBeat['scheduler']): WorkerBeat {
  return { owner, host: hostname(), pid: process.pid, role, scheduler, startedAt: nowIso(new Date()), running: 0, queued: 0, jobsDone: 0, jobsFailed: 0 };
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** The pg-boss job table's counts for our two queues (PostgreSQL); undefined when none was recorded. */
async function bossCounts(db: Kysely<Database>): Promise<JobCounts | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', BOSS_SCHEMA_KEY).executeTakeFirst();
  if (!row || !IDENT.test(row.value)) return undefined;
  const rows = await sql<{ name: string; state: string; n: number }>`
    SELECT name, state::text AS state, COUNT(*)::int AS n FROM ${sql.id(row.value, 'job')}
    WHERE name IN (${POLL_QUEUE}, ${POLL_DEAD_QUEUE}) GROUP BY name, state`
    .execute(db)
    .catch(() => undefined);
  if (!rows) return undefined;
  const c: JobCounts = { queued: 0, running: 0, retrying: 0, failed: 0, dead: 0, completed: 0 };
  for (const r of rows.rows) {
    const n = Number(r.n);
    if (r.name === POLL_DEAD_QUEUE) {
      if (r.state !== 'completed' && r.state !== 'cancelled') c.dead += n;
      continue;
    }
    if (r.state === 'created') c.queued += n;
    else if (r.state === 'active') c.running += n;
    else if (r.state === 'retry') c.retrying += n;
    else if (r.state === 'failed') c.failed += n;
    else if (r.state === 'completed') c.completed += n;
  }
  return c;
}

/** Workers alive, jobs queued / running / failed, per-tenant lag: for `tenants health`, the API and the console. */
export async function clusterStatus(db: Kysely<Database>, opts: { now?: Date } = {}): Promise<ClusterStatus> {
  const now = opts.now ?? new Date();
  const beats = await db.selectFrom('settings').select(['key', 'value', 'updated_at']).where('key', 'like', `${WORKER_KEY_PREFIX}%`).execute();
  const workers: WorkerStatus[] = [];
  for (const b of beats) {
    let beat: WorkerBeat;
    try {
      beat = JSON.parse(b.value) as WorkerBeat;
    } catch {
      continue;
    }
    workers.push({ ...beat, beatAt: b.updated_at, alive: now.getTime() - Date.parse(b.updated_at) <= ALIVE_WITHIN_MS });
  }
  workers.sort((a, b) => a.owner.localeCompare(b.owner));
  const alive = workers.filter((w) => w.alive);
  let jobs: JobCounts | undefined;
  if (isPostgres(db)) jobs = await bossCounts(db);
  const scheduler: ClusterStatus['scheduler'] = jobs ? 'pg-boss' : alive.some((w) => w.scheduler === 'in-process') ? 'in-process' : 'none';
  if (!jobs) {
    jobs = { queued: 0, running: 0, retrying: 0, failed: 0, dead: 0, completed: 0 };
    for (const w of alive) {
      jobs.queued += w.queued;
      jobs.running += w.running;
      jobs.failed += w.jobsFailed;
      jobs.completed += w.jobsDone;
    }
  }

  const cursors = await db.selectFrom('ingest_cursors').select(['tenant_id', 'newest_record_at', 'last_error']).execute();
  const backlog = await db
    .selectFrom('ingest_blobs')
    .select(['tenant_id', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', ['pending', 'claimed', 'failed'])
    .groupBy(['tenant_id', 'status'])
    .execute();
  const byTenant = new Map<string, TenantLag>();
  const get = (t: string): TenantLag => {
    let x = byTenant.get(t);
    if (!x) byTenant.set(t, (x = { tenantId: t, lagSeconds: null, pendingBlobs: 0, failedBlobs: 0, lastError: null }));
    return x;
  };
  for (const c of cursors) {
    const x = get(c.tenant_id);
    if (c.newest_record_at) {
      const lag = Math.max(0, Math.round((now.getTime() - Date.parse(c.newest_record_at)) / 1000));
      // The tenant's lag is its worst content type's.
      x.lagSeconds = x.lagSeconds === null ? lag : Math.max(x.lagSeconds, lag);
    }
    if (c.last_error && !x.lastError) x.lastError = c.last_error.slice(0, 200);
  }
  for (const b of backlog) {
    const x = get(b.tenant_id);
    if (b.status === 'failed') x.failedBlobs += Number(b.n);
    else x.pendingBlobs += Number(b.n);
  }
  const tenants = [...byTenant.values()].sort((a, b) => a.tenantId.localeCompare(b.tenantId));
  return { scheduler, workersAlive: alive.length, workers, jobs, tenants };
}
