// Exchange Online admin API through InvokeCommand (what the EXO PowerShell V3 module sends for every cmdlet;
// undocumented, m365-api.md §5). Typed helpers for the cmdlets tenantwatch runs. RuleIdentity stays a decimal string.
import { baseUrlsOf, type Config } from '../config.ts';
import type { M365Http } from './http.ts';
import { M365Error, isM365Error } from './m365-error.ts';

export type CmdletParams = Record<string, unknown>;
export type CmdletObject = Record<string, unknown>;

export interface InboxRule {
  name: string;
  /** "{mailboxGuid}\{RuleIdentity}" (or whatever Exchange returns). */
  identity: string;
  /** Unsigned 64-bit, kept as a decimal string. */
  ruleIdentity: string;
  enabled: boolean;
  priority?: number;
  description?: string;
  mailboxOwnerId?: string;
  forwardTo: string[];
  forwardAsAttachmentTo: string[];
  redirectTo: string[];
  deleteMessage: boolean;
  moveToFolder: string | null;
  markAsRead: boolean;
  stopProcessingRules: boolean;
  raw: CmdletObject;
}

export interface MailboxInfo {
  identity: string;
  primarySmtpAddress: string;
  forwardingSmtpAddress: string | null;
  forwardingAddress: string | null;
  deliverToMailboxAndForward: boolean;
  externalDirectoryObjectId?: string;
  guid?: string;
  raw: CmdletObject;
}

export interface RecipientInfo {
  identity: string;
  recipientTypeDetails: string;
  primarySmtpAddress: string;
  externalEmailAddress: string | null;
  raw: CmdletObject;
}

export interface AcceptedDomainInfo {
  domainName: string;
  domainType: string;
  default: boolean;
  matchSubDomains: boolean;
}

export interface TransportRuleInfo {
  name: string;
  identity: string;
  state: string;
  mode: string;
  priority?: number;
  redirectMessageTo: string[];
  blindCopyTo: string[];
  copyTo: string[];
  raw: CmdletObject;
}

export interface ExchangeClient {
  /** Runs a cmdlet; returns every output object (all pages). */
  invoke(tenantId: string, cmdlet: string, params?: CmdletParams, opts?: { anchor?: string; select?: string[] }): Promise<CmdletObject[]>;
  getInboxRules(tenantId: string, mailbox: string, opts?: { includeHidden?: boolean }): Promise<InboxRule[]>;
  disableInboxRule(tenantId: string, mailbox: string, rule: string): Promise<void>;
  enableInboxRule(tenantId: string, mailbox: string, rule: string): Promise<void>;
  removeInboxRule(tenantId: string, mailbox: string, rule: string): Promise<void>;
  getMailbox(tenantId: string, identity: string): Promise<MailboxInfo>;
  setMailboxForwarding(
    tenantId: string,
    identity: string,
    fwd: { forwardingSmtpAddress: string | null; forwardingAddress: string | null; deliverToMailboxAndForward: boolean },
  ): Promise<void>;
  /** undefined when Exchange knows no such recipient. */
  getRecipient(tenantId: string, identity: string): Promise<RecipientInfo | undefined>;
  /** Every recipient (mail contacts, mail users, mailboxes …) forwarding can point at. */
  listRecipients(tenantId: string): Promise<RecipientInfo[]>;
  getAdminAuditLogConfig(tenantId: string): Promise<{ unifiedAuditLogIngestionEnabled: boolean; raw: CmdletObject }>;
  setAdminAuditLogConfig(tenantId: string, enabled: boolean): Promise<void>;
  getAcceptedDomains(tenantId: string): Promise<AcceptedDomainInfo[]>;
  getTransportRules(tenantId: string): Promise<TransportRuleInfo[]>;
  removeTransportRule(tenantId: string, identity: string): Promise<void>;
  setCasMailbox(tenantId: string, identity: string, params: CmdletParams): Promise<void>;
}

function str(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Exchange serialises booleans as JSON booleans, sometimes as "True"/"False". */
function bool(v: unknown): boolean {
  return v === true || (typeof v === 'string' && /^true$/i.test(v));
}

function strings(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.map(str).filter((x): x is string => x !== undefined);
  const s = str(v);
  return s === undefined || s === '' ? [] : [s];
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return undefined;
}

export function toInboxRule(o: CmdletObject): InboxRule {
  const identity = str(o.Identity) ?? '';
  // RuleIdentity is an unsigned 64-bit number above 2^53: our JSON parser kept it as a decimal string (json.ts).
  const ruleIdentity = str(o.RuleIdentity) ?? identity.split('\\').pop() ?? '';
  return {
    name: str(o.Name) ?? '',
    identity,
    ruleIdentity,
    enabled: bool(o.Enabled),
    priority: num(o.Priority),
    description: str(o.Description),
    mailboxOwnerId: str(o.MailboxOwnerId),
    forwardTo: strings(o.ForwardTo),
    forwardAsAttachmentTo: strings(o.ForwardAsAttachmentTo),
    redirectTo: strings(o.RedirectTo),
    deleteMessage: bool(o.DeleteMessage),
    moveToFolder: str(o.MoveToFolder) ?? null,
    markAsRead: bool(o.MarkAsRead),
    stopProcessingRules: bool(o.StopProcessingRules),
    raw: o,
  };
}

function toRecipient(o: CmdletObject): RecipientInfo {
  return {
    identity: str(o.Identity) ?? str(o.Name) ?? '',
    recipientTypeDetails: str(o.RecipientTypeDetails) ?? '',
    primarySmtpAddress: str(o.PrimarySmtpAddress) ?? '',
    externalEmailAddress: str(o.ExternalEmailAddress) ?? null,
    raw: o,
  };
}

export function createExchangeClient(http: M365Http, config: Readonly<Config>): ExchangeClient {
  const base = baseUrlsOf(config).exchange;
  const origin = new URL(base).origin;

  async function invoke(tenantId: string, cmdlet: string, params: CmdletParams = {}, opts: { anchor?: string; select?: string[] } = {}): Promise<CmdletObject[]> {
    let url: string | undefined = `${base}/adminapi/beta/${encodeURIComponent(tenantId)}/InvokeCommand${opts.select?.length ? `?$select=${opts.select.map(encodeURIComponent).join(',')}` : ''}`;
    // JSON.stringify keeps explicit nulls: `$null` must be sent, dropping it turns "clear forwarding" into a no-op (m365-api.md §5.1).
    const body = JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: params } });
    const headers = {
      // App-only calls are routed by the tenant's system mailbox anchor, as the EXO V3 module does (m365-api.md §5.1).
      // https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2
      'X-AnchorMailbox': opts.anchor ?? `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${tenantId}`,
      'X-CmdletName': cmdlet,
      Prefer: 'odata.maxpagesize=1000',
    };
    const out: CmdletObject[] = [];
    for (let page = 0; url && page < 1000; page++) {
      const r: { json: { value?: CmdletObject[]; '@odata.nextLink'?: string } | undefined } = await http.requestJson(tenantId, 'exchange', { method: 'POST', url, body, headers });
      if (Array.isArray(r.json?.value)) out.push(...r.json.value);
      // More pages: POST the same body to @odata.nextLink, only on Exchange's own origin.
      const next: string | undefined = r.json?.['@odata.nextLink'];
      if (next && new URL(next, base).origin !== origin) {
        throw new M365Error('TW_M365_BAD_RESPONSE', { reason: 'a nextLink points to another host' }, { resource: 'exchange', tenantId });
      }
      url = next ? new URL(next, base).toString() : undefined;
    }
    return out;
  }

  function ruleParams(mailbox: string, rule: string): CmdletParams {
    // "{mailboxGuid}\{RuleIdentity}" identifies a rule alone; a bare RuleIdentity or name needs the Mailbox.
    // AlwaysDeleteOutlookRulesBlob avoids the confirmation prompt about Outlook client-only rules.
    // https://learn.microsoft.com/powershell/module/exchangepowershell/disable-inboxrule
    return rule.includes('\\')
      ? { Identity: rule, AlwaysDeleteOutlookRulesBlob: true, Confirm: false }
      : { Mailbox: mailbox, Identity: rule, AlwaysDeleteOutlookRulesBlob: true, Confirm: false };
  }

  return {
    invoke,
    async getInboxRules(tenantId, mailbox, opts = {}) {
      // Without -IncludeHidden, rules hidden by MAPI edits (a favourite of attackers) stay invisible.
      // https://learn.microsoft.com/powershell/module/exchangepowershell/get-inboxrule#-includehidden
      const params: CmdletParams = { Mailbox: mailbox };
      if (opts.includeHidden ?? true) params.IncludeHidden = true;
      return (await invoke(tenantId, 'Get-InboxRule', params)).map(toInboxRule);
    },
    async disableInboxRule(tenantId, mailbox, rule) {
      await invoke(tenantId, 'Disable-InboxRule', ruleParams(mailbox, rule));
    },
    async enableInboxRule(tenantId, mailbox, rule) {
      await invoke(tenantId, 'Enable-InboxRule', ruleParams(mailbox, rule));
    },
    async removeInboxRule(tenantId, mailbox, rule) {
      await invoke(tenantId, 'Remove-InboxRule', ruleParams(mailbox, rule));
    },
    async getMailbox(tenantId, identity) {
      const [o] = await invoke(tenantId, 'Get-Mailbox', { Identity: identity });
      if (!o) throw new M365Error('TW_M365_NOT_FOUND', { what: `mailbox ${identity}` }, { resource: 'exchange', tenantId });
      return {
        identity: str(o.Identity) ?? identity,
        primarySmtpAddress: str(o.PrimarySmtpAddress) ?? '',
        forwardingSmtpAddress: str(o.ForwardingSmtpAddress) ?? null,
        forwardingAddress: str(o.ForwardingAddress) ?? null,
        deliverToMailboxAndForward: bool(o.DeliverToMailboxAndForward),
        externalDirectoryObjectId: str(o.ExternalDirectoryObjectId),
        guid: str(o.Guid) ?? str(o.ExchangeGuid),
        raw: o,
      };
    },
    async setMailboxForwarding(tenantId, identity, fwd) {
      await invoke(tenantId, 'Set-Mailbox', {
        Identity: identity,
        ForwardingSmtpAddress: fwd.forwardingSmtpAddress,
        ForwardingAddress: fwd.forwardingAddress,
        DeliverToMailboxAndForward: fwd.deliverToMailboxAndForward,
      });
    },
    async getRecipient(tenantId, identity) {
      try {
        const [o] = await invoke(tenantId, 'Get-Recipient', { Identity: identity });
        return o ? toRecipient(o) : undefined;
      } catch (e) {
        if (isM365Error(e) && e.code === 'TW_M365_NOT_FOUND') return undefined;
        throw e;
      }
    },
    async listRecipients(tenantId) {
      return (await invoke(tenantId, 'Get-Recipient', { ResultSize: 'Unlimited' })).map(toRecipient);
    },
    async getAdminAuditLogConfig(tenantId) {
      // Only Exchange Online's answer is meaningful (not Security & Compliance PowerShell's).
      // https://learn.microsoft.com/purview/audit-log-enable-disable
      const [o] = await invoke(tenantId, 'Get-AdminAuditLogConfig', {});
      return { unifiedAuditLogIngestionEnabled: bool(o?.UnifiedAuditLogIngestionEnabled), raw: o ?? {} };
    },
    async setAdminAuditLogConfig(tenantId, enabled) {
      await invoke(tenantId, 'Set-AdminAuditLogConfig', { UnifiedAuditLogIngestionEnabled: enabled });
    },
    async getAcceptedDomains(tenantId) {
      // MatchSubDomains decides whether sub.contoso.com is internal too.
      // https://learn.microsoft.com/powershell/module/exchangepowershell/get-accepteddomain
      return (await invoke(tenantId, 'Get-AcceptedDomain', {})).map((o) => ({
        domainName: (str(o.DomainName) ?? str(o.Name) ?? '').toLowerCase(),
        domainType: str(o.DomainType) ?? 'Authoritative',
        default: bool(o.Default),
        matchSubDomains: bool(o.MatchSubDomains),
      }));
    },
    async getTransportRules(tenantId) {
      return (await invoke(tenantId, 'Get-TransportRule', {})).map((o) => ({
        name: str(o.Name) ?? '',
        identity: str(o.Identity) ?? str(o.Name) ?? '',
        state: str(o.State) ?? '',
        mode: str(o.Mode) ?? '',
        priority: num(o.Priority),
        redirectMessageTo: strings(o.RedirectMessageTo),
        blindCopyTo: strings(o.BlindCopyTo),
        copyTo: strings(o.CopyTo),
        raw: o,
      }));
    },
    async removeTransportRule(tenantId, identity) {
      await invoke(tenantId, 'Remove-TransportRule', { Identity: identity, Confirm: false });
    },
    async setCasMailbox(tenantId, identity, params) {
      await invoke(tenantId, 'Set-CASMailbox', { Identity: identity, ...params });
    },
  };
}
