// Tables owned by remediate/: the remediation log (one row per run, one per step) and the nonces of
// signed links already used (single use).
import type { Generated } from 'kysely';

export interface RemediateTables {
  /** One row per remediation run (also dry runs and undo runs). */
  remediation_runs: {
    id: string;
    alert_id: string;
    tenant_id: string;
    user_id: string;
    /** Who pressed: console username, the name typed on a link's page, or the CLI's OS user. */
    actor: string;
    /** 'link' | 'console' | 'cli' | 'api' */
    source: string;
    /** From where: client IP (+ user agent) for HTTP, host for the CLI. */
    origin: string | null;
    /** 'running' | 'succeeded' | 'partially-succeeded' | 'failed' | 'dry-run' */
    status: string;
    dry_run: number;
    /** The run this run undoes, when it is an undo run. */
    undo_of: string | null;
    /** JSON array of the step ids asked for. */
    steps_json: string;
    /** JSON: options (ruleAction, passwordMode, link nonce …); never a secret. */
    options_json: string;
    started_at: string;
    finished_at: string | null;
  };
  /** One row per step of a run, with the before/after values and Microsoft's error when it failed. */
  remediation_steps: {
    id: Generated<number>;
    run_id: string;
    seq: number;
    step: string;
    /** 'succeeded' | 'failed' | 'skipped' | 'planned' */
    status: string;
    detail: string;
    target: string | null;
    before_json: string | null;
    after_json: string | null;
    /** JSON: per-item results (one per inbox rule …). */
    items_json: string | null;
    /** JSON: { code, message, status, fix } — Microsoft's error, scrubbed. */
    error_json: string | null;
    undoable: number;
    /** Id of the undo run that reverted this step. */
    undone_by: string | null;
    started_at: string;
    finished_at: string;
  };
  /** Signed-link nonces already used: a link works once. */
  remediation_link_uses: {
    nonce: string;
    alert_id: string;
    run_id: string | null;
    actor: string;
    origin: string | null;
    used_at: string;
  };
}
