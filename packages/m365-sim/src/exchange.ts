// Exchange Online admin API: POST /adminapi/beta/{tenantId}/InvokeCommand, what the EXO PowerShell V3
// module sends for every cmdlet (m365-api.md §5.1). Body {"CmdletInput":{"CmdletName","Parameters"}};
// answer {"@odata.context", "adminapi.warnings@odata.type", "@adminapi.warnings", "value", "@odata.nextLink"?};
// cmdlet failures carry details[].message = "ErrorId|ExceptionType|Text". RuleIdentity is written as a
// raw JSON number (above 2^53), so the JSON is produced by hand.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditRecord, SimContext, SimInboxRule, SimMailbox, SimRecipient, SimTenant, SimTransportRule } from './types.ts';
import { exchangeForest, findMailbox, newRule, userOfMailbox } from './state.ts';
import { appActor, type Actor, exchangeAdminRecord, inboxRuleChangeRecord, ipWithPort, mailboxPath, newInboxRuleRecord, transportRuleRecord } from './records.ts';

/** A JSON number written with its exact digits. */
export class RawNumber {
  readonly digits: string;
  constructor(digits: string) {
    if (!/^-?\d+$/.test(digits)) throw new Error('RawNumber needs an integer');
    this.digits = digits;
  }
}

/** JSON.stringify that writes RawNumber values as bare numbers. */
export function toJson(v: unknown): string {
  if (v instanceof RawNumber) return v.digits;
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map((x) => toJson(x)).join(',')}]`;
  if (typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === undefined) continue;
      parts.push(`${JSON.stringify(k)}:${toJson(x)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(v);
}

/** How long Exchange takes to make UnifiedAuditLogIngestionEnabled=true effective ("up to 60 minutes"). */
export const AUDIT_ENABLE_DELAY_MS = 60 * 60_000;
/** Requests per tenant per window before 429 (Rate-Limit-Limit header); tests may lower it. */
export const EXCHANGE_LIMITS = { requests: 30_000, windowMs: 5 * 60_000 };
const DEFAULT_PAGE = 1000;

class CmdletError extends Error {
  constructor(
    readonly status: number,
    readonly exceptionType: string,
    readonly text: string,
  ) {
    super(text);
  }
}

const errorIdOf = (type: string): string => `Ex${createHash('sha1').update(type).digest('hex').slice(0, 6).toUpperCase()}`;

function notFound(t: SimTenant, what: string): CmdletError {
  const dc = exchangeForest(t.id).forest.replace('.PROD.OUTLOOK.COM', '');
  return new CmdletError(
    404,
    'Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException',
    `The operation couldn't be performed because object '${what}' couldn't be found on '${dc}.PROD.OUTLOOK.COM'.`,
  );
}

function badParam(name: string): CmdletError {
  return new CmdletError(400, 'System.Management.Automation.ParameterBindingException', `A parameter cannot be found that matches parameter name '${name}'.`);
}

function badValue(name: string, why: string): CmdletError {
  return new CmdletError(400, 'System.Management.Automation.ParameterBindingException', `Cannot bind parameter '${name}'. ${why}`);
}

type Params = Record<string, unknown>;

interface Inv {
  ctx: SimContext;
  t: SimTenant;
  p: Params;
  actor: Actor;
  clientIp: string;
  now: number;
  records: AuditRecord[];
  warnings: string[];
}

const COMMON = ['Confirm', 'Force', 'WhatIf', 'ErrorAction', 'WarningAction', 'Verbose', 'Debug', 'DomainController'];

const str = (p: Params, k: string): string | undefined => {
  const v = p[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw badValue(k, 'Cannot convert the value to type "System.String".');
};

const bool = (p: Params, k: string): boolean | undefined => {
  const v = p[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'True' || v === 'true' || v === '$true') return true;
  if (v === 'False' || v === 'false' || v === '$false') return false;
  throw badValue(k, `Cannot process argument transformation on parameter '${k}'. Cannot convert value "${String(v).slice(0, 50)}" to type "System.Boolean".`);
};

const list = (p: Params, k: string): string[] | undefined => {
  const v = p[k];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map((x) => String(x));
  if (typeof v === 'string') return v.split(/[;,]/).map((s) => s.trim()).filter(Boolean);
  throw badValue(k, 'Cannot convert the value to type "System.String[]".');
};

const bare = (addr: string): string => addr.replace(/^smtp:/i, '').trim();

/** A plausible SMTP address (bounded before any pattern runs on it). */
export function isSmtpAddress(a: string): boolean {
  if (a.length > 320) return false;
  const at = a.indexOf('@');
  if (at < 1 || at !== a.lastIndexOf('@') || /\s/.test(a)) return false;
  const domain = a.slice(at + 1);
  return domain.length > 2 && domain.includes('.') && !domain.startsWith('.') && !domain.endsWith('.');
}

function paramLog(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return v.map(String).join(';');
  return String(v);
}

function loggedParams(p: Params, skip: string[] = []): Array<[string, string]> {
  return Object.entries(p)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => [k, paramLog(v)] as [string, string]);
}

function mailboxOr404(t: SimTenant, key: string | undefined, param = 'Identity'): SimMailbox {
  if (!key) throw new CmdletError(400, 'System.Management.Automation.ParameterBindingException', `Cannot bind argument to parameter '${param}' because it is null.`);
  const mb = findMailbox(t, key);
  if (!mb) throw notFound(t, key);
  return mb;
}

/** Resolves an inbox rule from Identity (`{mailbox}\{ruleIdentity|name}` or name with Mailbox). */
function resolveRule(t: SimTenant, p: Params, includeHidden: boolean): { mb: SimMailbox; rule: SimInboxRule } {
  const identity = str(p, 'Identity');
  const mailboxKey = str(p, 'Mailbox');
  let mb: SimMailbox | undefined;
  let ruleKey: string | undefined = identity;
  if (identity && identity.includes('\\')) {
    const i = identity.lastIndexOf('\\');
    mb = findMailbox(t, identity.slice(0, i));
    ruleKey = identity.slice(i + 1);
    if (!mb) throw notFound(t, identity);
  } else if (mailboxKey) {
    mb = mailboxOr404(t, mailboxKey);
  }
  if (!mb || !ruleKey) throw notFound(t, identity ?? mailboxKey ?? '');
  const visible = mb.rules.filter((r) => includeHidden || !r.hidden);
  const byId = visible.filter((r) => r.ruleIdentity === ruleKey);
  const matches = byId.length ? byId : visible.filter((r) => r.name.toLowerCase() === ruleKey.toLowerCase());
  if (matches.length === 0) throw notFound(t, identity ?? ruleKey);
  if (matches.length > 1) {
    throw new CmdletError(
      400,
      'Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException',
      `The operation couldn't be performed because '${ruleKey}' matches multiple entries.`,
    );
  }
  return { mb, rule: matches[0] };
}

function recipientString(t: SimTenant, addr: string): string {
  const mb = findMailbox(t, addr);
  if (mb) {
    const u = userOfMailbox(t, mb);
    return `"${u?.displayName ?? mb.upn}" [EX:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=${mb.guid.replace(/-/g, '')}-${mb.upn.split('@')[0]}]`;
  }
  return `"${addr}" [SMTP:${addr}]`;
}

function ruleDescription(r: SimInboxRule): string {
  const cond: string[] = [];
  const phrase: Record<string, string> = {
    SubjectContainsWords: 'includes {} in the subject',
    BodyContainsWords: 'includes {} in the body',
    SubjectOrBodyContainsWords: 'includes {} in the subject or body',
    From: 'is received from {}',
    FromAddressContainsWords: "includes {} in the sender's address",
    SentTo: 'is sent to {}',
  };
  for (const [k, v] of Object.entries(r.conditions)) {
    const words = Array.isArray(v) ? v.map((x) => `'${x}'`).join(' or ') : `'${String(v)}'`;
    const base = k.startsWith('ExceptIf') ? k.slice(8) : k;
    const text = (phrase[base] ?? `${base} {}`).replace('{}', () => words);
    cond.push(`\t${k.startsWith('ExceptIf') ? 'Except if the message ' : ''}${text}\r\n`);
  }
  const act: string[] = [];
  if (r.forwardTo.length) act.push(`\tForward the message to ${r.forwardTo.map((a) => `'${a}'`).join(' and ')}\r\n`);
  if (r.forwardAsAttachmentTo.length) act.push(`\tForward the message as an attachment to ${r.forwardAsAttachmentTo.map((a) => `'${a}'`).join(' and ')}\r\n`);
  if (r.redirectTo.length) act.push(`\tRedirect the message to ${r.redirectTo.map((a) => `'${a}'`).join(' and ')}\r\n`);
  if (r.moveToFolder) act.push(`\tMove the message to folder '${r.moveToFolder}'\r\n`);
  if (r.markAsRead) act.push('\tMark the message as read\r\n');
  if (r.deleteMessage) act.push('\tDelete the message\r\n');
  if (r.stopProcessingRules) act.push('\tStop processing more rules\r\n');
  return `${cond.length ? `If the message:\r\n${cond.join('')}` : ''}Take the following actions:\r\n${act.join('')}`;
}

function ruleObject(t: SimTenant, mb: SimMailbox, r: SimInboxRule): Record<string, unknown> {
  const u = userOfMailbox(t, mb);
  const o: Record<string, unknown> = {
    Name: r.name,
    Identity: `${mb.guid}\\${r.ruleIdentity}`,
    'RuleIdentity@data.type': 'System.Nullable`1[[System.UInt64, mscorlib]]',
    RuleIdentity: new RawNumber(r.ruleIdentity),
    Enabled: r.enabled,
    Priority: r.priority,
    Description: ruleDescription(r),
    MailboxOwnerId: u?.displayName ?? mb.upn,
    'ForwardTo@odata.type': '#Collection(String)',
    ForwardTo: r.forwardTo.length ? r.forwardTo.map((a) => recipientString(t, a)) : null,
    'ForwardAsAttachmentTo@odata.type': '#Collection(String)',
    ForwardAsAttachmentTo: r.forwardAsAttachmentTo.length ? r.forwardAsAttachmentTo.map((a) => recipientString(t, a)) : null,
    'RedirectTo@odata.type': '#Collection(String)',
    RedirectTo: r.redirectTo.length ? r.redirectTo.map((a) => recipientString(t, a)) : null,
    DeleteMessage: r.deleteMessage,
    MoveToFolder: r.moveToFolder ? `${mb.upn}:\\${r.moveToFolder}` : null,
    MarkAsRead: r.markAsRead,
    StopProcessingRules: r.stopProcessingRules,
    InError: false,
    SupportedByTask: true,
    IsValid: true,
    ObjectState: 'Unchanged',
  };
  for (const [k, v] of Object.entries(r.conditions)) {
    if (Array.isArray(v)) {
      o[`${k}@odata.type`] = '#Collection(String)';
      o[k] = v;
    } else o[k] = v;
  }
  return o;
}

function mailboxObject(t: SimTenant, mb: SimMailbox): Record<string, unknown> {
  const u = userOfMailbox(t, mb);
  const name = u?.displayName ?? mb.upn;
  return {
    Name: name,
    Identity: name,
    Alias: mb.upn.split('@')[0],
    DisplayName: name,
    UserPrincipalName: mb.upn,
    PrimarySmtpAddress: mb.primarySmtpAddress,
    'EmailAddresses@odata.type': '#Collection(String)',
    EmailAddresses: [`SMTP:${mb.primarySmtpAddress}`],
    'ExternalDirectoryObjectId@data.type': 'System.String',
    ExternalDirectoryObjectId: u?.id ?? null,
    'ExchangeGuid@odata.type': '#Guid',
    'ExchangeGuid@data.type': 'System.Guid',
    ExchangeGuid: mb.guid,
    'Guid@odata.type': '#Guid',
    'Guid@data.type': 'System.Guid',
    Guid: mb.guid,
    RecipientType: 'UserMailbox',
    RecipientTypeDetails: 'UserMailbox',
    ForwardingSmtpAddress: mb.forwardingSmtpAddress ? `smtp:${mb.forwardingSmtpAddress}` : null,
    ForwardingAddress: mb.forwardingAddress,
    DeliverToMailboxAndForward: mb.deliverToMailboxAndForward,
    AccountDisabled: u ? !u.accountEnabled : false,
    IsMailboxEnabled: true,
    HiddenFromAddressListsEnabled: false,
    AuditEnabled: true,
  };
}

function allRecipients(t: SimTenant): SimRecipient[] {
  const boxes: SimRecipient[] = [...t.mailboxes.values()].map((mb) => ({
    identity: userOfMailbox(t, mb)?.displayName ?? mb.upn,
    alias: mb.upn.split('@')[0],
    recipientTypeDetails: 'UserMailbox',
    primarySmtpAddress: mb.primarySmtpAddress,
    externalEmailAddress: null,
  }));
  return [...boxes, ...t.recipients];
}

/** Exchange's recipient resolution: name, alias, address (with or without smtp:), external address. */
export function resolveRecipient(t: SimTenant, key: string, only?: SimRecipient['recipientTypeDetails']): SimRecipient | undefined {
  const k = bare(key).toLowerCase();
  return allRecipients(t).find(
    (r) =>
      (!only || r.recipientTypeDetails === only) &&
      (r.identity.toLowerCase() === k || r.alias.toLowerCase() === k || r.primarySmtpAddress.toLowerCase() === k || (r.externalEmailAddress && bare(r.externalEmailAddress).toLowerCase() === k)),
  );
}

function recipientObject(r: SimRecipient): Record<string, unknown> {
  const contact = r.recipientTypeDetails === 'MailContact' || r.recipientTypeDetails === 'MailUser';
  return {
    Name: r.identity,
    Identity: r.identity,
    Alias: r.alias,
    DisplayName: r.identity,
    RecipientType: r.recipientTypeDetails === 'SharedMailbox' ? 'UserMailbox' : r.recipientTypeDetails,
    RecipientTypeDetails: r.recipientTypeDetails,
    PrimarySmtpAddress: r.primarySmtpAddress,
    ExternalEmailAddress: contact ? r.externalEmailAddress : null,
    'EmailAddresses@odata.type': '#Collection(String)',
    EmailAddresses: [`SMTP:${r.primarySmtpAddress}`],
  };
}

function transportRuleObject(r: SimTransportRule): Record<string, unknown> {
  const guid = createHash('sha1').update(`tr:${r.name}`).digest('hex');
  return {
    Name: r.name,
    Identity: r.name,
    'Guid@odata.type': '#Guid',
    'Guid@data.type': 'System.Guid',
    Guid: `${guid.slice(0, 8)}-${guid.slice(8, 12)}-${guid.slice(12, 16)}-${guid.slice(16, 20)}-${guid.slice(20, 32)}`,
    State: r.state,
    Mode: r.mode,
    Priority: r.priority,
    'BlindCopyTo@odata.type': '#Collection(String)',
    BlindCopyTo: r.blindCopyTo.length ? r.blindCopyTo : null,
    'RedirectMessageTo@odata.type': '#Collection(String)',
    RedirectMessageTo: r.redirectMessageTo.length ? r.redirectMessageTo : null,
    'CopyTo@odata.type': '#Collection(String)',
    CopyTo: r.copyTo.length ? r.copyTo : null,
    Description: [
      r.blindCopyTo.length ? `Blind carbon copy (Bcc) the message to '${r.blindCopyTo.join("' and '")}'` : '',
      r.redirectMessageTo.length ? `Redirect the message to '${r.redirectMessageTo.join("' and '")}'` : '',
    ]
      .filter(Boolean)
      .join('\r\n'),
  };
}

function transportRuleOr404(t: SimTenant, key: string | undefined): SimTransportRule {
  const r = key ? t.transportRules.find((x) => x.name.toLowerCase() === key.toLowerCase()) : undefined;
  if (!r) throw notFound(t, key ?? '');
  return r;
}

const RULE_CONDITIONS = [
  'SubjectContainsWords',
  'BodyContainsWords',
  'SubjectOrBodyContainsWords',
  'From',
  'FromAddressContainsWords',
  'SentTo',
  'HeaderContainsWords',
  'RecipientAddressContainsWords',
  'ExceptIfSubjectContainsWords',
  'ExceptIfBodyContainsWords',
  'ExceptIfSubjectOrBodyContainsWords',
  'ExceptIfFrom',
  'ExceptIfFromAddressContainsWords',
];
const RULE_ACTIONS = ['ForwardTo', 'ForwardAsAttachmentTo', 'RedirectTo', 'DeleteMessage', 'SoftDeleteMessage', 'MoveToFolder', 'MarkAsRead', 'StopProcessingRules'];

function applyRuleParams(r: SimInboxRule, p: Params): void {
  for (const k of RULE_CONDITIONS) {
    if (!(k in p)) continue;
    const v = list(p, k);
    if (v && v.length) r.conditions[k] = v;
    else delete r.conditions[k];
  }
  if ('ForwardTo' in p) r.forwardTo = (list(p, 'ForwardTo') ?? []).map(bare);
  if ('ForwardAsAttachmentTo' in p) r.forwardAsAttachmentTo = (list(p, 'ForwardAsAttachmentTo') ?? []).map(bare);
  if ('RedirectTo' in p) r.redirectTo = (list(p, 'RedirectTo') ?? []).map(bare);
  if ('DeleteMessage' in p) r.deleteMessage = bool(p, 'DeleteMessage') ?? false;
  if ('SoftDeleteMessage' in p) r.deleteMessage = bool(p, 'SoftDeleteMessage') ?? r.deleteMessage;
  if ('MoveToFolder' in p) {
    const f = str(p, 'MoveToFolder');
    r.moveToFolder = f ? f.replace(/^[^:]*:\\/, '') : null;
  }
  if ('MarkAsRead' in p) r.markAsRead = bool(p, 'MarkAsRead') ?? false;
  if ('StopProcessingRules' in p) r.stopProcessingRules = bool(p, 'StopProcessingRules') ?? false;
  if ('Priority' in p) {
    const n = Number(p.Priority);
    if (!Number.isInteger(n) || n < 0) throw badValue('Priority', 'The value must be a non-negative integer.');
    r.priority = n;
  }
}

type Handler = (i: Inv) => Array<Record<string, unknown>>;

interface Cmdlet {
  params: string[];
  run: Handler;
}

function ruleChange(i: Inv, operation: string, mb: SimMailbox, rule: SimInboxRule): void {
  i.records.push(
    inboxRuleChangeRecord(i.t, {
      operation,
      at: i.now,
      actor: i.actor,
      user: userOfMailbox(i.t, mb),
      mailbox: mb,
      rule,
      parameters: loggedParams(i.p),
      clientIp: i.clientIp,
    }),
  );
}

function mailboxChange(i: Inv, operation: string, mb: SimMailbox): void {
  i.records.push(
    exchangeAdminRecord(i.t, {
      operation,
      at: i.now,
      actor: i.actor,
      objectId: mailboxPath(i.t, userOfMailbox(i.t, mb), mb),
      parameters: loggedParams(i.p),
      clientIp: i.clientIp,
    }),
  );
}

const RESULT_SIZE = ['ResultSize'];

function resultSize(i: Inv, total: number): number {
  const raw = i.p.ResultSize;
  if (raw === undefined || raw === null) {
    if (total > 1000) i.warnings.push('By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of items returned. To return all items, specify "-ResultSize Unlimited". Be aware that, depending on the actual number of items, returning all items can take a long time and consume a large amount of memory. Also, we don\'t recommend storing the results in a variable. Instead, pipe the results to another task or script to perform batch changes.');
    return 1000;
  }
  if (String(raw).toLowerCase() === 'unlimited') return Number.MAX_SAFE_INTEGER;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw badValue('ResultSize', `Cannot convert value "${String(raw).slice(0, 30)}" to type "Unlimited".`);
  return n;
}

export const CMDLETS: Record<string, Cmdlet> = {
  'Get-InboxRule': {
    params: ['Mailbox', 'Identity', 'IncludeHidden', 'BypassScopeCheck', 'DescriptionTimeFormat', 'DescriptionTimeZone', 'SweepRules'],
    run: (i) => {
      const hidden = bool(i.p, 'IncludeHidden') ?? false;
      if (str(i.p, 'Identity')) {
        const { mb, rule } = resolveRule(i.t, i.p, hidden);
        return [ruleObject(i.t, mb, rule)];
      }
      const mb = mailboxOr404(i.t, str(i.p, 'Mailbox'), 'Mailbox');
      return mb.rules
        .filter((r) => hidden || !r.hidden)
        .slice()
        .sort((a, b) => a.priority - b.priority)
        .map((r) => ruleObject(i.t, mb, r));
    },
  },
  'New-InboxRule': {
    params: ['Mailbox', 'Name', 'Priority', 'AlwaysDeleteOutlookRulesBlob', ...RULE_CONDITIONS, ...RULE_ACTIONS],
    run: (i) => {
      const mb = mailboxOr404(i.t, str(i.p, 'Mailbox'), 'Mailbox');
      const name = str(i.p, 'Name');
      if (!name) throw new CmdletError(400, 'System.Management.Automation.ParameterBindingException', "Cannot bind argument to parameter 'Name' because it is an empty string.");
      if (mb.rules.some((r) => r.name.toLowerCase() === name.toLowerCase() && !r.hidden)) {
        throw new CmdletError(400, 'Microsoft.Exchange.Management.StoreTasks.InboxRuleOperationException', `An Inbox rule with the name "${name}" already exists.`);
      }
      const rule = newRule(i.t, mb, name);
      applyRuleParams(rule, i.p);
      mb.rules.push(rule);
      i.records.push(
        newInboxRuleRecord(i.t, {
          at: i.now,
          actor: i.actor,
          user: userOfMailbox(i.t, mb),
          mailbox: mb,
          rule,
          client: 'powershell',
          clientIp: i.clientIp,
        }),
      );
      // The app-only variant logs the app as client; the parameters as sent.
      const rec = i.records[i.records.length - 1];
      rec.AppId = i.actor.kind === 'app' ? i.actor.clientId : rec.AppId;
      rec.Parameters = loggedParams(i.p).map(([Name, Value]) => ({ Name, Value }));
      return [ruleObject(i.t, mb, rule)];
    },
  },
  'Set-InboxRule': {
    params: ['Identity', 'Mailbox', 'Name', 'Priority', 'AlwaysDeleteOutlookRulesBlob', 'BypassScopeCheck', ...RULE_CONDITIONS, ...RULE_ACTIONS],
    run: (i) => {
      const { mb, rule } = resolveRule(i.t, i.p, true);
      // Work on a copy so that a bad value leaves the rule as it was.
      const draft = structuredClone(rule);
      const name = str(i.p, 'Name');
      if (name) draft.name = name;
      applyRuleParams(draft, i.p);
      Object.assign(rule, draft);
      ruleChange(i, 'Set-InboxRule', mb, rule);
      return [];
    },
  },
  'Disable-InboxRule': {
    params: ['Identity', 'Mailbox', 'AlwaysDeleteOutlookRulesBlob', 'BypassScopeCheck'],
    run: (i) => {
      const { mb, rule } = resolveRule(i.t, i.p, true);
      rule.enabled = false;
      ruleChange(i, 'Disable-InboxRule', mb, rule);
      return [];
    },
  },
  'Enable-InboxRule': {
    params: ['Identity', 'Mailbox', 'AlwaysDeleteOutlookRulesBlob', 'BypassScopeCheck'],
    run: (i) => {
      const { mb, rule } = resolveRule(i.t, i.p, true);
      rule.enabled = true;
      ruleChange(i, 'Enable-InboxRule', mb, rule);
      return [];
    },
  },
  'Remove-InboxRule': {
    params: ['Identity', 'Mailbox', 'AlwaysDeleteOutlookRulesBlob', 'BypassScopeCheck'],
    run: (i) => {
      const { mb, rule } = resolveRule(i.t, i.p, true);
      mb.rules = mb.rules.filter((r) => r !== rule);
      ruleChange(i, 'Remove-InboxRule', mb, rule);
      return [];
    },
  },
  'Get-Mailbox': {
    params: ['Identity', 'Anr', 'Filter', 'RecipientTypeDetails', 'PropertySets', 'Properties', ...RESULT_SIZE],
    run: (i) => {
      const id = str(i.p, 'Identity');
      if (id) return [mailboxObject(i.t, mailboxOr404(i.t, id))];
      const all = [...i.t.mailboxes.values()];
      return all.slice(0, resultSize(i, all.length)).map((mb) => mailboxObject(i.t, mb));
    },
  },
  'Set-Mailbox': {
    params: ['Identity', 'ForwardingSmtpAddress', 'ForwardingAddress', 'DeliverToMailboxAndForward'],
    run: (i) => {
      const mb = mailboxOr404(i.t, str(i.p, 'Identity'));
      // Validate everything first; a key that is absent changes nothing; an explicit null clears.
      const next = { smtp: mb.forwardingSmtpAddress, address: mb.forwardingAddress, deliver: mb.deliverToMailboxAndForward };
      if ('ForwardingSmtpAddress' in i.p) {
        const v = str(i.p, 'ForwardingSmtpAddress');
        if (v !== undefined && v !== '' && !isSmtpAddress(bare(v))) {
          throw new CmdletError(400, 'Microsoft.Exchange.Data.DataValidationException', `"${v.slice(0, 100)}" isn't a valid SMTP address. The domain name can't contain spaces and it has to have a prefix and a suffix, such as example.com.`);
        }
        next.smtp = v ? bare(v).toLowerCase() : null;
      }
      if ('ForwardingAddress' in i.p) {
        const v = str(i.p, 'ForwardingAddress');
        if (v) {
          const r = resolveRecipient(i.t, v);
          if (!r) throw notFound(i.t, v);
          next.address = r.identity;
        } else next.address = null;
      }
      if ('DeliverToMailboxAndForward' in i.p) next.deliver = bool(i.p, 'DeliverToMailboxAndForward') ?? false;
      mb.forwardingSmtpAddress = next.smtp;
      mb.forwardingAddress = next.address;
      mb.deliverToMailboxAndForward = next.deliver;
      mailboxChange(i, 'Set-Mailbox', mb);
      return [];
    },
  },
  'Get-CASMailbox': {
    params: ['Identity', 'Filter', ...RESULT_SIZE],
    run: (i) => {
      const id = str(i.p, 'Identity');
      const boxes = id ? [mailboxOr404(i.t, id)] : [...i.t.mailboxes.values()];
      return boxes.slice(0, id ? 1 : resultSize(i, boxes.length)).map((mb) => {
        const u = userOfMailbox(i.t, mb);
        return {
          Name: u?.displayName ?? mb.upn,
          Identity: u?.displayName ?? mb.upn,
          PrimarySmtpAddress: mb.primarySmtpAddress,
          ExternalDirectoryObjectId: u?.id ?? null,
          OWAEnabled: mb.owaEnabled,
          ActiveSyncEnabled: true,
          PopEnabled: true,
          ImapEnabled: true,
          MAPIEnabled: true,
          EwsEnabled: true,
        };
      });
    },
  },
  'Set-CASMailbox': {
    params: ['Identity', 'OWAEnabled'],
    run: (i) => {
      const mb = mailboxOr404(i.t, str(i.p, 'Identity'));
      if ('OWAEnabled' in i.p) mb.owaEnabled = bool(i.p, 'OWAEnabled') ?? true;
      mailboxChange(i, 'Set-CASMailbox', mb);
      return [];
    },
  },
  'Get-AdminAuditLogConfig': {
    params: [],
    run: (i) => [
      {
        Name: 'Admin Audit Log Settings',
        Identity: 'Admin Audit Log Settings',
        AdminAuditLogEnabled: true,
        UnifiedAuditLogIngestionEnabled: i.t.auditLogEnabled,
        UnifiedAuditLogFirstOptInDate: i.t.auditLogEnabled ? '2023-01-09T08:00:00Z' : null,
        'AdminAuditLogCmdlets@odata.type': '#Collection(String)',
        AdminAuditLogCmdlets: ['*'],
        'AdminAuditLogParameters@odata.type': '#Collection(String)',
        AdminAuditLogParameters: ['*'],
        AdminAuditLogAgeLimit: '90.00:00:00',
        LoadBalancerCount: 3,
        IsValid: true,
      },
    ],
  },
  'Set-AdminAuditLogConfig': {
    params: ['UnifiedAuditLogIngestionEnabled', 'AdminAuditLogEnabled', 'AdminAuditLogCmdlets', 'AdminAuditLogParameters', 'AdminAuditLogAgeLimit'],
    run: (i) => {
      if ('UnifiedAuditLogIngestionEnabled' in i.p) {
        const on = bool(i.p, 'UnifiedAuditLogIngestionEnabled') ?? false;
        if (on && !i.t.auditLogEnabled) {
          i.t.auditLogEffectiveAt = i.now + AUDIT_ENABLE_DELAY_MS;
          i.warnings.push('It may take up to 60 minutes for the change to take effect.');
        }
        if (!on) i.t.auditLogEffectiveAt = 0;
        i.t.auditLogEnabled = on;
      }
      i.records.push(
        exchangeAdminRecord(i.t, { operation: 'Set-AdminAuditLogConfig', at: i.now, actor: i.actor, objectId: 'Admin Audit Log Settings', parameters: loggedParams(i.p), clientIp: i.clientIp }),
      );
      return [];
    },
  },
  'Get-AcceptedDomain': {
    params: ['Identity'],
    run: (i) => {
      const id = str(i.p, 'Identity')?.toLowerCase();
      const rows = i.t.acceptedDomains.filter((d) => !id || d.domainName === id);
      if (id && rows.length === 0) throw notFound(i.t, id);
      return rows.map((d) => ({
        Name: d.domainName,
        Identity: d.domainName,
        DomainName: d.domainName,
        DomainType: d.domainType,
        Default: d.default,
        MatchSubDomains: d.matchSubDomains,
        InitialDomain: d.domainName.endsWith('.onmicrosoft.com'),
        AddressBookEnabled: d.domainType === 'Authoritative',
      }));
    },
  },
  'Get-Recipient': {
    params: ['Identity', 'RecipientTypeDetails', 'Filter', 'Anr', ...RESULT_SIZE],
    run: (i) => {
      const id = str(i.p, 'Identity');
      if (id) {
        const r = resolveRecipient(i.t, id);
        if (!r) throw notFound(i.t, id);
        return [recipientObject(r)];
      }
      const types = list(i.p, 'RecipientTypeDetails');
      const rows = allRecipients(i.t).filter((r) => !types || types.includes(r.recipientTypeDetails));
      return rows.slice(0, resultSize(i, rows.length)).map(recipientObject);
    },
  },
  'Get-MailContact': {
    params: ['Identity', 'Filter', 'Anr', ...RESULT_SIZE],
    run: (i) => {
      const id = str(i.p, 'Identity');
      if (id) {
        const r = resolveRecipient(i.t, id, 'MailContact');
        if (!r) throw notFound(i.t, id);
        return [recipientObject(r)];
      }
      const rows = i.t.recipients.filter((r) => r.recipientTypeDetails === 'MailContact');
      return rows.slice(0, resultSize(i, rows.length)).map(recipientObject);
    },
  },
  'Get-TransportRule': {
    params: ['Identity', 'State', ...RESULT_SIZE],
    run: (i) => {
      const id = str(i.p, 'Identity');
      if (id) return [transportRuleObject(transportRuleOr404(i.t, id))];
      return i.t.transportRules.slice().sort((a, b) => a.priority - b.priority).map(transportRuleObject);
    },
  },
  'New-TransportRule': {
    params: ['Name', 'BlindCopyTo', 'RedirectMessageTo', 'CopyTo', 'Mode', 'Enabled', 'Priority', 'SentToScope', 'FromScope', 'SubjectOrBodyContainsWords', 'DeleteMessage'],
    run: (i) => {
      const name = str(i.p, 'Name');
      if (!name) throw new CmdletError(400, 'System.Management.Automation.ParameterBindingException', "Cannot bind argument to parameter 'Name' because it is an empty string.");
      if (i.t.transportRules.some((r) => r.name.toLowerCase() === name.toLowerCase())) {
        throw new CmdletError(400, 'Microsoft.Exchange.Management.Tasks.RuleNameAlreadyExistsException', `A rule named ${name} already exists.`);
      }
      const mode = str(i.p, 'Mode') ?? 'Enforce';
      const rule: SimTransportRule = {
        name,
        state: bool(i.p, 'Enabled') === false ? 'Disabled' : 'Enabled',
        mode: mode === 'Audit' ? 'Audit' : 'Enforce',
        priority: i.t.transportRules.length,
        blindCopyTo: (list(i.p, 'BlindCopyTo') ?? []).map(bare),
        redirectMessageTo: (list(i.p, 'RedirectMessageTo') ?? []).map(bare),
        copyTo: (list(i.p, 'CopyTo') ?? []).map(bare),
      };
      i.t.transportRules.push(rule);
      i.records.push(transportRuleRecord(i.t, { operation: 'New-TransportRule', at: i.now, actor: i.actor, ruleName: name, parameters: loggedParams(i.p), clientIp: i.clientIp }));
      return [transportRuleObject(rule)];
    },
  },
  'Remove-TransportRule': {
    params: ['Identity'],
    run: (i) => {
      const r = transportRuleOr404(i.t, str(i.p, 'Identity'));
      i.t.transportRules = i.t.transportRules.filter((x) => x !== r);
      i.records.push(transportRuleRecord(i.t, { operation: 'Remove-TransportRule', at: i.now, actor: i.actor, ruleName: r.name, parameters: loggedParams(i.p), clientIp: i.clientIp }));
      return [];
    },
  },
  'Disable-TransportRule': {
    params: ['Identity'],
    run: (i) => {
      const r = transportRuleOr404(i.t, str(i.p, 'Identity'));
      r.state = 'Disabled';
      i.records.push(transportRuleRecord(i.t, { operation: 'Disable-TransportRule', at: i.now, actor: i.actor, ruleName: r.name, parameters: loggedParams(i.p), clientIp: i.clientIp }));
      return [];
    },
  },
  'Enable-TransportRule': {
    params: ['Identity'],
    run: (i) => {
      const r = transportRuleOr404(i.t, str(i.p, 'Identity'));
      r.state = 'Enabled';
      i.records.push(transportRuleRecord(i.t, { operation: 'Enable-TransportRule', at: i.now, actor: i.actor, ruleName: r.name, parameters: loggedParams(i.p), clientIp: i.clientIp }));
      return [];
    },
  },
};

export const CMDLET_NAMES: readonly string[] = Object.keys(CMDLETS);

function exoError(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body));
}

function cmdletFailure(reply: FastifyReply, e: CmdletError): FastifyReply {
  return exoError(reply, e.status, {
    error: {
      code: 'InternalServerError',
      message: 'Error executing cmdlet',
      details: [{ code: 'Client', target: '', message: `${errorIdOf(e.exceptionType)}|${e.exceptionType}|${e.text}` }],
      innererror: { message: 'Error executing cmdlet', type: 'Microsoft.Exchange.Admin.OData.Core.ODataServiceException' },
    },
  });
}

/** Runs a cmdlet against a tenant's state, as the given actor (also used by scenarios and tests). */
export function invokeCmdlet(
  ctx: SimContext,
  t: SimTenant,
  name: string,
  params: Params,
  o: { actor: Actor; clientIp: string },
): { ok: true; value: Array<Record<string, unknown>>; warnings: string[]; records: AuditRecord[] } | { ok: false; error: CmdletError } {
  const entry = Object.entries(CMDLETS).find(([k]) => k.toLowerCase() === name.toLowerCase());
  if (!entry) {
    return {
      ok: false,
      error: new CmdletError(
        400,
        'System.Management.Automation.CommandNotFoundException',
        `The term '${name.slice(0, 100)}' is not recognized as the name of a cmdlet, function, script file, or operable program.`,
      ),
    };
  }
  const [, cmd] = entry;
  for (const k of Object.keys(params)) {
    if (!cmd.params.some((p) => p.toLowerCase() === k.toLowerCase()) && !COMMON.some((p) => p.toLowerCase() === k.toLowerCase())) return { ok: false, error: badParam(k) };
  }
  // Parameter names are case-insensitive in PowerShell: normalise to the declared spelling.
  const p: Params = {};
  for (const [k, v] of Object.entries(params)) {
    const declared = [...cmd.params, ...COMMON].find((x) => x.toLowerCase() === k.toLowerCase()) ?? k;
    p[declared] = v;
  }
  const inv: Inv = { ctx, t, p, actor: o.actor, clientIp: o.clientIp, now: ctx.now(), records: [], warnings: [] };
  try {
    const value = cmd.run(inv);
    if (inv.records.length) ctx.audit.append(t.id, 'Audit.Exchange', inv.records);
    return { ok: true, value, warnings: inv.warnings, records: inv.records };
  } catch (e) {
    if (e instanceof CmdletError) return { ok: false, error: e };
    throw e;
  }
}

function selectProps(obj: Record<string, unknown>, props: string[]): Record<string, unknown> {
  const want = props.map((p) => p.toLowerCase());
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const base = k.split('@')[0].toLowerCase();
    if (want.includes(base)) out[k] = v;
  }
  return out;
}

export function registerExchange(app: FastifyInstance, ctx: SimContext): void {
  const windows = new Map<string, { start: number; count: number }>();

  app.post('/adminapi/beta/:tenantId/InvokeCommand', async (req: FastifyRequest, reply: FastifyReply) => {
    const { tenantId } = req.params as { tenantId: string };
    // The path names the tenant by GUID or by one of its domains (public clients such as CIPP pass the
    // default domain, others the .onmicrosoft.com name); the token's tid must be that tenant.
    const named = ctx.tenant(tenantId);
    const claims = ctx.requireToken(req, reply, 'exchange', named?.id ?? tenantId);
    if (!claims) return reply;
    const t = named;
    if (!t) {
      return exoError(reply, 401, { error: { code: 'Unauthorized', message: `The tenant '${tenantId.slice(0, 100)}' could not be found.` } });
    }
    if (!claims.roles?.includes('Exchange.ManageAsApp')) {
      void reply.header('WWW-Authenticate', 'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000@*", error="invalid_token"');
      return exoError(reply, 401, {
        error: {
          code: 'Unauthorized',
          message: `The role assigned to application ${claims.appid} isn't supported in this scenario. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication.`,
        },
      });
    }

    // Per-tenant request budget.
    const now = ctx.now();
    let w = windows.get(t.id);
    const { requests: limit, windowMs } = EXCHANGE_LIMITS;
    if (!w || now - w.start >= windowMs) {
      w = { start: now, count: 0 };
      windows.set(t.id, w);
    }
    w.count += 1;
    const resetS = Math.max(1, Math.ceil((w.start + windowMs - now) / 1000));
    void reply.header('Rate-Limit-Limit', String(limit)).header('Rate-Limit-Remaining', String(Math.max(0, limit - w.count))).header('Rate-Limit-Reset', new Date(w.start + windowMs).toISOString());
    if (w.count > limit) {
      return exoError(reply.header('Retry-After', String(resetS)), 429, {
        error: { code: 'TooManyRequests', message: 'Too many requests. Retry after the time in the Retry-After header.' },
      });
    }

    const body = req.body as { CmdletInput?: { CmdletName?: unknown; Parameters?: unknown } } | undefined;
    const input = body && typeof body === 'object' ? body.CmdletInput : undefined;
    if (!input || typeof input !== 'object' || typeof input.CmdletName !== 'string' || !input.CmdletName) {
      return exoError(reply, 400, { error: { code: 'BadRequest', message: "The request body must contain 'CmdletInput' with a 'CmdletName'." } });
    }
    const params = input.Parameters ?? {};
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      return exoError(reply, 400, { error: { code: 'BadRequest', message: "'Parameters' must be a JSON object." } });
    }
    const result = invokeCmdlet(ctx, t, input.CmdletName, params as Params, {
      actor: appActor(t, claims.appid || ctx.app.clientId),
      clientIp: ipWithPort(req.ip, req.socket.remotePort),
    });
    if (!result.ok) return cmdletFailure(reply, result.error);

    const q = req.query as Record<string, string | undefined>;
    let rows = result.value;
    if (q.$select) {
      const props = q.$select.split(',').map((s) => s.trim()).filter(Boolean);
      rows = rows.map((r) => selectProps(r, props));
    }
    const prefer = String(req.headers.prefer ?? '');
    const m = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(prefer);
    const pageSize = m ? Math.max(1, Math.min(Number(m[1]), DEFAULT_PAGE)) : DEFAULT_PAGE;
    if (m) void reply.header('Preference-Applied', `odata.maxpagesize=${pageSize}`);
    let skip = 0;
    if (q.$skiptoken) {
      const n = Number(Buffer.from(q.$skiptoken, 'base64url').toString('utf8'));
      if (Number.isInteger(n) && n >= 0) skip = n;
    }
    const slice = rows.slice(skip, skip + pageSize);
    const origin = ctx.baseUrl?.() || `${req.protocol}://${req.headers.host ?? 'outlook.office365.com'}`;
    let nextLink: string | undefined;
    if (skip + pageSize < rows.length) {
      const token = Buffer.from(String(skip + pageSize)).toString('base64url');
      nextLink = `${origin}/adminapi/beta/${encodeURIComponent(tenantId)}/InvokeCommand?${q.$select ? `$select=${encodeURIComponent(q.$select)}&` : ''}$skiptoken=${token}`;
    }
    const out = {
      '@odata.context': `${origin}/adminapi/beta/${tenantId}/$metadata#Collection(Exchange.GenericHashTable)`,
      'adminapi.warnings@odata.type': '#Collection(String)',
      '@adminapi.warnings': skip === 0 ? result.warnings : [],
      ...(nextLink ? { '@odata.nextLink': nextLink } : {}),
      value: slice,
    };
    return reply.code(200).header('content-type', 'application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8').send(toJson(out));
  });
}

