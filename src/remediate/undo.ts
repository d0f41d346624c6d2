// Undo: reverts the reversible steps of an earlier run from the values that run recorded (unblock
// sign-in, re-enable the rules it disabled, restore forwarding, turn OWA back on). Revoked sessions, a
// reset password and removed rules cannot come back; they are listed as skipped with why.
import { randomUUID } from 'node:crypto';
import { OperatorError } from '../errors.ts';
import { nowIso } from '../store/db.ts';
import type { UndoStepId } from './catalogue.ts';
import { finishRun, getRun, insertRun, insertStep, markUndone, type RunRow, type StoredStep } from './log-store.ts';
import { describeForwarding, stepError, type PlaybookDeps } from './playbook.ts';
import type { MailboxForwarding } from './ports.ts';
import { runStatus, type RunResult, type RunSource, type StepItem, type StepResult } from './playbook-types.ts';

export interface UndoRequest {
  runId: string;
  actor: string;
  source: RunSource;
  origin?: string;
  dryRun?: boolean;
  onStep?: (r: StepResult) => void;
}

type Outcome = Omit<StepResult, 'step' | 'startedAt' | 'finishedAt'>;

const WHY_NOT: Record<string, string> = {
  'revoke-sessions': 'revoked sessions cannot be restored (the user signs in again)',
  'reset-password': 'the old password cannot be restored (and should not be: the attacker knows it)',
  'remove-transport-rule': 'Microsoft has no restore for a removed transport rule; re-create it from the recorded before values',
  'revoke-consent':
    'not reversible here: re-creating the grant would hand the application the access the alert is about back; if it was legitimate, consent again (the recorded before values — clientId, consentType, principalId, resourceId, scope — are what POST /oauth2PermissionGrants needs)',
};

async function undoStep(deps: PlaybookDeps, run: RunRow, s: StoredStep, dry: boolean): Promise<{ step: UndoStepId | StoredStep['step']; out: Outcome }> {
  const tenant = run.tenantId;
  const upn = run.userId;
  switch (s.step) {
    case 'block-sign-in': {
      const u = await deps.graph.getUser(tenant, upn);
      const before = { accountEnabled: u.accountEnabled ?? null };
      if (u.accountEnabled === true) return { step: 'unblock-sign-in', out: { status: 'skipped', detail: `sign-in of ${upn} is already allowed`, target: upn, before, undoable: false } };
      if (dry) return { step: 'unblock-sign-in', out: { status: 'planned', detail: `would set accountEnabled of ${upn} back to true`, target: upn, before, after: { accountEnabled: true }, undoable: false } };
      await deps.graph.setAccountEnabled(tenant, u.id, true);
      const again = await deps.graph.getUser(tenant, u.id);
      const after = { accountEnabled: again.accountEnabled ?? null };
      return { step: 'unblock-sign-in', out: again.accountEnabled === true
        ? { status: 'succeeded', detail: `allowed sign-in of ${upn} again (accountEnabled false → true)`, target: upn, before, after, undoable: false }
        : { status: 'failed', detail: `${upn} still reads accountEnabled=${String(again.accountEnabled)}`, target: upn, before, after, undoable: false } };
    }
    case 'disable-inbox-rules': {
      const disabled = (s.items ?? []).filter((i) => i.status === 'succeeded' && (i.after as { enabled?: boolean } | undefined)?.enabled === false);
      if (disabled.length === 0) return { step: 'enable-inbox-rules', out: { status: 'skipped', detail: 'the run disabled no rule (removed rules cannot be restored)', target: upn, undoable: false } };
      const current = await deps.exchange.getInboxRules(tenant, upn);
      const items: StepItem[] = [];
      for (const it of disabled) {
        const r = current.find((x) => x.ruleIdentity === it.identity);
        const base = { kind: 'inbox-rule' as const, name: it.name, identity: it.identity, hidden: it.hidden };
        if (!r) { items.push({ ...base, status: 'failed', error: { message: 'the rule no longer exists' } }); continue; }
        if (r.enabled) { items.push({ ...base, status: 'skipped', why: 'already enabled', before: { enabled: true } }); continue; }
        if (dry) { items.push({ ...base, status: 'planned', before: { enabled: false }, after: { enabled: true } }); continue; }
        try {
          await deps.exchange.enableInboxRule(tenant, upn, r);
          items.push({ ...base, status: 'succeeded', before: { enabled: false }, after: { enabled: true } });
        } catch (e) {
          items.push({ ...base, status: 'failed', error: stepError(e) });
        }
      }
      const ok = items.filter((i) => i.status === (dry ? 'planned' : 'succeeded')).map((i) => `"${i.name}"`);
      const failed = items.filter((i) => i.status === 'failed');
      const status = failed.length ? 'failed' : ok.length ? (dry ? 'planned' : 'succeeded') : 'skipped';
      const detail = failed.length
        ? `re-enabled ${ok.length} rule(s); failed on ${failed.map((i) => `"${i.name}": ${i.error?.message}`).join('; ')}`
        : ok.length ? `${dry ? 'would re-enable' : 're-enabled'} ${ok.join(', ')}` : 'the rules are already enabled';
      return { step: 'enable-inbox-rules', out: { status, detail, target: upn, items, ...(failed.length ? { error: failed[0].error } : {}), undoable: false } };
    }
    case 'clear-forwarding': {
      const b = (s.before ?? {}) as Partial<MailboxForwarding>;
      const restore: MailboxForwarding = {
        forwardingSmtpAddress: b.forwardingSmtpAddress ?? null,
        forwardingAddress: b.forwardingAddress ?? null,
        deliverToMailboxAndForward: b.deliverToMailboxAndForward ?? false,
      };
      const now = await deps.exchange.getForwarding(tenant, upn);
      if (dry) return { step: 'restore-forwarding', out: { status: 'planned', detail: `would restore ${describeForwarding(restore as unknown as Record<string, unknown>)} on ${upn}`, target: upn, before: now, after: restore, undoable: false } };
      await deps.exchange.setForwarding(tenant, upn, restore);
      const after = await deps.exchange.getForwarding(tenant, upn);
      const same = after.forwardingAddress === restore.forwardingAddress && after.deliverToMailboxAndForward === restore.deliverToMailboxAndForward &&
        (after.forwardingSmtpAddress ?? '').replace(/^smtp:/i, '').toLowerCase() === (restore.forwardingSmtpAddress ?? '').replace(/^smtp:/i, '').toLowerCase();
      return { step: 'restore-forwarding', out: same
        ? { status: 'succeeded', detail: `restored ${describeForwarding(restore as unknown as Record<string, unknown>)} on ${upn}`, target: upn, before: now, after, undoable: false }
        : { status: 'failed', detail: `Set-Mailbox succeeded but forwarding reads ${describeForwarding(after as unknown as Record<string, unknown>)}`, target: upn, before: now, after, undoable: false } };
    }
    case 'disable-owa': {
      const enabled = await deps.exchange.getOwaEnabled(tenant, upn);
      if (enabled) return { step: 'enable-owa', out: { status: 'skipped', detail: 'Outlook on the web is already on', target: upn, before: { owaEnabled: true }, undoable: false } };
      if (dry) return { step: 'enable-owa', out: { status: 'planned', detail: `would turn Outlook on the web back on for ${upn}`, target: upn, before: { owaEnabled: false }, after: { owaEnabled: true }, undoable: false } };
      await deps.exchange.setOwaEnabled(tenant, upn, true);
      const after = { owaEnabled: await deps.exchange.getOwaEnabled(tenant, upn) };
      return { step: 'enable-owa', out: { status: after.owaEnabled ? 'succeeded' : 'failed', detail: after.owaEnabled ? `turned Outlook on the web back on for ${upn}` : 'OWAEnabled still reads false', target: upn, before: { owaEnabled: false }, after, undoable: false } };
    }
    default:
      return { step: s.step, out: { status: 'skipped', detail: `cannot be undone: ${WHY_NOT[s.step] ?? 'not reversible'}`, undoable: false } };
  }
}

/** Reverts what run `runId` changed, as a new run (undo_of = runId) in the log. */
export async function undoRun(deps: PlaybookDeps, req: UndoRequest): Promise<RunResult> {
  const run = await getRun(deps.db, req.runId);
  if (!run) throw new OperatorError('TW_REMEDIATE_RUN_NOT_FOUND', { runId: req.runId });
  if (run.dryRun) throw new OperatorError('TW_REMEDIATE_NOT_UNDOABLE', { runId: req.runId, reason: 'it was a dry run' });
  if (run.undoOf) throw new OperatorError('TW_REMEDIATE_NOT_UNDOABLE', { runId: req.runId, reason: 'it is itself an undo run' });
  if (run.status === 'running') throw new OperatorError('TW_REMEDIATE_NOT_UNDOABLE', { runId: req.runId, reason: 'it is still running' });
  const candidates = run.steps.filter((s) => s.status === 'succeeded' || s.status === 'failed');
  const reversible = candidates.filter((s) => s.undoable && !s.undoneBy);
  if (reversible.length === 0) {
    const reason = candidates.some((s) => s.undoable && s.undoneBy) ? `already undone by run ${candidates.find((s) => s.undoneBy)?.undoneBy}` : `none of its steps changed anything reversible (${candidates.map((s) => `${s.step}: ${WHY_NOT[s.step] ?? 'not reversible'}`).join('; ')})`;
    throw new OperatorError('TW_REMEDIATE_NOT_UNDOABLE', { runId: req.runId, reason });
  }
  const clock = () => nowIso(deps.now?.());
  const dry = req.dryRun === true;
  const undoId = randomUUID();
  const startedAt = clock();
  // Reverse order: restore the mailbox before allowing sign-in again.
  const pending = [...candidates].filter((s) => !s.undoneBy).reverse();
  await insertRun(deps.db, {
    id: undoId, alertId: run.alertId, tenantId: run.tenantId, userId: run.userId, actor: req.actor, source: req.source, origin: req.origin ?? null,
    status: 'running', dryRun: dry, undoOf: run.id, requestedSteps: pending.map((s) => s.step), options: {}, startedAt,
  });
  const results: StepResult[] = [];
  const undoneSeqs: number[] = [];
  for (const [i, s] of pending.entries()) {
    const s0 = clock();
    let step: StepResult['step'] = s.step;
    let out: Outcome;
    if (!s.undoable) {
      out = { status: 'skipped', detail: `${s.step} cannot be undone: ${WHY_NOT[s.step] ?? 'it changed nothing reversible'}`, undoable: false };
    } else {
      try {
        ({ step, out } = await undoStep(deps, run, s, dry));
      } catch (e) {
        const err = stepError(e);
        out = { status: 'failed', detail: `undo of ${s.step} failed: ${err.message}`, error: err, undoable: false };
      }
    }
    const r: StepResult = { step, ...out, startedAt: s0, finishedAt: clock() };
    results.push(r);
    await insertStep(deps.db, undoId, i, r);
    if (!dry && s.undoable && (r.status === 'succeeded' || r.status === 'skipped')) undoneSeqs.push(s.seq);
    req.onStep?.(r);
  }
  if (!dry) await markUndone(deps.db, run.id, undoneSeqs, undoId);
  const status = runStatus(results, dry);
  const finishedAt = clock();
  await finishRun(deps.db, undoId, status, finishedAt);
  await deps.db
    .insertInto('audit_trail')
    .values({
      at: finishedAt, actor: req.actor, action: dry ? 'remediation.undo-dry-run' : 'remediation.undo', subject: run.alertId,
      detail_json: JSON.stringify({ runId: undoId, undoOf: run.id, source: req.source, origin: req.origin ?? null, status, steps: results.map((x) => ({ step: x.step, status: x.status })) }),
    })
    .execute();
  return { runId: undoId, alertId: run.alertId, status, dryRun: dry, actor: req.actor, source: req.source, undoOf: run.id, steps: results, startedAt, finishedAt };
}
