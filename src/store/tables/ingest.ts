// Tables owned by ingest/. Timestamps are ISO-8601 UTC text; JSON is TEXT; booleans INTEGER 0/1.

export interface IngestTables {
  /** One row per tenant × content type: how far listing is complete, and what went wrong last. */
  ingest_cursors: {
    tenant_id: string;
    content_type: string;
    /** Exclusive end of the last fully listed window (contentCreated); null before the first cycle. */
    listed_to: string | null;
    /** Newest CreationTime among records stored for this tenant × content type (lag = now − this). */
    newest_record_at: string | null;
    last_poll_at: string | null;
    last_success_at: string | null;
    last_error: string | null;
    last_error_at: string | null;
    /** Content that fell out of the 7-day retention before we could list it (never silently). */
    lost_from: string | null;
    lost_to: string | null;
    /** Throttled: no requests for this tenant × content type before this time. */
    backoff_until: string | null;
    backoff_level: number;
    updated_at: string;
  };
  /**
   * One row per listed content blob: the claim row. `pending` → `claimed` (lease) → `done`; `failed`
   * rows are retried after `next_attempt_at` until `content_expiration`; `expired` rows are given up.
   */
  ingest_blobs: {
    tenant_id: string;
    content_id: string;
    content_type: string;
    content_uri: string;
    content_created: string | null;
    content_expiration: string | null;
    status: string; // pending | claimed | done | failed | expired
    claimed_by: string | null;
    lease_until: string | null;
    attempts: number;
    next_attempt_at: string | null;
    last_error: string | null;
    records: number;
    duplicates: number;
    malformed: number;
    listed_at: string;
    done_at: string | null;
  };
  /** Every record processed, once, by tenant + Id (kept 7 days + margin); raw JSON bounded. */
  ingest_records: {
    tenant_id: string;
    record_id: string;
    content_type: string;
    content_id: string;
    record_type: number | null;
    operation: string | null;
    user_id: string | null;
    creation_time: string | null;
    raw_json: string;
    raw_truncated: number;
    stored_at: string;
  };
}
