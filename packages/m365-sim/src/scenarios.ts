// Activity scenarios for POST /_sim/tenants/{id}/activity: each performs the action in the tenant's
// own state (creates the rule, sets forwarding …) and writes the audit records Microsoft would.
// Options in the body: user (UPN), ip, destination (external address), ruleName, at (ISO time or epoch ms),
// baseline (false: no earlier ordinary sign-ins before an attacker's), via (owa | powershell | graph:
// how inbox rules are created).
import { isIP } from 'node:net';
import type { AuditRecord, ContentType, DirectoryModule, SimContext, SimInboxRule, SimMailbox, SimRecipient, SimTenant, SimUser } from './types.ts';
import { isSmtpAddress } from './exchange.ts';
import { findUser, graphServicePrincipalId, newId, newRule } from './state.ts';
import {
  type Actor,
  addRoleMemberRecord,
  adminActor,
  consentRecords,
  directoryUserRecord,
  exchangeAdminRecord,
  graphSignIn,
  mailboxPath,
  mailItemsAccessedRecord,
  newInboxRuleRecord,
  type RuleClient,
  signInRecord,
  transportRuleRecord,
  updateInboxRulesRecord,
  updateUserRecord,
} from './records.ts';

export const SCENARIOS = [
  'phishing-signin',
  'inbox-rule-forward',
  'inbox-rule-delete-all',
  'inbox-rule-hidden',
  'mailbox-forwarding-contact',
  'transport-rule-bcc',
  'illicit-consent',
  'mfa-removal',
  'admin-role-grant',
  'outlook-desktop-rule',
  'benign',
  'takeover',
] as const;

export const scenarios: readonly string[] = SCENARIOS;

/** A hosting-provider address abroad (Tor exit range 185.220.101.0/24, Germany). */
export const DEFAULT_ATTACKER_IP = '185.220.101.47';
/** Ordinary home broadband addresses (Comcast, US). */
const HOME_IPS = ['73.162.41.18', '73.162.90.7', '24.6.155.211', '98.207.12.64'];
export const DEFAULT_DESTINATION = 'drop@mail-collect.example';

class ScenarioError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Run {
  ctx: SimContext;
  t: SimTenant;
  user: SimUser;
  mb: SimMailbox;
  ip: string;
  destination: string;
  ruleName?: string;
  at: number;
  /** Write the user's earlier ordinary sign-ins before an attacker's (default true). */
  baseline: boolean;
  /** How the attacker creates inbox rules: OWA (default), PowerShell or Graph. */
  via: RuleClient;
  out: Map<ContentType, AuditRecord[]>;
  detail: Record<string, unknown>;
  /** The request body (scenario-specific options). */
  body: Record<string, unknown>;
}

function emit(r: Run, type: ContentType, ...records: AuditRecord[]): void {
  const list = r.out.get(type) ?? [];
  list.push(...records);
  r.out.set(type, list);
}

const port = (at: number, salt: number): number => 49152 + ((Math.floor(at / 1000) * 31 + salt * 7919) % 16000);
const withPort = (ip: string, p: number): string => (ip.includes(':') ? `[${ip}]:${p}` : `${ip}:${p}`);

function parseAt(v: unknown, now: number): number {
  if (v === undefined || v === null) return now;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const ms = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : `${v}Z`);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new ScenarioError(400, "'at' must be an ISO-8601 time or epoch milliseconds");
}

function signIn(r: Run, at: number, o: { ip?: string; failed?: boolean; user?: SimUser; country?: string } = {}): void {
  const user = o.user ?? r.user;
  const ip = o.ip ?? r.ip;
  emit(r, 'Audit.AzureActiveDirectory', signInRecord(r.t, { at, user, ip, failed: o.failed }));
  r.t.signIns.push(graphSignIn({ at, user, ip, failed: o.failed, country: o.country }));
}

const DAY = 86_400_000;

/** The user's usual home address (stable per user). */
function homeIpOf(user: SimUser): string {
  let h = 0;
  for (const c of user.id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return HOME_IPS[h % HOME_IPS.length];
}

function phishingSignIn(r: Run): void {
  if (r.baseline) {
    // The user's own history first (days earlier, from home), so the foreign sign-in stands out.
    signIn(r, r.at - 3 * DAY, { ip: homeIpOf(r.user), country: 'US' });
    signIn(r, r.at - DAY + 5 * 3_600_000, { ip: homeIpOf(r.user), country: 'US' });
  }
  signIn(r, r.at - 40_000, { failed: true });
  signIn(r, r.at);
  r.detail.signIn = { user: r.user.upn, ip: r.ip };
}

function ruleInfo(mb: SimMailbox, rule: SimInboxRule): Record<string, unknown> {
  return { name: rule.name, ruleIdentity: rule.ruleIdentity, graphId: rule.graphId, identity: `${mb.guid}\\${rule.ruleIdentity}`, hidden: rule.hidden };
}

function uniqueRuleName(mb: SimMailbox, wanted: string): string {
  let name = wanted;
  let n = 1;
  while (mb.rules.some((x) => x.name.toLowerCase() === name.toLowerCase())) name = `${wanted}${'.'.repeat(n++)}`;
  return name;
}

/** A third-party mail client the attacker drives through Graph (delegated). */
const ATTACKER_GRAPH_APP = 'adc8f35b-4102-4986-b039-3e63d41f5cb4';

/** New-InboxRule by the (compromised) user: from OWA by default, or `via` PowerShell / Graph. */
function owaRule(r: Run, at: number, name: string, shape: (rule: SimInboxRule) => void): SimInboxRule {
  const rule = newRule(r.t, r.mb, uniqueRuleName(r.mb, name));
  shape(rule);
  r.mb.rules.push(rule);
  emit(
    r,
    'Audit.Exchange',
    newInboxRuleRecord(r.t, {
      at,
      actor: { kind: 'user', user: r.user },
      user: r.user,
      mailbox: r.mb,
      rule,
      client: r.via,
      clientIp: withPort(r.ip, port(at, 1)),
      graphAppId: ATTACKER_GRAPH_APP,
    }),
  );
  return rule;
}

function forwardRule(r: Run, at: number): SimInboxRule {
  return owaRule(r, at, r.ruleName ?? '.', (rule) => {
    rule.forwardTo = [r.destination];
    rule.moveToFolder = 'RSS Feeds';
    rule.markAsRead = true;
    rule.stopProcessingRules = true;
  });
}

/** A forward-and-delete rule created in OWA, then hidden by a MAPI edit (UpdateInboxRules). */
function hiddenRule(r: Run, at: number): SimInboxRule {
  const rule = owaRule(r, at, r.ruleName ?? '..', (x) => {
    x.forwardTo = [r.destination];
    x.deleteMessage = true;
    x.stopProcessingRules = true;
  });
  rule.hidden = true;
  emit(r, 'Audit.Exchange', updateInboxRulesRecord(r.t, { at: at + 45_000, user: r.user, mailbox: r.mb, rule, operation: 'ModifyMailboxRule', ip: r.ip }));
  return rule;
}

function attackerAdmin(r: Run): Actor {
  return adminActor(r.t);
}

/** The mail contact pointing at `destination`, created (New-MailContact) when the tenant has none. */
function contactFor(r: Run, at: number, actor: Actor): SimRecipient {
  const want = r.destination.toLowerCase();
  const existing = r.t.recipients.find((c) => c.recipientTypeDetails === 'MailContact' && (c.externalEmailAddress ?? '').toLowerCase() === `smtp:${want}`);
  if (existing) return existing;
  const local = want.split('@')[0].replace(/[^a-z0-9]/g, '') || 'contact';
  let identity = `${local[0].toUpperCase()}${local.slice(1)} Archive`;
  while (r.t.recipients.some((c) => c.identity.toLowerCase() === identity.toLowerCase())) identity += ' 2';
  const contact: SimRecipient = {
    identity,
    alias: identity.replace(/[^A-Za-z0-9]/g, ''),
    recipientTypeDetails: 'MailContact',
    primarySmtpAddress: want,
    externalEmailAddress: `SMTP:${want}`,
  };
  r.t.recipients.push(contact);
  emit(
    r,
    'Audit.Exchange',
    exchangeAdminRecord(r.t, {
      operation: 'New-MailContact',
      at,
      actor,
      objectId: identity,
      parameters: [
        ['Name', identity],
        ['ExternalEmailAddress', `SMTP:${want}`],
      ],
      clientIp: withPort(r.ip, port(at, 3)),
      appId: 'fb78d390-0c51-40cd-8e17-fdbfab77341b',
    }),
  );
  return contact;
}

function mailboxForwardingToContact(r: Run, at: number): void {
  const actor = attackerAdmin(r);
  const contact = contactFor(r, at, actor);
  r.mb.forwardingAddress = contact.identity;
  r.mb.deliverToMailboxAndForward = false;
  emit(
    r,
    'Audit.Exchange',
    exchangeAdminRecord(r.t, {
      operation: 'Set-Mailbox',
      at: at + 20_000,
      actor,
      objectId: mailboxPath(r.t, r.user, r.mb),
      parameters: [
        ['Identity', r.user.upn],
        ['ForwardingAddress', contact.identity],
        ['DeliverToMailboxAndForward', 'False'],
      ],
      clientIp: withPort(r.ip, port(at, 4)),
      appId: 'fb78d390-0c51-40cd-8e17-fdbfab77341b',
    }),
  );
  r.detail.forwarding = { forwardingAddress: contact.identity, contactAddress: contact.primarySmtpAddress };
}

const RUNNERS: Record<(typeof SCENARIOS)[number], (r: Run) => void> = {
  'phishing-signin': (r) => phishingSignIn(r),
  'inbox-rule-forward': (r) => {
    phishingSignIn(r);
    r.detail.rule = ruleInfo(r.mb, forwardRule(r, r.at + 180_000));
  },
  'inbox-rule-delete-all': (r) => {
    phishingSignIn(r);
    const rule = owaRule(r, r.at + 150_000, r.ruleName ?? 'x', (x) => {
      x.deleteMessage = true;
    });
    r.detail.rule = ruleInfo(r.mb, rule);
  },
  'inbox-rule-hidden': (r) => {
    phishingSignIn(r);
    r.detail.rule = ruleInfo(r.mb, hiddenRule(r, r.at + 120_000));
  },
  'mailbox-forwarding-contact': (r) => {
    const admin = r.t.users.find((u) => u.isAdmin);
    if (admin) signIn(r, r.at, { user: admin });
    mailboxForwardingToContact(r, r.at + 60_000);
  },
  'transport-rule-bcc': (r) => {
    const name = r.ruleName ?? 'Compliance copy';
    if (r.t.transportRules.some((x) => x.name.toLowerCase() === name.toLowerCase())) throw new ScenarioError(409, `a transport rule named '${name}' already exists`);
    r.t.transportRules.push({ name, state: 'Enabled', mode: 'Enforce', priority: r.t.transportRules.length, blindCopyTo: [r.destination], redirectMessageTo: [], copyTo: [] });
    emit(
      r,
      'Audit.Exchange',
      transportRuleRecord(r.t, {
        operation: 'New-TransportRule',
        at: r.at,
        actor: attackerAdmin(r),
        ruleName: name,
        parameters: [
          ['Name', name],
          ['BlindCopyTo', r.destination],
          ['SentToScope', 'NotInOrganization'],
          ['Mode', 'Enforce'],
        ],
        clientIp: withPort(r.ip, port(r.at, 5)),
        appId: 'fb78d390-0c51-40cd-8e17-fdbfab77341b',
      }),
    );
    r.detail.transportRule = { name, blindCopyTo: [r.destination] };
  },
  'illicit-consent': (r) => {
    // `servicePrincipalId` (+ `appId`) in the body: another user consents to an app already in the tenant.
    const known = typeof r.body.servicePrincipalId === 'string' ? r.body.servicePrincipalId : undefined;
    if (known !== undefined && !/^[0-9a-f-]{36}$/i.test(known)) throw new ScenarioError(400, "'servicePrincipalId' must be a GUID");
    const appClientId = known && typeof r.body.appId === 'string' ? r.body.appId : newId();
    const sp = known ?? newId();
    const grantId = Buffer.from(newId().replace(/-/g, ''), 'hex').toString('base64url');
    const resourceId = graphServicePrincipalId(r.t);
    const scope = 'Mail.ReadWrite offline_access User.Read';
    r.t.oauthGrants.push({ id: grantId, clientId: sp, principalId: r.user.id, scope, consentType: 'Principal', resourceId });
    emit(r, 'Audit.AzureActiveDirectory', ...consentRecords(r.t, { at: r.at, user: r.user, ip: r.ip, appClientId, appDisplayName: 'Mail Helper Pro', appServicePrincipalId: sp, scope, grantId, resourceId }));
    r.detail.consent = { appId: appClientId, servicePrincipalId: sp, scope, grantId, resourceId };
  },
  'mfa-removal': (r) => {
    const actor = attackerAdmin(r);
    r.user.mfaRegistered = false;
    emit(
      r,
      'Audit.AzureActiveDirectory',
      directoryUserRecord(r.t, { operation: 'Disable Strong Authentication.', at: r.at, actor, target: r.user, ip: r.ip }),
      updateUserRecord(r.t, {
        at: r.at + 1000,
        actor,
        target: r.user,
        ip: r.ip,
        changes: [{ name: 'StrongAuthenticationRequirement', oldValue: { RelyingParty: '*', State: 1, RememberDevicesNotIssuedBefore: '2025-02-11T08:00:00.0000000Z' }, newValue: null }],
      }),
    );
    r.detail.mfa = { user: r.user.upn, removedBy: actor.kind === 'admin' ? actor.upn : null };
  },
  'admin-role-grant': (r) => {
    const actor = attackerAdmin(r);
    r.user.isAdmin = true;
    emit(r, 'Audit.AzureActiveDirectory', addRoleMemberRecord(r.t, { at: r.at, actor, target: r.user, ip: r.ip, roleObjectId: newId() }));
    r.detail.role = { user: r.user.upn, role: 'Global Administrator' };
  },
  'outlook-desktop-rule': (r) => {
    const rule = newRule(r.t, r.mb, uniqueRuleName(r.mb, r.ruleName ?? 'Sync'));
    rule.forwardTo = [r.destination];
    rule.conditions = { SubjectContainsWords: ['invoice', 'payment'] };
    rule.stopProcessingRules = true;
    r.mb.rules.push(rule);
    emit(
      r,
      'Audit.Exchange',
      updateInboxRulesRecord(r.t, { at: r.at, user: r.user, mailbox: r.mb, rule, operation: 'AddMailboxRule', ip: r.ip, condition: "{((Subject Contains 'invoice') OR (Subject Contains 'payment'))}" }),
    );
    r.detail.rule = ruleInfo(r.mb, rule);
  },
  benign: (r) => {
    let n = 0;
    for (const u of r.t.users.slice(0, 6)) {
      const mb = r.t.mailboxes.get(u.upn);
      const ip = homeIpOf(u);
      const at = r.at + n * 90_000;
      signIn(r, at, { user: u, ip, country: 'US' });
      if (mb) emit(r, 'Audit.Exchange', mailItemsAccessedRecord(r.t, { at: at + 30_000, user: u, mailbox: mb, ip, items: 1 + (n % 3) }));
      n += 1;
    }
    // One ordinary rule: newsletters to a folder, from OWA at home.
    const rule = newRule(r.t, r.mb, uniqueRuleName(r.mb, r.ruleName ?? 'Newsletters'));
    rule.conditions = { FromAddressContainsWords: ['newsletter'] };
    rule.moveToFolder = 'Newsletters';
    r.mb.rules.push(rule);
    const at = r.at + n * 90_000;
    emit(
      r,
      'Audit.Exchange',
      newInboxRuleRecord(r.t, { at, actor: { kind: 'user', user: r.user }, user: r.user, mailbox: r.mb, rule, client: 'owa', clientIp: withPort(homeIpOf(r.user), port(at, 6)) }),
    );
    r.detail.rule = ruleInfo(r.mb, rule);
  },
  takeover: (r) => {
    phishingSignIn(r);
    r.detail.rule = ruleInfo(r.mb, hiddenRule(r, r.at + 120_000));
    mailboxForwardingToContact(r, r.at + 300_000);
  },
};

export const runScenario: DirectoryModule['runScenario'] = (ctx, t, body) => {
  try {
    const name = String(body?.scenario ?? '');
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      return { ok: false, status: 400, error: `unknown scenario '${name.slice(0, 100)}'; known: ${SCENARIOS.join(', ')}` };
    }
    const at = parseAt(body.at, ctx.now());
    const ip = body.ip === undefined ? DEFAULT_ATTACKER_IP : String(body.ip);
    if (isIP(ip) === 0) throw new ScenarioError(400, "'ip' must be an IPv4 or IPv6 address");
    const destination = body.destination === undefined ? DEFAULT_DESTINATION : String(body.destination).trim();
    if (destination.length > 254 || !isSmtpAddress(destination)) throw new ScenarioError(400, "'destination' must be an e-mail address");
    const ruleName = body.ruleName === undefined ? undefined : String(body.ruleName);
    if (ruleName !== undefined && (ruleName.length === 0 || ruleName.length > 255)) throw new ScenarioError(400, "'ruleName' must be 1-255 characters");
    let user: SimUser | undefined;
    if (body.user !== undefined) {
      user = findUser(t, String(body.user));
      if (!user) throw new ScenarioError(404, `no user '${String(body.user).slice(0, 200)}' in tenant ${t.id}`);
    } else {
      user = t.users.find((u) => !u.isAdmin && t.mailboxes.has(u.upn)) ?? t.users[0];
    }
    if (!user) throw new ScenarioError(400, `tenant ${t.id} has no users`);
    const mb = t.mailboxes.get(user.upn);
    if (!mb) throw new ScenarioError(400, `user ${user.upn} has no mailbox`);
    const baseline = body.baseline === undefined ? true : body.baseline === true || body.baseline === 'true';
    const via = body.via === undefined ? 'owa' : String(body.via);
    if (via !== 'owa' && via !== 'powershell' && via !== 'graph') throw new ScenarioError(400, "'via' must be owa, powershell or graph");
    const run: Run = { ctx, t, user, mb, ip, destination: destination.toLowerCase(), ruleName, at, baseline, via, out: new Map(), detail: { scenario: name, user: user.upn }, body };
    RUNNERS[name as (typeof SCENARIOS)[number]](run);
    let count = 0;
    for (const [type, records] of run.out) {
      ctx.audit.append(t.id, type, records);
      count += records.length;
    }
    return { ok: true, records: count, detail: run.detail };
  } catch (e) {
    if (e instanceof ScenarioError) return { ok: false, status: e.status, error: e.message };
    throw e;
  }
};
