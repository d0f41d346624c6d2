// The named facts rules may use. Each is derived lazily (once per record) by a tested pure function;
// rules compare facts, never parse records themselves. Add a fact here to make it available to rules.
import type { TenantContext } from '../../model.ts';
import type { History } from '../history.ts';
import { isSigninOperation } from '../history.ts';
import type { NormalizedRecord } from '../record.ts';
import { externality, parseSmtp, recipientLabel, type Recipient } from './addresses.ts';
import { consentFacts, isServiceActor, mfaChange, passwordReset, roleAdd } from './entra.ts';
import { deletesAll, hidingScore, inboxRuleFacts } from './inbox-rule.ts';
import { mailboxForwarding, permissionGrant, transportRuleRecipients } from './mailbox.ts';
import { contactAddress, knownCountries, sharedDestinationUsers, signinFacts, type GeoLookup } from './signin.ts';

export type FactValue = boolean | number | string | string[] | undefined;
export type FactType = 'boolean' | 'number' | 'string' | 'string[]';

export interface FactEnv {
  rec: NormalizedRecord;
  ctx: TenantContext | undefined;
  history: History | undefined;
  geo: GeoLookup | undefined;
  memo: Map<string, unknown>;
}

export interface FactDef {
  name: string;
  type: FactType;
  description: string;
  compute(env: FactEnv): FactValue;
}

function once<T>(env: FactEnv, key: string, fn: () => T): T {
  if (env.memo.has(key)) return env.memo.get(key) as T;
  const v = fn();
  env.memo.set(key, v);
  return v;
}

/** Names the tenant context cannot resolve may name a mail contact created earlier in the log. */
function resolveContacts(rs: Recipient[] | undefined, env: FactEnv): void {
  if (!rs || !env.history) return;
  for (const r of rs) {
    if (r.kind !== 'name' || r.address) continue;
    const a = contactAddress(env.rec, r.raw, env.history);
    const smtp = a ? parseSmtp(a) : undefined;
    if (smtp) Object.assign(r, { address: smtp.address, domain: smtp.domain, resolvedFrom: r.raw, recipientType: 'MailContact (created in the audit log)' });
  }
}

export const inboxRule = (env: FactEnv) =>
  once(env, '#inboxRule', () => {
    const f = inboxRuleFacts(env.rec, env.ctx);
    resolveContacts(f?.recipients, env);
    return f;
  });
export const forwarding = (env: FactEnv) =>
  once(env, '#forwarding', () => {
    const f = mailboxForwarding(env.rec, env.ctx);
    resolveContacts(f?.targets, env);
    return f;
  });
const NO_HIDING = { score: 0, signals: [] as string[] };
const hiding = (env: FactEnv) =>
  once(env, '#hiding', () => {
    const f = inboxRule(env);
    return f && f.change !== 'remove' ? hidingScore(f) : NO_HIDING;
  });
const transport = (env: FactEnv) => once(env, '#transport', () => transportRuleRecipients(env.rec, env.ctx));
const grant = (env: FactEnv) => once(env, '#grant', () => permissionGrant(env.rec));
const consent = (env: FactEnv) => once(env, '#consent', () => consentFacts(env.rec));
const mfa = (env: FactEnv) => once(env, '#mfa', () => mfaChange(env.rec));
const reset = (env: FactEnv) => once(env, '#reset', () => passwordReset(env.rec));
const role = (env: FactEnv) => once(env, '#role', () => roleAdd(env.rec));
export const signin = (env: FactEnv) => once(env, '#signin', () => signinFacts(env.rec, env.ctx, env.history, env.geo));

function labels(rs: readonly Recipient[] | undefined): string[] {
  return rs ? rs.map(recipientLabel) : [];
}

function byExternality(rs: readonly Recipient[] | undefined, ctx: TenantContext | undefined, want: 'external' | 'unknown'): string[] {
  if (!rs) return [];
  const out: string[] = [];
  for (const r of rs) {
    const e = externality(r, ctx);
    if (e === want && (want === 'external' || ctx?.known)) out.push(recipientLabel(r));
  }
  return out;
}

/** External forwarding destinations of this record (inbox rule + mailbox forwarding), for shared-destination. */
export function externalDestinations(env: FactEnv): string[] {
  return once(env, '#externalDestinations', () => {
    if (!env.rec.succeeded) return [];
    const out: string[] = [];
    const ir = inboxRule(env);
    if (ir && ir.change !== 'remove' && !ir.disabled) out.push(...byExternality(ir.recipients, env.ctx, 'external'));
    const fw = forwarding(env);
    if (fw) out.push(...byExternality(fw.targets, env.ctx, 'external'));
    return [...new Set(out)];
  });
}

const SENSITIVE_CONSENT = (c: ReturnType<typeof consentFacts>) => (c ? [...c.mailScopes, ...c.broadScopes] : []);

export const FACTS: readonly FactDef[] = [
  // --- the record and its actor
  { name: 'operation', type: 'string', description: 'the record\'s Operation', compute: (e) => e.rec.operation },
  { name: 'userId', type: 'string', description: 'the actor (UserId)', compute: (e) => e.rec.userId },
  { name: 'clientIp', type: 'string', description: 'client IP without port', compute: (e) => e.rec.clientIp },
  { name: 'failed', type: 'boolean', description: 'ResultStatus says the operation failed (an attempt)', compute: (e) => !e.rec.succeeded },
  { name: 'actorIsService', type: 'boolean', description: 'the actor is a service account (NT AUTHORITY\\SYSTEM (…), system user types)', compute: (e) => isServiceActor(e.rec) },
  { name: 'tenantKnown', type: 'boolean', description: 'the tenant\'s accepted domains are known (else external-ness is unknown)', compute: (e) => !!e.ctx?.known && e.ctx.acceptedDomains.length > 0 },
  // --- inbox rules (New-/Set-InboxRule, UpdateInboxRules)
  { name: 'inboxRuleChange', type: 'string', description: 'create | modify | remove ("" when not an inbox-rule record)', compute: (e) => inboxRule(e)?.change ?? '' },
  { name: 'inboxRuleSource', type: 'string', description: 'cmdlet (OWA/PowerShell/Graph) | outlook (UpdateInboxRules)', compute: (e) => inboxRule(e)?.source ?? '' },
  { name: 'inboxRuleName', type: 'string', description: 'the rule\'s name', compute: (e) => inboxRule(e)?.ruleName ?? '' },
  { name: 'inboxRuleEnabled', type: 'boolean', description: 'the rule is not disabled by this record', compute: (e) => !!inboxRule(e) && !inboxRule(e)!.disabled },
  { name: 'inboxRuleForwardActions', type: 'string[]', description: 'ForwardTo / ForwardAsAttachmentTo / RedirectTo actions present', compute: (e) => inboxRule(e)?.forwards.map((f) => f.action) ?? [] },
  { name: 'inboxRuleRecipients', type: 'string[]', description: 'every forward/redirect recipient (all address forms parsed)', compute: (e) => labels(inboxRule(e)?.recipients) },
  { name: 'inboxRuleExternalRecipients', type: 'string[]', description: 'forward/redirect recipients outside the accepted domains', compute: (e) => byExternality(inboxRule(e)?.recipients, e.ctx, 'external') },
  { name: 'inboxRuleUnresolvedRecipients', type: 'string[]', description: 'recipients named only by a display name/alias the tenant context cannot resolve', compute: (e) => byExternality(inboxRule(e)?.recipients, e.ctx, 'unknown') },
  { name: 'inboxRuleDeletesAll', type: 'boolean', description: 'deletes / soft-deletes / moves to Deleted Items with no condition', compute: (e) => { const f = inboxRule(e); return !!f && deletesAll(f); } },
  { name: 'inboxRuleConditionsComplete', type: 'boolean', description: 'the record shows all of the rule\'s conditions (New-InboxRule; not Set-InboxRule)', compute: (e) => !!inboxRule(e)?.conditionsComplete },
  { name: 'inboxRuleHidingScore', type: 'number', description: 'hiding signals scored (folder, mark read, stop processing, throwaway name, keywords)', compute: (e) => hiding(e).score },
  { name: 'inboxRuleHidingSignals', type: 'string[]', description: 'the hiding signals found', compute: (e) => hiding(e).signals },
  // --- mailbox forwarding
  { name: 'mailboxForwardingTargets', type: 'string[]', description: 'ForwardingSmtpAddress / resolved ForwardingAddress targets', compute: (e) => labels(forwarding(e)?.targets) },
  { name: 'mailboxForwardingExternal', type: 'string[]', description: 'mailbox forwarding targets outside the accepted domains', compute: (e) => byExternality(forwarding(e)?.targets, e.ctx, 'external') },
  { name: 'mailboxForwardingUnresolved', type: 'string[]', description: 'ForwardingAddress values the tenant context cannot resolve', compute: (e) => byExternality(forwarding(e)?.targets, e.ctx, 'unknown') },
  { name: 'mailboxForwardingNoCopy', type: 'boolean', description: 'DeliverToMailboxAndForward is False (no copy kept)', compute: (e) => forwarding(e)?.keepsCopy === false },
  { name: 'mailboxForwardingCleared', type: 'boolean', description: 'the record clears forwarding', compute: (e) => !!forwarding(e)?.cleared },
  { name: 'mailboxForwardingMailbox', type: 'string', description: 'the mailbox whose forwarding changed', compute: (e) => forwarding(e)?.mailbox ?? '' },
  // --- transport rules
  { name: 'transportRuleName', type: 'string', description: 'the transport rule\'s name', compute: (e) => transport(e)?.ruleName ?? '' },
  { name: 'transportRuleRecipients', type: 'string[]', description: 'BlindCopyTo / CopyTo / RedirectMessageTo / AddToRecipients / GenerateIncidentReport recipients', compute: (e) => labels(transport(e)?.recipients) },
  { name: 'transportRuleExternal', type: 'string[]', description: 'transport-rule recipients outside the accepted domains', compute: (e) => byExternality(transport(e)?.recipients, e.ctx, 'external') },
  { name: 'transportRuleActions', type: 'string[]', description: 'which recipient actions the rule sets', compute: (e) => transport(e)?.actions.map((a) => a.action) ?? [] },
  // --- mailbox / folder permissions
  { name: 'permissionGrantKind', type: 'string', description: 'FullAccess | SendAs | SendOnBehalf | FolderPermission ("" when none)', compute: (e) => grant(e)?.kind ?? '' },
  { name: 'permissionGrantTrustee', type: 'string', description: 'who receives the permission', compute: (e) => grant(e)?.trustee ?? '' },
  { name: 'permissionGrantMailbox', type: 'string', description: 'the mailbox (or folder) the permission is on', compute: (e) => { const g = grant(e); return g ? (g.folder ? `${g.mailbox}:\\${g.folder}` : g.mailbox) : ''; } },
  { name: 'permissionGrantBySelf', type: 'boolean', description: 'the mailbox owner grants access themselves', compute: (e) => !!grant(e)?.bySelf },
  { name: 'permissionGrantToEveryone', type: 'boolean', description: 'granted to Default / Anonymous', compute: (e) => !!grant(e)?.everyone },
  { name: 'permissionGrantOnSharedMailbox', type: 'boolean', description: 'the mailbox is one of the tenant\'s shared/room/equipment mailboxes (routine delegation)', compute: (e) => { const g = grant(e); if (!g || !e.ctx) return false; const m = g.mailbox.trim().toLowerCase(); return e.ctx.recipients.some((r) => /shared|room|equipment/i.test(r.type) && (r.identity.toLowerCase() === m || r.address.toLowerCase() === m || r.address.toLowerCase().split('@')[0] === m)); } },
  { name: 'permissionGrantTrusteeExternal', type: 'boolean', description: 'the trustee is an address outside the accepted domains', compute: (e) => { const g = grant(e); if (!g) return false; const at = g.trustee.lastIndexOf('@'); return at > 0 && externality({ raw: g.trustee, kind: 'smtp', domain: g.trustee.slice(at + 1).toLowerCase(), address: g.trustee.toLowerCase() }, e.ctx) === 'external'; } },
  // --- consent
  { name: 'consentScopes', type: 'string[]', description: 'delegated scopes consented to', compute: (e) => consent(e)?.scopes ?? [] },
  { name: 'consentMailScopes', type: 'string[]', description: 'consented scopes that read/change/send mail (Mail.*, full_access_as_user, EWS/IMAP/POP/SMTP …)', compute: (e) => consent(e)?.mailScopes ?? [] },
  { name: 'consentBroadScopes', type: 'string[]', description: 'broad non-mail scopes (Directory/Files/Sites ….All …)', compute: (e) => consent(e)?.broadScopes ?? [] },
  { name: 'consentSensitiveScopes', type: 'string[]', description: 'mail + broad scopes', compute: (e) => SENSITIVE_CONSENT(consent(e)) },
  { name: 'consentIsAdmin', type: 'boolean', description: 'admin consent (IsAdminConsent / AllPrincipals)', compute: (e) => !!consent(e)?.isAdminConsent },
  { name: 'consentApp', type: 'string', description: 'the application (name or service principal id)', compute: (e) => consent(e)?.appName || consent(e)?.appId || '' },
  { name: 'consentAppId', type: 'string', description: 'the application\'s service principal id', compute: (e) => consent(e)?.appId ?? '' },
  // --- account security
  { name: 'mfaRemoved', type: 'boolean', description: 'strong authentication removed or disabled', compute: (e) => { const m = mfa(e); return !!m && m.kind !== 'methods-changed'; } },
  { name: 'mfaMethodsChanged', type: 'boolean', description: 'strong authentication methods changed (not removed)', compute: (e) => mfa(e)?.kind === 'methods-changed' },
  { name: 'mfaChangeDetail', type: 'string', description: 'what changed', compute: (e) => mfa(e)?.detail ?? '' },
  { name: 'passwordResetByOther', type: 'boolean', description: 'a password reset done by someone other than the user', compute: (e) => !!reset(e)?.byOther },
  { name: 'targetUser', type: 'string', description: 'the user an Entra change is about', compute: (e) => reset(e)?.target ?? role(e)?.member ?? e.rec.objectId },
  { name: 'adminRoleAdded', type: 'boolean', description: 'a member was added to a directory role', compute: (e) => !!role(e) },
  { name: 'adminRolePrivileged', type: 'boolean', description: 'the role is an administrator role', compute: (e) => !!role(e)?.privileged },
  { name: 'adminRoleTop', type: 'boolean', description: 'Global / Privileged Role / Privileged Authentication Administrator', compute: (e) => !!role(e)?.top },
  { name: 'adminRoleName', type: 'string', description: 'the role\'s display name', compute: (e) => role(e)?.role ?? '' },
  // --- sign-in context (history)
  { name: 'isSignin', type: 'boolean', description: 'UserLoggedIn / UserLoginFailed', compute: (e) => isSigninOperation(e.rec.operation) },
  { name: 'signinCountry', type: 'string', description: 'country of the client IP (offline database)', compute: (e) => signin(e).country },
  { name: 'signinAsn', type: 'number', description: 'ASN of the client IP', compute: (e) => signin(e).asn },
  { name: 'signinAsOrg', type: 'string', description: 'network owner of the client IP', compute: (e) => signin(e).asOrg },
  { name: 'signinHosting', type: 'boolean', description: 'the IP belongs to a hosting / VPN / anonymizer network', compute: (e) => signin(e).hosting },
  { name: 'signinTrustedIp', type: 'boolean', description: 'the IP is in the tenant\'s trusted ranges', compute: (e) => signin(e).trusted },
  { name: 'signinHistoryCount', type: 'number', description: 'successful sign-ins of the user seen before', compute: (e) => signin(e).historyCount },
  { name: 'signinNewCountry', type: 'boolean', description: 'the country is new for the user (who has history)', compute: (e) => signin(e).newCountry },
  { name: 'signinNewAsn', type: 'boolean', description: 'the ASN is new for the user (who has history)', compute: (e) => signin(e).newAsn },
  { name: 'signinAsnSeenBefore', type: 'boolean', description: 'the user signed in from this ASN before', compute: (e) => signin(e).asnSeenBefore },
  { name: 'signinKnownCountries', type: 'string[]', description: 'countries the user signed in from before', compute: (e) => knownCountries(signin(e)) },
  { name: 'ipSeenBefore', type: 'boolean', description: 'the user signed in from this IP before', compute: (e) => signin(e).ipSeenBefore },
  // --- across users
  { name: 'externalDestinations', type: 'string[]', description: 'external forwarding destinations of this record (inbox rule + mailbox)', compute: (e) => externalDestinations(e) },
  { name: 'sharedDestinationUsers', type: 'string[]', description: 'other users forwarding to one of the same external addresses within 7 days', compute: (e) => sharedDestinationUsers(e.rec, externalDestinations(e), e.history) },
];

export const FACT_INDEX: ReadonlyMap<string, FactDef> = new Map(FACTS.map((f) => [f.name, f]));

/** A fact's value for the record (memoized under its own name; derived helpers use '#' keys). */
export function factValue(env: FactEnv, name: string): FactValue {
  const memo = env.memo;
  const hit = memo.get(name);
  if (hit !== undefined || memo.has(name)) return hit as FactValue;
  const def = FACT_INDEX.get(name);
  const v = def ? def.compute(env) : undefined;
  memo.set(name, v);
  return v;
}
