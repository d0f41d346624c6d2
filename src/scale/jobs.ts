// The unit of work shared by every scheduler (pg-boss on PostgreSQL, the in-process loop on SQLite): one
// poll of one tenant × content type, done by ingest's own poller (listing windows, claim rows, pipeline).
// The claim rows in ingest_blobs stay the arbiter between processes: two workers polling the same key at
// once list the same windows (registering a contentId is idempotent) and only one of them commits a blob.
import type { Kysely } from 'kysely';
import { createPoller, type ContentTypeReport, type Poller, type PollerDeps } from '../ingest/poller.ts';
import { newOwnerId } from '../ingest/store.ts';
import type { Database } from '../store/schema.ts';

export const POLL_QUEUE = 'tenantwatch-poll';
export const POLL_DEAD_QUEUE = 'tenantwatch-poll-dead';

export interface PollJob {
  tenantId: string;
  contentType: string;
}

/** The singleton key: at most one queued poll per tenant × content type. */
export function pollKey(j: PollJob): string {
  return `${j.tenantId}|${j.contentType}`;
}

export function isPollJob(x: unknown): x is PollJob {
  const o = x as Record<string, unknown> | null;
  return !!o && typeof o.tenantId === 'string' && o.tenantId.length <= 64 && typeof o.contentType === 'string' && o.contentType.length <= 64;
}

export interface PollJobs {
  readonly owner: string;
  /**
   * Polls one tenant × content type; throws when nothing could be done (listing failed), so the queue retries it
   * with backoff. A key already being polled by this process is not polled twice at once: the call returns at
   * once (undefined) and the poll in progress runs once more when it ends, so a tenant catching up a deep
   * backlog holds one slot per content type in a process, however often it is planned or notified meanwhile.
   */
  run(job: PollJob): Promise<ContentTypeReport | undefined>;
  /** The poller of a content type (the webhook receiver registers notified blobs through it). */
  poller(contentType: string): Poller;
  stop(): Promise<void>;
}

/** One ingest poller per content type, sharing the store, the API client, the pipeline and one owner id. */
export function createPollJobs(deps: PollerDeps): PollJobs {
  const owner = deps.owner ?? newOwnerId();
  const types = deps.config.microsoft.contentTypes as readonly string[];
  const pollers = new Map<string, Poller>();
  for (const ct of types) {
    const config = { ...deps.config, microsoft: { ...deps.config.microsoft, contentTypes: [ct] } } as typeof deps.config;
    pollers.set(ct, createPoller({ ...deps, config, owner }));
  }
  const first = pollers.values().next().value as Poller;
  const running = new Map<string, { again: boolean }>();
  let stopping = false;
  async function pollKeyOnce(p: Poller, job: PollJob): Promise<ContentTypeReport | undefined> {
    const report = await p.pollOnce({ tenants: [job.tenantId] });
    const ct = report.tenants[0]?.contentTypes.find((c) => c.contentType === job.contentType);
    if (ct && ct.errors > 0 && ct.blobs === 0 && ct.records === 0 && !ct.errorMessages.some((m) => m.startsWith('throttled by Microsoft'))) {
      // Nothing got through: let the queue retry with backoff (and dead-letter a poison tenant).
      throw new Error(ct.errorMessages[0] ?? 'poll failed');
    }
    return ct;
  }
  return {
    owner,
    poller: (ct) => pollers.get(ct) ?? first,
    async run(job) {
      const p = pollers.get(job.contentType);
      if (!p) return undefined; // a content type no longer configured: nothing to do
      const key = pollKey(job);
      const inProgress = running.get(key);
      if (inProgress) {
        inProgress.again = true;
        return undefined;
      }
      const mark = { again: false };
      running.set(key, mark);
      try {
        let ct = await pollKeyOnce(p, job);
        while (mark.again && !stopping) {
          mark.again = false;
          ct = await pollKeyOnce(p, job);
        }
        return ct;
      } finally {
        running.delete(key);
      }
    },
    async stop() {
      stopping = true;
      for (const p of pollers.values()) await p.stop();
    },
  };
}

/**
 * Every enabled tenant × content type, the stalest first (never polled, then oldest last poll), so a cycle
 * starts with whoever waited longest and a tenant with a deep backlog holds one slot per content type only.
 */
export async function planCycle(db: Kysely<Database>, contentTypes: readonly string[]): Promise<PollJob[]> {
  const tenants = await db.selectFrom('tenants').select(['tenant_id']).where('enabled', '=', 1).orderBy('tenant_id').execute();
  const cursors = await db.selectFrom('ingest_cursors').select(['tenant_id', 'content_type', 'last_poll_at']).execute();
  const last = new Map<string, string>();
  for (const c of cursors) if (c.last_poll_at) last.set(`${c.tenant_id}|${c.content_type}`, c.last_poll_at);
  const jobs: PollJob[] = [];
  for (const t of tenants) for (const ct of contentTypes) jobs.push({ tenantId: t.tenant_id, contentType: ct });
  jobs.sort((a, b) => (last.get(pollKey(a)) ?? '').localeCompare(last.get(pollKey(b)) ?? ''));
  return jobs;
}
