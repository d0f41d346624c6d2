// The shapes a remediation run returns (data, not exceptions: one StepResult per step).
import type { StepId, UndoStepId } from './catalogue.ts';

export type StepStatus = 'succeeded' | 'failed' | 'skipped' | 'planned';
export type RunStatus = 'succeeded' | 'partially-succeeded' | 'failed' | 'dry-run';
export type RunSource = 'link' | 'console' | 'cli' | 'api';

/** Microsoft's error (scrubbed), plus what to do when we know. */
export interface StepError {
  code?: string;
  message: string;
  status?: number;
  fix?: string;
}

/** One thing a step touched (an inbox rule, a transport rule, a consent grant). */
export interface StepItem {
  kind: 'inbox-rule' | 'transport-rule' | 'consent-grant';
  name: string;
  identity: string;
  status: StepStatus;
  why?: string;
  hidden?: boolean;
  before?: unknown;
  after?: unknown;
  error?: StepError;
}

export interface StepResult {
  step: StepId | UndoStepId;
  status: StepStatus;
  /** One human line: what changed, what would change, or why not. */
  detail: string;
  /** Whom/what the step acted on (UPN, mailbox). */
  target?: string;
  before?: unknown;
  after?: unknown;
  items?: StepItem[];
  error?: StepError;
  /** True when an undo run can revert what this step changed. */
  undoable: boolean;
  startedAt: string;
  finishedAt: string;
}

export interface RunResult {
  runId: string;
  alertId: string;
  status: RunStatus;
  dryRun: boolean;
  actor: string;
  source: RunSource;
  undoOf?: string;
  steps: StepResult[];
  startedAt: string;
  finishedAt: string;
  /**
   * The new password of a `reset-password` step in `random` mode: returned to the caller who pressed,
   * to show once. It is in no log, no table, no notification.
   */
  newPassword?: string;
}

export function runStatus(steps: readonly StepResult[], dryRun: boolean): RunStatus {
  if (dryRun) return 'dry-run';
  const failed = steps.filter((s) => s.status === 'failed').length;
  const ok = steps.filter((s) => s.status === 'succeeded').length;
  if (failed === 0) return 'succeeded';
  return ok > 0 ? 'partially-succeeded' : 'failed';
}
