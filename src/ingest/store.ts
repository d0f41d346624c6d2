// Query functions over ingest's tables (cursors, blob claims, records seen, history state). Plain
// functions taking a Kysely handle (a transaction or the store); the same SQL on SQLite and PostgreSQL.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

export type Q = Kysely<Database> | Transaction<Database>;

export const BLOB_STATUS = ['pending', 'claimed', 'done', 'failed', 'expired', 'given-up'] as const;
export type BlobStatus = (typeof BLOB_STATUS)[number];

/** Owner ids handed out in this process (a process may run more than one poller). */
const LIVE_OWNERS = new Set<string>();

/** Who holds a claim: host/pid/nonce, so a restarted process can recognise its dead predecessors' claims. */
export function newOwnerId(): string {
  const id = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  LIVE_OWNERS.add(id);
  return id;
}

/** True when the claimant ran on this host and its process is gone (its claim can be taken at once). */
export function isDeadLocalOwner(owner: string | null, me: string): boolean {
  if (!owner || owner === me) return false;
  const [host, pidText] = owner.split('/');
  if (host !== hostname()) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return !LIVE_OWNERS.has(owner); // an earlier incarnation that had our pid
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface CursorRow {
  tenantId: string;
  contentType: string;
  listedTo: string | null;
  newestRecordAt: string | null;
  lastPollAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  lostFrom: string | null;
  lostTo: string | null;
  backoffUntil: string | null;
  backoffLevel: number;
}

export async function getCursor(db: Q, tenantId: string, contentType: string): Promise<CursorRow | undefined> {
  const r = await db.selectFrom('ingest_cursors').selectAll().where('tenant_id', '=', tenantId).where('content_type', '=', contentType).executeTakeFirst();
  return r ? toCursor(r) : undefined;
}

function toCursor(r: Database['ingest_cursors']): CursorRow {
  return {
    tenantId: r.tenant_id,
    contentType: r.content_type,
    listedTo: r.listed_to,
    newestRecordAt: r.newest_record_at,
    lastPollAt: r.last_poll_at,
    lastSuccessAt: r.last_success_at,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at,
    lostFrom: r.lost_from,
    lostTo: r.lost_to,
    backoffUntil: r.backoff_until,
    backoffLevel: Number(r.backoff_level),
  };
}

/** Creates the cursor row if missing, then applies `patch`. */
export async function updateCursor(db: Q, tenantId: string, contentType: string, patch: Partial<Omit<Database['ingest_cursors'], 'tenant_id' | 'content_type'>>, now: string): Promise<void> {
  // One statement when the row exists (every poll after the first); the insert only when it did not.
  if (Object.keys(patch).length > 0) {
    const r = await db
      .updateTable('ingest_cursors')
      .set({ ...patch, updated_at: now })
      .where('tenant_id', '=', tenantId)
      .where('content_type', '=', contentType)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) return;
  }
  await db
    .insertInto('ingest_cursors')
    .values({ tenant_id: tenantId, content_type: contentType, backoff_level: 0, updated_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'content_type']).doNothing())
    .execute();
  if (Object.keys(patch).length === 0) return;
  await db
    .updateTable('ingest_cursors')
    .set({ ...patch, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('content_type', '=', contentType)
    .execute();
}

/**
 * The end of a listing: raises listed_to monotonically (never below what another worker already listed) and
 * applies `patch`, in one statement. The row must exist (the listing created it).
 */
export async function advanceCursor(db: Q, tenantId: string, contentType: string, listedTo: string | undefined, patch: Partial<Omit<Database['ingest_cursors'], 'tenant_id' | 'content_type' | 'listed_to'>>, now: string): Promise<void> {
  await db
    .updateTable('ingest_cursors')
    .set((eb) => ({
      ...patch,
      updated_at: now,
      ...(listedTo !== undefined
        ? { listed_to: eb.case().when(eb.or([eb('listed_to', 'is', null), eb('listed_to', '<', listedTo)])).then(listedTo).else(eb.ref('listed_to')).end() }
        : {}),
    }))
    .where('tenant_id', '=', tenantId)
    .where('content_type', '=', contentType)
    .execute();
}

/** Raises newest_record_at monotonically (inside the blob's transaction). */
export async function bumpNewest(db: Q, tenantId: string, contentType: string, newest: string, now: string): Promise<void> {
  await updateCursor(db, tenantId, contentType, {}, now);
  await db
    .updateTable('ingest_cursors')
    .set({ newest_record_at: newest, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('content_type', '=', contentType)
    .where((eb) => eb.or([eb('newest_record_at', 'is', null), eb('newest_record_at', '<', newest)]))
    .execute();
}

export interface BlobRef {
  tenantId: string;
  contentType: string;
  contentId: string;
  contentUri: string;
  contentCreated?: string;
  contentExpiration?: string;
}

/** Registers listed blobs; a contentId already known (listed, notified, done) is left as it is. Returns how many were new. */
export async function registerBlobs(db: Q, blobs: BlobRef[], now: string): Promise<number> {
  let added = 0;
  const seen = new Set<string>();
  const unique = blobs.filter((b) => (seen.has(b.contentId) ? false : (seen.add(b.contentId), true)));
  for (let i = 0; i < unique.length; i += 100) {
    const chunk = unique.slice(i, i + 100);
    const res = await db
      .insertInto('ingest_blobs')
      .values(
        chunk.map((b) => ({
          tenant_id: b.tenantId,
          content_id: b.contentId,
          content_type: b.contentType,
          content_uri: b.contentUri,
          content_created: b.contentCreated ?? null,
          content_expiration: b.contentExpiration ?? null,
          status: 'pending',
          attempts: 0,
          records: 0,
          duplicates: 0,
          malformed: 0,
          listed_at: now,
        })),
      )
      .onConflict((oc) => oc.columns(['tenant_id', 'content_id']).doNothing())
      .returning('content_id')
      .execute();
    added += res.length;
  }
  return added;
}

export interface ClaimCandidate {
  tenantId: string;
  contentId: string;
  contentType: string;
  contentUri: string;
  contentExpiration: string | null;
  status: string;
  claimedBy: string | null;
  attempts: number;
}

/** Blobs of a tenant that may be claimed now (pending, due for retry, or held by an expired/dead claim). */
export async function claimCandidates(db: Q, tenantId: string, now: string, opts: { ignoreBackoff?: boolean; limit?: number; me: string; contentTypes?: readonly string[] }): Promise<ClaimCandidate[]> {
  let q = db
    .selectFrom('ingest_blobs')
    .select(['tenant_id', 'content_id', 'content_type', 'content_uri', 'content_expiration', 'status', 'claimed_by', 'lease_until', 'attempts', 'next_attempt_at'])
    .where('tenant_id', '=', tenantId)
    .where('status', 'in', ['pending', 'failed', 'claimed']);
  if (opts.contentTypes?.length) q = q.where('content_type', 'in', [...opts.contentTypes]);
  const rows = await q
    .orderBy('content_created')
    .orderBy('content_id')
    .limit(opts.limit ?? 10_000)
    .execute();
  const out: ClaimCandidate[] = [];
  for (const r of rows) {
    const due =
      r.status === 'pending' ||
      (r.status === 'failed' && (opts.ignoreBackoff || !r.next_attempt_at || r.next_attempt_at <= now)) ||
      (r.status === 'claimed' && ((r.lease_until !== null && r.lease_until < now) || isDeadLocalOwner(r.claimed_by, opts.me)));
    if (!due) continue;
    out.push({
      tenantId: r.tenant_id,
      contentId: r.content_id,
      contentType: r.content_type,
      contentUri: r.content_uri,
      contentExpiration: r.content_expiration,
      status: r.status,
      claimedBy: r.claimed_by,
      attempts: Number(r.attempts),
    });
  }
  return out;
}

/**
 * Takes the claim row for one blob if it is still in the state we saw (compare-and-set): the row is the
 * arbiter between processes, so only one of them ever fetches and commits a blob at a time.
 */
export async function claimBlob(db: Q, c: ClaimCandidate, me: string, now: string, leaseUntil: string): Promise<boolean> {
  let q = db
    .updateTable('ingest_blobs')
    .set({ status: 'claimed', claimed_by: me, lease_until: leaseUntil, attempts: c.attempts + 1 })
    .where('tenant_id', '=', c.tenantId)
    .where('content_id', '=', c.contentId)
    .where('status', '=', c.status)
    .where('attempts', '=', c.attempts);
  q = c.claimedBy === null ? q.where('claimed_by', 'is', null) : q.where('claimed_by', '=', c.claimedBy);
  const r = await q.executeTakeFirst();
  void now;
  return Number(r.numUpdatedRows) === 1;
}

/** Inside the blob's transaction: turns our claim into `done`; false when the claim was lost (lease taken over). */
export async function completeClaim(
  trx: Q,
  tenantId: string,
  contentId: string,
  me: string,
  counts: { records: number; duplicates: number; malformed: number },
  now: string,
): Promise<boolean> {
  const r = await trx
    .updateTable('ingest_blobs')
    .set({ status: 'done', done_at: now, lease_until: null, last_error: null, ...counts })
    .where('tenant_id', '=', tenantId)
    .where('content_id', '=', contentId)
    .where('status', '=', 'claimed')
    .where('claimed_by', '=', me)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Gives a claim back after a failed fetch: retried after `nextAttemptAt`, or given up for good. */
export async function failClaim(db: Q, tenantId: string, contentId: string, me: string, status: 'failed' | 'expired' | 'given-up', error: string, nextAttemptAt: string | null): Promise<void> {
  await db
    .updateTable('ingest_blobs')
    .set({ status, claimed_by: null, lease_until: null, last_error: error.slice(0, 500), next_attempt_at: nextAttemptAt })
    .where('tenant_id', '=', tenantId)
    .where('content_id', '=', contentId)
    .where('claimed_by', '=', me)
    // Only a claim still open: a blob whose commit went through (the reply lost with the connection) stays done.
    .where('status', '=', 'claimed')
    .execute();
}

export interface StoredRecord {
  tenantId: string;
  recordId: string;
  contentType: string;
  contentId: string;
  recordType: number | null;
  operation: string | null;
  userId: string | null;
  creationTime: string | null;
  rawJson: string;
  rawTruncated: boolean;
}

/** Inserts records not seen before; returns the Ids that were new (Microsoft repeats Ids by design). */
export async function insertNewRecords(trx: Q, records: StoredRecord[], now: string): Promise<Set<string>> {
  const fresh = new Set<string>();
  for (let i = 0; i < records.length; i += 50) {
    const chunk = records.slice(i, i + 50);
    const res = await trx
      .insertInto('ingest_records')
      .values(
        chunk.map((r) => ({
          tenant_id: r.tenantId,
          record_id: r.recordId,
          content_type: r.contentType,
          content_id: r.contentId,
          record_type: r.recordType,
          operation: r.operation,
          user_id: r.userId,
          creation_time: r.creationTime,
          raw_json: r.rawJson,
          raw_truncated: r.rawTruncated ? 1 : 0,
          stored_at: now,
        })),
      )
      .onConflict((oc) => oc.columns(['tenant_id', 'record_id']).doNothing())
      .returning('record_id')
      .execute();
    for (const x of res) fresh.add(x.record_id);
  }
  return fresh;
}

/** Drops claims and records-seen older than the horizon (7 days of retention + a day of margin). */
/** Detection history (sign-in baselines, destinations) untouched for this long is dropped. */
export const HISTORY_HORIZON_MS = 90 * 86_400_000;

export async function pruneIngest(db: Q, before: string): Promise<{ blobs: number; records: number; history: number }> {
  const b = await db.deleteFrom('ingest_blobs').where('listed_at', '<', before).where('status', 'in', ['done', 'expired', 'given-up']).executeTakeFirst();
  const r = await db.deleteFrom('ingest_records').where('stored_at', '<', before).executeTakeFirst();
  const historyBefore = new Date(Date.parse(before) - HISTORY_HORIZON_MS).toISOString();
  const h = await db.deleteFrom('detect_state').where('updated_at', '<', historyBefore).executeTakeFirst();
  return { blobs: Number(b.numDeletedRows), records: Number(r.numDeletedRows), history: Number(h.numDeletedRows) };
}

export interface IngestHealth {
  tenantId: string;
  contentType: string;
  /** Listing is complete up to here (exclusive). */
  cursor: string | null;
  newestRecordAt: string | null;
  /** now − newest record seen, in seconds; null before the first record. */
  lagSeconds: number | null;
  lastPollAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  lost: { from: string; to: string } | null;
  backoffUntil: string | null;
  pendingBlobs: number;
  failedBlobs: number;
}

/** Per tenant × content type: cursor, lag, last error, lost range, blob backlog (for `tenants health` and the API). */
export async function ingestHealth(db: Q, opts: { tenantId?: string; now?: Date } = {}): Promise<IngestHealth[]> {
  const now = opts.now ?? new Date();
  let q = db.selectFrom('ingest_cursors').selectAll();
  if (opts.tenantId) q = q.where('tenant_id', '=', opts.tenantId);
  const cursors = await q.orderBy('tenant_id').orderBy('content_type').execute();
  let bq = db
    .selectFrom('ingest_blobs')
    .select(['tenant_id', 'content_type', 'status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', ['pending', 'claimed', 'failed'])
    .groupBy(['tenant_id', 'content_type', 'status']);
  if (opts.tenantId) bq = bq.where('tenant_id', '=', opts.tenantId);
  const backlog = await bq.execute();
  return cursors.map((c) => {
    const mine = backlog.filter((b) => b.tenant_id === c.tenant_id && b.content_type === c.content_type);
    const count = (s: string[]): number => mine.filter((b) => s.includes(b.status)).reduce((a, b) => a + Number(b.n), 0);
    return {
      tenantId: c.tenant_id,
      contentType: c.content_type,
      cursor: c.listed_to,
      newestRecordAt: c.newest_record_at,
      lagSeconds: c.newest_record_at ? Math.max(0, Math.round((now.getTime() - Date.parse(c.newest_record_at)) / 1000)) : null,
      lastPollAt: c.last_poll_at,
      lastSuccessAt: c.last_success_at,
      lastError: c.last_error,
      lastErrorAt: c.last_error_at,
      lost: c.lost_from && c.lost_to ? { from: c.lost_from, to: c.lost_to } : null,
      backoffUntil: c.backoff_until,
      pendingBlobs: count(['pending', 'claimed']),
      failedBlobs: count(['failed']),
    };
  });
}
