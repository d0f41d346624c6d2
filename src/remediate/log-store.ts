// The remediation log: plain query functions over remediation_runs / remediation_steps /
// remediation_link_uses. Nothing here ever holds a password or a secret (the playbook never passes one).
import type { Db } from '../store/db.ts';
import type { RunStatus, RunSource, StepResult } from './playbook-types.ts';

export interface RunRow {
  id: string;
  alertId: string;
  tenantId: string;
  userId: string;
  actor: string;
  source: RunSource;
  origin: string | null;
  status: RunStatus | 'running';
  dryRun: boolean;
  undoOf: string | null;
  requestedSteps: string[];
  options: Record<string, unknown>;
  startedAt: string;
  finishedAt: string | null;
  steps: StoredStep[];
}

export interface StoredStep extends StepResult {
  seq: number;
  undoneBy: string | null;
}

export async function insertRun(
  db: Db,
  run: Omit<RunRow, 'steps' | 'finishedAt' | 'status'> & { status: RunRow['status'] },
): Promise<void> {
  await db
    .insertInto('remediation_runs')
    .values({
      id: run.id,
      alert_id: run.alertId,
      tenant_id: run.tenantId,
      user_id: run.userId,
      actor: run.actor,
      source: run.source,
      origin: run.origin,
      status: run.status,
      dry_run: run.dryRun ? 1 : 0,
      undo_of: run.undoOf,
      steps_json: JSON.stringify(run.requestedSteps),
      options_json: JSON.stringify(run.options),
      started_at: run.startedAt,
      finished_at: null,
    })
    .execute();
}

export async function insertStep(db: Db, runId: string, seq: number, r: StepResult): Promise<void> {
  await db
    .insertInto('remediation_steps')
    .values({
      run_id: runId,
      seq,
      step: r.step,
      status: r.status,
      detail: r.detail,
      target: r.target ?? null,
      before_json: r.before === undefined ? null : JSON.stringify(r.before),
      after_json: r.after === undefined ? null : JSON.stringify(r.after),
      items_json: r.items === undefined ? null : JSON.stringify(r.items),
      error_json: r.error === undefined ? null : JSON.stringify(r.error),
      undoable: r.undoable ? 1 : 0,
      undone_by: null,
      started_at: r.startedAt,
      finished_at: r.finishedAt,
    })
    .execute();
}

export async function finishRun(db: Db, runId: string, status: RunStatus, finishedAt: string): Promise<void> {
  await db.updateTable('remediation_runs').set({ status, finished_at: finishedAt }).where('id', '=', runId).execute();
}

export async function markUndone(db: Db, runId: string, seqs: number[], undoRunId: string): Promise<void> {
  if (seqs.length === 0) return;
  await db.updateTable('remediation_steps').set({ undone_by: undoRunId }).where('run_id', '=', runId).where('seq', 'in', seqs).execute();
}

function parse<T>(s: string | null): T | undefined {
  if (s === null) return undefined;
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}

type RunRecord = {
  id: string; alert_id: string; tenant_id: string; user_id: string; actor: string; source: string; origin: string | null;
  status: string; dry_run: number; undo_of: string | null; steps_json: string; options_json: string; started_at: string; finished_at: string | null;
};

async function withSteps(db: Db, rows: RunRecord[]): Promise<RunRow[]> {
  if (rows.length === 0) return [];
  const steps = await db
    .selectFrom('remediation_steps')
    .selectAll()
    .where('run_id', 'in', rows.map((r) => r.id))
    .orderBy('run_id')
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    alertId: r.alert_id,
    tenantId: r.tenant_id,
    userId: r.user_id,
    actor: r.actor,
    source: r.source as RunSource,
    origin: r.origin,
    status: r.status as RunRow['status'],
    dryRun: r.dry_run === 1,
    undoOf: r.undo_of,
    requestedSteps: parse<string[]>(r.steps_json) ?? [],
    options: parse<Record<string, unknown>>(r.options_json) ?? {},
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    steps: steps
      .filter((s) => s.run_id === r.id)
      .map((s) => ({
        seq: s.seq,
        step: s.step as StepResult['step'],
        status: s.status as StepResult['status'],
        detail: s.detail,
        ...(s.target !== null ? { target: s.target } : {}),
        ...(s.before_json !== null ? { before: parse(s.before_json) } : {}),
        ...(s.after_json !== null ? { after: parse(s.after_json) } : {}),
        ...(s.items_json !== null ? { items: parse(s.items_json) } : {}),
        ...(s.error_json !== null ? { error: parse(s.error_json) } : {}),
        undoable: s.undoable === 1,
        undoneBy: s.undone_by,
        startedAt: s.started_at,
        finishedAt: s.finished_at,
      })),
  }));
}

export async function getRun(db: Db, runId: string): Promise<RunRow | undefined> {
  const row = await db.selectFrom('remediation_runs').selectAll().where('id', '=', runId).executeTakeFirst();
  if (!row) return undefined;
  return (await withSteps(db, [row]))[0];
}

export interface RunFilter {
  alertId?: string;
  tenantId?: string;
  /** Runs that started before this ISO time (paging, newest first). */
  before?: string;
  limit?: number;
}

export async function listRuns(db: Db, f: RunFilter = {}): Promise<RunRow[]> {
  let q = db.selectFrom('remediation_runs').selectAll();
  if (f.alertId) q = q.where('alert_id', '=', f.alertId);
  if (f.tenantId) q = q.where('tenant_id', '=', f.tenantId);
  if (f.before) q = q.where('started_at', '<', f.before);
  const rows = await q.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(Math.min(Math.max(f.limit ?? 50, 1), 500)).execute();
  return withSteps(db, rows);
}

/** Records a link's nonce; false when it was used before (single use; the primary key decides races). */
export async function claimLinkNonce(db: Db, use: { nonce: string; alertId: string; actor: string; origin: string | null; at: string }): Promise<boolean> {
  try {
    await db
      .insertInto('remediation_link_uses')
      .values({ nonce: use.nonce, alert_id: use.alertId, run_id: null, actor: use.actor, origin: use.origin, used_at: use.at })
      .execute();
    return true;
  } catch (e) {
    if (await linkUse(db, use.nonce)) return false;
    throw e;
  }
}

export async function setLinkRun(db: Db, nonce: string, runId: string): Promise<void> {
  await db.updateTable('remediation_link_uses').set({ run_id: runId }).where('nonce', '=', nonce).execute();
}

export async function linkUse(db: Db, nonce: string): Promise<{ usedAt: string; actor: string; runId: string | null } | undefined> {
  const r = await db.selectFrom('remediation_link_uses').selectAll().where('nonce', '=', nonce).executeTakeFirst();
  return r ? { usedAt: r.used_at, actor: r.actor, runId: r.run_id } : undefined;
}

/** The runs of one alert, newest first (for the alert detail: alerts' `DetailDeps.remediationRuns`). */
export function remediationRunsForAlert(db: Db, alertId: string): Promise<RunRow[]> {
  return listRuns(db, { alertId, limit: 100 });
}
