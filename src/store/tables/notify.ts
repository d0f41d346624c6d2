// Tables owned by notify/. Portable types only (see store/schema.ts for the conventions).
import type { Generated } from 'kysely';

export interface NotifyTables {
  /**
   * The transactional outbox: one row per channel per alert event, written in the alert's transaction.
   * `id` is the idempotency key sent to receivers (stable across retries and crashes).
   */
  notify_outbox: {
    id: string;
    alert_id: string;
    /** created | escalated | test */
    event: string;
    channel: string;
    /** pending | sending | sent | dead */
    status: string;
    attempts: number;
    next_attempt_at: string;
    lease_owner: string | null;
    lease_until: string | null;
    last_error: string | null;
    /** JSON: the NotificationView snapshot at event time (what every attempt renders). */
    view_json: string;
    created_at: string;
    sent_at: string | null;
  };
  /** One row per delivery attempt (for the alert detail and health). */
  notify_attempts: {
    id: Generated<number>;
    outbox_id: string;
    attempt: number;
    at: string;
    ok: number;
    retry: number;
    error: string | null;
    duration_ms: number;
  };
}
