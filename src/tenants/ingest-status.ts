// What the poller knows about a tenant (last successful poll, lag, errors), read from the ingest tables when they
// exist and hold rows for the tenant; undefined otherwise (health then omits it).
import { sql } from 'kysely';
import type { Db } from '../store/db.ts';

export interface IngestStatus {
  lastSuccessAt: string | null;
  /** Seconds between now and the newest stored record's CreationTime (the oldest over content types). */
  lagSeconds: number | null;
  /** Content types whose last poll ended in an error. */
  errorCount: number;
  /** Blobs that failed and wait for a retry. */
  failedBlobs: number;
  lastError: string | null;
}

type CursorRow = { content_type: string; last_success_at: string | null; newest_record_at: string | null; last_error: string | null; last_error_at: string | null };

export async function readIngestStatus(db: Db, tenantId: string, now: Date): Promise<IngestStatus | undefined> {
  let cursors: CursorRow[];
  try {
    const r = await sql<CursorRow>`select content_type, last_success_at, newest_record_at, last_error, last_error_at from ingest_cursors where tenant_id = ${tenantId}`.execute(db);
    cursors = r.rows;
  } catch {
    return undefined; // no ingest tables in this store (yet)
  }
  if (cursors.length === 0) return undefined;
  let failedBlobs = 0;
  try {
    const r = await sql<{ n: number | string }>`select count(*) as n from ingest_blobs where tenant_id = ${tenantId} and status = 'failed'`.execute(db);
    failedBlobs = Number(r.rows[0]?.n ?? 0);
  } catch {
    failedBlobs = 0;
  }
  const successes = cursors.map((c) => c.last_success_at).filter((x): x is string => !!x).sort();
  const newest = cursors.map((c) => c.newest_record_at).filter((x): x is string => !!x).sort();
  // A content type is in error when its last error is newer than its last success.
  const erroring = cursors.filter((c) => c.last_error && (!c.last_success_at || (c.last_error_at ?? '') > c.last_success_at));
  const lastErr = erroring.sort((a, b) => (b.last_error_at ?? '').localeCompare(a.last_error_at ?? ''))[0];
  return {
    lastSuccessAt: successes.at(-1) ?? null,
    lagSeconds: newest.length ? Math.max(0, Math.round((now.getTime() - Date.parse(newest[0]!)) / 1000)) : null,
    errorCount: erroring.length,
    failedBlobs,
    lastError: lastErr?.last_error ? lastErr.last_error.slice(0, 300) : null,
  };
}
