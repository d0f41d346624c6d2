// The entry points the web routes and the CLI share: load the alert, choose the steps, run or undo.
import { OperatorError } from '../errors.ts';
import { defaultSteps, isStepId, orderSteps, type StepId } from './catalogue.ts';
import { loadAlert, loadRelatedAlerts } from './alert-source.ts';
import type { RemediationAlert } from './evidence.ts';
import { runRemediation, type PlaybookDeps, type RuleAction } from './playbook.ts';
import type { RunResult, RunSource, StepResult } from './playbook-types.ts';

export interface RemediateInput {
  alertId: string;
  /** Step ids; default: the alert behaviour's pre-selection. */
  steps?: readonly string[];
  actor: string;
  source: RunSource;
  origin?: string;
  dryRun?: boolean;
  ruleAction?: RuleAction;
  passwordMode?: 'random' | 'force-change';
  linkNonce?: string;
  onStep?: (r: StepResult) => void;
}

/** Validates step ids (unknown ones listed together). */
export function parseSteps(input: unknown): StepId[] {
  const list = typeof input === 'string' ? input.split(',') : Array.isArray(input) ? input : [];
  const names = list.map((s) => String(s).trim()).filter(Boolean);
  const bad = names.filter((s) => !isStepId(s));
  if (bad.length) throw new OperatorError('TW_REMEDIATE_BAD_STEPS', { steps: bad.map((b) => b.slice(0, 40)).join(', ') });
  return orderSteps(names as StepId[]);
}

export async function requireAlert(deps: Pick<PlaybookDeps, 'db'>, alertId: string): Promise<RemediationAlert> {
  const alert = await loadAlert(deps.db, alertId);
  if (!alert) throw new OperatorError('TW_REMEDIATE_ALERT_NOT_FOUND', { alertId: alertId.slice(0, 100) });
  return alert;
}

export async function remediateAlert(deps: PlaybookDeps, input: RemediateInput, alert?: RemediationAlert): Promise<RunResult> {
  const a = alert ?? (await requireAlert(deps, input.alertId));
  const steps = input.steps === undefined ? defaultSteps(a.behaviour) : parseSteps(input.steps);
  if (steps.length === 0) throw new OperatorError('TW_USAGE', { detail: 'no remediation step selected' });
  const related = await loadRelatedAlerts(deps.db, a);
  return runRemediation(deps, {
    alert: a, related, steps, actor: input.actor, source: input.source, origin: input.origin, dryRun: input.dryRun,
    ruleAction: input.ruleAction, passwordMode: input.passwordMode, linkNonce: input.linkNonce, onStep: input.onStep,
  });
}
