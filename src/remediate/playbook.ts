// The playbook: runs the chosen steps in catalogue order, each small and idempotent (it reads the current
// value first, changes only what differs, and reads back), records one StepResult per step with
// before/after values, and goes on after a failed step. A dry run reads and reports, changing nothing.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.ts';
import type { Db } from '../store/db.ts';
import { nowIso } from '../store/db.ts';
import { scrub, type Logger } from '../log.ts';
import { orderSteps, stepSpec, type StepId } from './catalogue.ts';
import { hasRuleIndicators, indicatorsOf, matchRule, type Indicators, type InboxRuleView, type RemediationAlert } from './evidence.ts';
import { generatePassword } from './password.ts';
import { finishRun, insertRun, insertStep } from './log-store.ts';
import type { MailboxForwarding, RemediationExchange, RemediationGraph } from './ports.ts';
import { runStatus, type RunResult, type RunSource, type StepError, type StepItem, type StepResult } from './playbook-types.ts';

export interface PlaybookDeps {
  db: Db;
  graph: RemediationGraph;
  exchange: RemediationExchange;
  config: Readonly<Pick<Config, 'remediate'>>;
  logger?: Logger;
  now?: () => Date;
}

export type RuleAction = 'disable' | 'remove';

export interface RunRequest {
  alert: RemediationAlert;
  /** Other open alerts of the same tenant and user: their evidence also names the attacker's rules. */
  related?: RemediationAlert[];
  steps: readonly StepId[];
  actor: string;
  source: RunSource;
  origin?: string;
  dryRun?: boolean;
  ruleAction?: RuleAction;
  passwordMode?: 'random' | 'force-change';
  /** The signed link's nonce, when the run came from one (recorded in the run's options). */
  linkNonce?: string;
  /** Called after each step (the confirmation page streams results live). */
  onStep?: (r: StepResult) => void;
}

/** What to do when the app lacks the password-reset permission or role (m365-api.md §4). */
export const PASSWORD_FIX =
  'Grant the application User-PasswordProfile.ReadWrite.All (Microsoft Graph, application) with admin consent, and assign its service principal the User Administrator Entra role (Privileged Authentication Administrator for admin users); federated users change passwords on-premises.';

/** What to do when the app may not delete delegated permission grants. */
export const CONSENT_FIX =
  'Grant the application DelegatedPermissionGrant.ReadWrite.All (Microsoft Graph, application) with admin consent; listing grants needs Directory.Read.All.';

interface Ctx {
  deps: PlaybookDeps;
  req: RunRequest;
  tenantId: string;
  upn: string;
  dry: boolean;
  ind: Indicators;
  /** Values that must never leave the process except to the caller (the new password). */
  secrets: string[];
  newPassword?: string;
  userId?: string;
}

type Outcome = Omit<StepResult, 'step' | 'startedAt' | 'finishedAt'>;

/** Microsoft's error as a step records it: code, message, status, fix; scrubbed and without our secrets. */
export function stepError(e: unknown, secrets: readonly string[] = [], fix?: string): StepError {
  const err = e as { upstreamCode?: string; code?: string; upstreamMessage?: string; message?: string; status?: number; fix?: string };
  let message = String(err?.upstreamMessage ?? err?.message ?? e);
  if (err?.upstreamMessage && err.message && !err.message.includes(err.upstreamMessage)) message = `${err.upstreamMessage} (${err.message})`;
  for (const s of secrets) if (s) message = message.split(s).join('[redacted]');
  message = scrub(message).slice(0, 1000);
  const out: StepError = { message };
  const code = err?.upstreamCode ?? err?.code;
  if (typeof code === 'string') out.code = code;
  if (typeof err?.status === 'number') out.status = err.status;
  const f = fix ?? err?.fix;
  if (f) out.fix = f;
  return out;
}

function isPermissionError(e: StepError): boolean {
  return e.status === 403 || e.status === 401 || /Authorization_RequestDenied|AccessDenied|Forbidden|PERMISSION/i.test(`${e.code ?? ''}`);
}

async function userIdOf(ctx: Ctx): Promise<{ id: string; accountEnabled?: boolean }> {
  const u = await ctx.deps.graph.getUser(ctx.tenantId, ctx.upn);
  ctx.userId = u.id;
  return u;
}

const STEPS: Record<StepId, (ctx: Ctx) => Promise<Outcome>> = {
  async 'block-sign-in'(ctx) {
    const u = await userIdOf(ctx);
    const before = { accountEnabled: u.accountEnabled ?? null };
    if (u.accountEnabled === false) return { status: 'skipped', detail: `sign-in of ${ctx.upn} is already blocked`, target: ctx.upn, before, undoable: false };
    if (ctx.dry) return { status: 'planned', detail: `would set accountEnabled of ${ctx.upn} from true to false`, target: ctx.upn, before, after: { accountEnabled: false }, undoable: true };
    await ctx.deps.graph.setAccountEnabled(ctx.tenantId, u.id, false);
    const again = await ctx.deps.graph.getUser(ctx.tenantId, u.id);
    const after = { accountEnabled: again.accountEnabled ?? null };
    if (again.accountEnabled !== false) return { status: 'failed', detail: `Graph accepted the change but ${ctx.upn} still reads accountEnabled=${String(again.accountEnabled)}`, target: ctx.upn, before, after, undoable: false };
    return { status: 'succeeded', detail: `blocked sign-in of ${ctx.upn} (accountEnabled true → false)`, target: ctx.upn, before, after, undoable: true };
  },

  async 'revoke-sessions'(ctx) {
    const u = await userIdOf(ctx);
    if (ctx.dry) return { status: 'planned', detail: `would revoke every refresh token and session of ${ctx.upn}`, target: ctx.upn, undoable: false };
    const ok = await ctx.deps.graph.revokeSignInSessions(ctx.tenantId, u.id);
    const at = nowIso(ctx.deps.now?.());
    if (!ok) return { status: 'failed', detail: 'Graph answered revokeSignInSessions with value false', target: ctx.upn, error: { message: 'revokeSignInSessions returned false' }, undoable: false };
    // revokeSignInSessions answers 200 + {"value":true}, not 204 (a documented known issue); it takes minutes to apply.
    return { status: 'succeeded', detail: `revoked the sessions of ${ctx.upn} (applies within minutes)`, target: ctx.upn, after: { sessionsRevokedAt: at }, undoable: false };
  },

  async 'reset-password'(ctx) {
    const mode = ctx.req.passwordMode ?? ctx.deps.config.remediate.passwordMode ?? 'random';
    const u = await userIdOf(ctx);
    const what = mode === 'random'
      ? 'a new random password, shown once to the person who pressed, to be changed at next sign-in'
      : 'a random password nobody sees, with a forced change at next sign-in (the user resets it through self-service or the helpdesk)';
    if (ctx.dry) return { status: 'planned', detail: `would give ${ctx.upn} ${what}`, target: ctx.upn, after: { forceChangePasswordNextSignIn: true, mode }, undoable: false };
    const password = generatePassword();
    ctx.secrets.push(password);
    try {
      await ctx.deps.graph.setPassword(ctx.tenantId, u.id, password, true);
    } catch (e) {
      const err = stepError(e, ctx.secrets);
      if (isPermissionError(err)) err.fix = PASSWORD_FIX;
      return { status: 'failed', detail: `could not reset the password of ${ctx.upn}: ${err.message}`, target: ctx.upn, error: err, undoable: false };
    }
    if (mode === 'random') ctx.newPassword = password;
    return {
      status: 'succeeded',
      detail: mode === 'random'
        ? `set a new random password for ${ctx.upn} (shown once to ${ctx.req.actor}; change forced at next sign-in)`
        : `replaced the password of ${ctx.upn} with one nobody knows; change forced at next sign-in`,
      target: ctx.upn,
      after: { forceChangePasswordNextSignIn: true, mode, passwordShownOnce: mode === 'random' },
      undoable: false,
    };
  },

  async 'disable-inbox-rules'(ctx) {
    const remove = ctx.req.ruleAction === 'remove';
    if (!hasRuleIndicators(ctx.ind)) {
      return { status: 'skipped', detail: 'the alert names no inbox rule or forward destination; no rule is touched (never "all rules")', target: ctx.upn, undoable: false };
    }
    // Hidden rules (MAPI-hidden attacker rules) are only listed with -IncludeHidden.
    const rules = await ctx.deps.exchange.getInboxRules(ctx.tenantId, ctx.upn);
    const matched = rules.map((r) => ({ rule: r, why: matchRule(r, ctx.ind) })).filter((m): m is { rule: InboxRuleView; why: string } => m.why !== undefined);
    const before = { rules: rules.map((r) => ({ name: r.name, identity: r.ruleIdentity, enabled: r.enabled, hidden: r.hidden ?? false, matched: matched.some((m) => m.rule === r) })) };
    if (matched.length === 0) {
      return { status: 'skipped', detail: `none of the ${rules.length} inbox rule(s) of ${ctx.upn} matches the alert's evidence (already removed?)`, target: ctx.upn, before, undoable: false };
    }
    const items: StepItem[] = [];
    for (const { rule, why } of matched) {
      const base = { kind: 'inbox-rule' as const, name: rule.name, identity: rule.ruleIdentity, why, hidden: rule.hidden ?? false, before: describeRule(rule) };
      if (!remove && !rule.enabled) {
        items.push({ ...base, status: 'skipped', after: { enabled: false }, why: `${why}; already disabled` });
        continue;
      }
      if (ctx.dry) {
        items.push({ ...base, status: 'planned', after: remove ? { removed: true } : { enabled: false } });
        continue;
      }
      try {
        if (remove) await ctx.deps.exchange.removeInboxRule(ctx.tenantId, ctx.upn, rule);
        else await ctx.deps.exchange.disableInboxRule(ctx.tenantId, ctx.upn, rule);
        items.push({ ...base, status: 'succeeded', after: remove ? { removed: true } : { enabled: false } });
      } catch (e) {
        items.push({ ...base, status: 'failed', error: stepError(e, ctx.secrets) });
      }
    }
    let after: unknown;
    if (!ctx.dry && items.some((i) => i.status === 'succeeded')) {
      try {
        const now = await ctx.deps.exchange.getInboxRules(ctx.tenantId, ctx.upn);
        after = { rules: now.map((r) => ({ name: r.name, identity: r.ruleIdentity, enabled: r.enabled, hidden: r.hidden ?? false })) };
        for (const it of items) {
          if (it.status !== 'succeeded') continue;
          const r = now.find((x) => x.ruleIdentity === it.identity);
          if (remove ? r !== undefined : r?.enabled !== false) {
            it.status = 'failed';
            it.error = { message: remove ? 'the rule is still listed after Remove-InboxRule' : 'the rule still reads Enabled after Disable-InboxRule' };
          }
        }
      } catch (e) {
        ctx.deps.logger?.warn({ err: stepError(e, ctx.secrets) }, 'could not read inbox rules back after the change');
      }
    }
    const verb = remove ? 'removed' : 'disabled';
    const names = (st: string) => items.filter((i) => i.status === st).map((i) => `"${i.name}"${i.hidden ? ' (hidden)' : ''}`);
    const failed = items.filter((i) => i.status === 'failed');
    const done = names(ctx.dry ? 'planned' : 'succeeded');
    const untouched = rules.length - matched.length;
    const tail = `; ${untouched} other rule(s) left untouched`;
    if (ctx.dry) {
      const status = done.length ? 'planned' : 'skipped';
      return { status, detail: done.length ? `would ${remove ? 'remove' : 'disable'} ${done.join(', ')}${tail}` : `matching rule(s) already disabled${tail}`, target: ctx.upn, before, items, undoable: !remove };
    }
    if (failed.length) {
      return {
        status: 'failed',
        detail: `${verb} ${done.length} rule(s)${done.length ? ` (${done.join(', ')})` : ''}; failed on ${failed.map((i) => `"${i.name}": ${i.error?.message ?? '?'}`).join('; ')}${tail}`,
        target: ctx.upn, before, after, items, error: failed[0].error, undoable: !remove && done.length > 0,
      };
    }
    if (done.length === 0) return { status: 'skipped', detail: `the matching rule(s) are already disabled${tail}`, target: ctx.upn, before, items, undoable: false };
    return { status: 'succeeded', detail: `${verb} ${done.join(', ')}${tail}`, target: ctx.upn, before, after, items, undoable: !remove };
  },

  async 'clear-forwarding'(ctx) {
    const fw = await ctx.deps.exchange.getForwarding(ctx.tenantId, ctx.upn);
    const before: Record<string, unknown> = { ...fw };
    if (fw.forwardingAddress) {
      // ForwardingAddress is a recipient identity (often a mail contact pointing outside), not an address.
      const r = await ctx.deps.exchange.describeRecipient(ctx.tenantId, fw.forwardingAddress).catch(() => undefined);
      if (r) before.forwardingAddressResolved = r;
    }
    if (!fw.forwardingSmtpAddress && !fw.forwardingAddress && !fw.deliverToMailboxAndForward) {
      return { status: 'skipped', detail: `${ctx.upn} has no mailbox forwarding`, target: ctx.upn, before, undoable: false };
    }
    const cleared: MailboxForwarding = { forwardingSmtpAddress: null, forwardingAddress: null, deliverToMailboxAndForward: false };
    const desc = describeForwarding(before);
    if (ctx.dry) return { status: 'planned', detail: `would clear ${desc} on ${ctx.upn}`, target: ctx.upn, before, after: cleared, undoable: true };
    await ctx.deps.exchange.setForwarding(ctx.tenantId, ctx.upn, cleared);
    const after = await ctx.deps.exchange.getForwarding(ctx.tenantId, ctx.upn);
    if (after.forwardingSmtpAddress || after.forwardingAddress || after.deliverToMailboxAndForward) {
      return { status: 'failed', detail: `Set-Mailbox succeeded but ${ctx.upn} still forwards (${describeForwarding(after as unknown as Record<string, unknown>)})`, target: ctx.upn, before, after, undoable: true };
    }
    return { status: 'succeeded', detail: `cleared ${desc} on ${ctx.upn}`, target: ctx.upn, before, after, undoable: true };
  },

  async 'disable-owa'(ctx) {
    const enabled = await ctx.deps.exchange.getOwaEnabled(ctx.tenantId, ctx.upn);
    const before = { owaEnabled: enabled };
    if (!enabled) return { status: 'skipped', detail: `Outlook on the web is already off for ${ctx.upn}`, target: ctx.upn, before, undoable: false };
    if (ctx.dry) return { status: 'planned', detail: `would set OWAEnabled of ${ctx.upn} to false`, target: ctx.upn, before, after: { owaEnabled: false }, undoable: true };
    await ctx.deps.exchange.setOwaEnabled(ctx.tenantId, ctx.upn, false);
    const after = { owaEnabled: await ctx.deps.exchange.getOwaEnabled(ctx.tenantId, ctx.upn) };
    if (after.owaEnabled) return { status: 'failed', detail: 'Set-CASMailbox succeeded but OWAEnabled still reads true', target: ctx.upn, before, after, undoable: false };
    return { status: 'succeeded', detail: `turned Outlook on the web off for ${ctx.upn}`, target: ctx.upn, before, after, undoable: true };
  },

  async 'remove-transport-rule'(ctx) {
    if (ctx.ind.transportRuleNames.size === 0) return { status: 'skipped', detail: 'the alert names no transport rule', undoable: false };
    const rules = await ctx.deps.exchange.getTransportRules(ctx.tenantId);
    const matched = rules.filter((r) => ctx.ind.transportRuleNames.has(r.name.trim().toLowerCase()));
    if (matched.length === 0) return { status: 'skipped', detail: `no transport rule named in the evidence exists (${[...ctx.ind.transportRuleNames].join(', ')})`, undoable: false };
    const items: StepItem[] = [];
    for (const r of matched) {
      const base = { kind: 'transport-rule' as const, name: r.name, identity: r.identity, before: r };
      if (ctx.dry) { items.push({ ...base, status: 'planned', after: { removed: true } }); continue; }
      try {
        await ctx.deps.exchange.removeTransportRule(ctx.tenantId, r.identity);
        items.push({ ...base, status: 'succeeded', after: { removed: true } });
      } catch (e) {
        items.push({ ...base, status: 'failed', error: stepError(e, ctx.secrets) });
      }
    }
    return summarise(ctx, items, 'transport rule', 'remove', 'removed');
  },

  async 'revoke-consent'(ctx) {
    const g = ctx.deps.graph;
    if (ctx.ind.appIds.size === 0) return { status: 'skipped', detail: 'the alert names no application; no consent grant is touched (never "all grants")', undoable: false };
    // The consenting user: a Principal grant is in scope only when it is this user's.
    let user: { id: string } = { id: '' };
    try {
      user = await userIdOf(ctx);
    } catch (e) {
      // An admin-consent alert may name an actor that is no user here; its tenant-wide grants are still in scope.
      if (ctx.ind.adminConsentAppIds.size === 0) throw e;
    }
    const items: StepItem[] = [];
    const seen = new Set<string>();
    let untouched = 0;
    for (const appId of ctx.ind.appIds) {
      // clientId is the app's service principal object id (what the consent record's ObjectId / Target names).
      const grants = await g.listConsentGrants(ctx.tenantId, { clientId: appId });
      for (const gr of grants) {
        if (seen.has(gr.id)) continue;
        seen.add(gr.id);
        const admin = gr.consentType.toLowerCase() === 'allprincipals';
        const mine = !admin && user.id !== '' && gr.principalId !== null && gr.principalId.toLowerCase() === user.id.toLowerCase();
        if (!mine && !(admin && ctx.ind.adminConsentAppIds.has(appId))) {
          untouched++;
          continue;
        }
        const why = admin ? `tenant-wide grant of ${gr.clientId}, the application the alert names (admin consent)` : `${ctx.upn}'s grant to ${gr.clientId}, the application the alert names`;
        const before = { clientId: gr.clientId, consentType: gr.consentType, principalId: gr.principalId, resourceId: gr.resourceId, scope: gr.scope };
        const base = { kind: 'consent-grant' as const, name: `${gr.scope.trim() || '(no scope)'} for ${admin ? 'all users' : ctx.upn}`, identity: gr.id, why, before };
        if (ctx.dry) {
          items.push({ ...base, status: 'planned', after: { removed: true } });
          continue;
        }
        try {
          await g.deleteConsentGrant(ctx.tenantId, gr.id);
          items.push({ ...base, status: 'succeeded', after: { removed: true } });
        } catch (e) {
          const err = stepError(e, ctx.secrets);
          if (err.status === 404 || err.code === 'Request_ResourceNotFound') items.push({ ...base, status: 'skipped', after: { removed: true }, why: `${why}; already removed` });
          else {
            if (isPermissionError(err)) err.fix = CONSENT_FIX;
            items.push({ ...base, status: 'failed', error: err });
          }
        }
      }
    }
    const apps = [...ctx.ind.appIds].join(', ');
    const tail = untouched ? `; ${untouched} other grant(s) of the same application (other users) left untouched` : '';
    if (items.length === 0) {
      return { status: 'skipped', detail: `no consent grant of ${apps} for ${ctx.upn} exists (already revoked?)${tail}`, target: ctx.upn, undoable: false };
    }
    const before = { grants: items.map((i) => ({ id: i.identity, ...(i.before as Record<string, unknown>) })) };
    let after: unknown;
    if (!ctx.dry && items.some((i) => i.status === 'succeeded')) {
      // Read back: a deleted grant must no longer be listed.
      const left = new Set<string>();
      for (const appId of ctx.ind.appIds) for (const gr of await g.listConsentGrants(ctx.tenantId, { clientId: appId })) left.add(gr.id);
      for (const it of items) {
        if (it.status === 'succeeded' && left.has(it.identity)) {
          it.status = 'failed';
          it.error = { message: 'the grant is still listed after DELETE /oauth2PermissionGrants' };
        }
      }
      after = { grants: items.map((i) => ({ id: i.identity, removed: i.status === 'succeeded' || i.status === 'skipped' })) };
    }
    const ok = items.filter((i) => i.status === (ctx.dry ? 'planned' : 'succeeded')).map((i) => `"${i.name}"`);
    const failed = items.filter((i) => i.status === 'failed');
    if (ctx.dry) return { status: 'planned', detail: `would remove consent grant(s) ${ok.join(', ')} of ${apps}${tail}`, target: ctx.upn, before, items, undoable: false };
    if (failed.length) {
      return {
        status: 'failed',
        detail: `removed ${ok.length} consent grant(s)${ok.length ? ` (${ok.join(', ')})` : ''}; failed on ${failed.map((i) => `"${i.name}": ${i.error?.message ?? '?'}`).join('; ')}${tail}`,
        target: ctx.upn, before, after, items, error: failed[0].error, undoable: false,
      };
    }
    if (ok.length === 0) return { status: 'skipped', detail: `the matching consent grant(s) of ${apps} were already removed${tail}`, target: ctx.upn, before, after, items, undoable: false };
    return { status: 'succeeded', detail: `removed consent grant(s) ${ok.join(', ')} of ${apps}${tail}; tokens already issued stay valid until they expire`, target: ctx.upn, before, after, items, undoable: false };
  },
};

function summarise(ctx: Ctx, items: StepItem[], noun: string, verb: string, past: string): Outcome {
  const ok = items.filter((i) => i.status === (ctx.dry ? 'planned' : 'succeeded')).map((i) => `"${i.name}"`);
  const failed = items.filter((i) => i.status === 'failed');
  if (ctx.dry) return { status: 'planned', detail: `would ${verb} ${noun}(s) ${ok.join(', ')}`, items, undoable: false };
  if (failed.length) return { status: 'failed', detail: `${past} ${ok.length} ${noun}(s); failed on ${failed.map((i) => `"${i.name}": ${i.error?.message}`).join('; ')}`, items, error: failed[0].error, undoable: false };
  return { status: 'succeeded', detail: `${past} ${noun}(s) ${ok.join(', ')}`, items, undoable: false };
}

function describeRule(r: InboxRuleView): Record<string, unknown> {
  return {
    enabled: r.enabled,
    hidden: r.hidden ?? false,
    ...(r.forwardTo.length ? { forwardTo: r.forwardTo } : {}),
    ...(r.forwardAsAttachmentTo.length ? { forwardAsAttachmentTo: r.forwardAsAttachmentTo } : {}),
    ...(r.redirectTo.length ? { redirectTo: r.redirectTo } : {}),
    ...(r.deleteMessage ? { deleteMessage: true } : {}),
    ...(r.moveToFolder ? { moveToFolder: r.moveToFolder } : {}),
  };
}

export function describeForwarding(f: Record<string, unknown>): string {
  const parts: string[] = [];
  if (f.forwardingSmtpAddress) parts.push(`ForwardingSmtpAddress ${String(f.forwardingSmtpAddress)}`);
  if (f.forwardingAddress) {
    const r = f.forwardingAddressResolved as { type?: string; address?: string } | undefined;
    parts.push(`ForwardingAddress "${String(f.forwardingAddress)}"${r?.address ? ` (${r.type ?? 'recipient'} → ${r.address})` : ''}`);
  }
  if (f.deliverToMailboxAndForward) parts.push('DeliverToMailboxAndForward true');
  return parts.join(', ') || 'nothing';
}

/** Runs the steps (catalogue order), records the run and every step, returns one StepResult per step. */
export async function runRemediation(deps: PlaybookDeps, req: RunRequest): Promise<RunResult> {
  const clock = () => nowIso(deps.now?.());
  const steps = orderSteps(req.steps);
  const runId = randomUUID();
  const dry = req.dryRun === true;
  const startedAt = clock();
  const options: Record<string, unknown> = {
    ruleAction: req.ruleAction ?? 'disable',
    passwordMode: req.passwordMode ?? deps.config.remediate.passwordMode ?? 'random',
    ...(req.linkNonce ? { linkNonce: req.linkNonce } : {}),
    ...(req.related?.length ? { relatedAlerts: req.related.map((a) => a.id) } : {}),
  };
  await insertRun(deps.db, {
    id: runId, alertId: req.alert.id, tenantId: req.alert.tenantId, userId: req.alert.userId, actor: req.actor, source: req.source,
    origin: req.origin ?? null, status: 'running', dryRun: dry, undoOf: null, requestedSteps: steps, options, startedAt,
  });
  const ctx: Ctx = {
    deps, req, tenantId: req.alert.tenantId, upn: req.alert.userId, dry,
    ind: indicatorsOf([req.alert, ...(req.related ?? [])]), secrets: [],
  };
  const results: StepResult[] = [];
  try {
    await runSteps();
  } catch (e) {
    // The store failed mid-run: the run must not stay "running" in the log.
    await finishRun(deps.db, runId, 'failed', clock()).catch(() => {});
    throw e;
  }
  async function runSteps(): Promise<void> {
    for (const [i, step] of steps.entries()) {
      const s0 = clock();
      let out: Outcome;
      try {
        out = await STEPS[step](ctx);
      } catch (e) {
        const err = stepError(e, ctx.secrets);
        if (step === 'reset-password' && isPermissionError(err)) err.fix = PASSWORD_FIX;
        if (step === 'revoke-consent' && isPermissionError(err)) err.fix = CONSENT_FIX;
        out = { status: 'failed', detail: `${stepSpec(step).title} failed: ${err.message}`, target: ctx.upn, error: err, undoable: false };
      }
      const r: StepResult = { step, ...out, detail: redactAll(out.detail, ctx.secrets), startedAt: s0, finishedAt: clock() };
      results.push(r);
      await insertStep(deps.db, runId, i, r);
      deps.logger?.info({ runId, alertId: req.alert.id, step, status: r.status }, 'remediation step');
      req.onStep?.(r);
    }
  }
  const status = runStatus(results, dry);
  const finishedAt = clock();
  await finishRun(deps.db, runId, status, finishedAt);
  await deps.db
    .insertInto('audit_trail')
    .values({
      at: finishedAt, actor: req.actor, action: dry ? 'remediation.dry-run' : 'remediation.run', subject: req.alert.id,
      detail_json: JSON.stringify({ runId, source: req.source, origin: req.origin ?? null, status, steps: results.map((s) => ({ step: s.step, status: s.status })) }),
    })
    .execute();
  deps.logger?.info({ runId, alertId: req.alert.id, status, actor: req.actor, source: req.source }, 'remediation run finished');
  return {
    runId, alertId: req.alert.id, status, dryRun: dry, actor: req.actor, source: req.source, steps: results, startedAt, finishedAt,
    ...(ctx.newPassword ? { newPassword: ctx.newPassword } : {}),
  };
}

function redactAll(s: string, secrets: readonly string[]): string {
  let out = s;
  for (const x of secrets) if (x) out = out.split(x).join('[redacted]');
  return out;
}
