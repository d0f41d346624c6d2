import { describe, expect, it } from 'vitest';
import type { TenantContext } from '../../model.ts';
import { normalizeRecord } from '../normalize.ts';
import type { NormalizedRecord } from '../record.ts';
import { externality } from './addresses.ts';
import { mailboxForwarding, permissionGrant, transportRuleRecipients } from './mailbox.ts';

const ctx: TenantContext = {
  tenantId: 't',
  name: 'c',
  acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }],
  recipients: [{ identity: 'Partner Billing', address: 'billing@partner.example', type: 'MailContact' }],
  trustedIps: [],
  exclusions: [],
  known: true,
};
const p = (pairs: Record<string, string>) => Object.entries(pairs).map(([Name, Value]) => ({ Name, Value }));
function rec(o: Record<string, unknown>): NormalizedRecord {
  const r = normalizeRecord({ Id: 'x', CreationTime: '2026-01-01T00:00:00', OrganizationId: 't', UserId: 'admin@contoso.com', ...o });
  if (!r.ok) throw new Error(r.reason);
  return r.record;
}

describe('mailbox forwarding', () => {
  it('reads ForwardingSmtpAddress with or without the smtp: prefix', () => {
    const f = mailboxForwarding(rec({ Operation: 'Set-Mailbox', Parameters: p({ Identity: 'jane', ForwardingSmtpAddress: 'smtp:Drop@Mail.Example.net', DeliverToMailboxAndForward: 'False' }) }), ctx)!;
    expect(f.targets.map((t) => t.address)).toEqual(['drop@mail.example.net']);
    expect(f.keepsCopy).toBe(false);
    expect(f.cleared).toBe(false);
  });

  it('resolves ForwardingAddress through the tenant recipients (mail contact → its external address)', () => {
    const f = mailboxForwarding(rec({ Operation: 'Set-Mailbox', Parameters: p({ Identity: 'jane', ForwardingAddress: 'Partner Billing' }) }), ctx)!;
    expect(f.targets[0].address).toBe('billing@partner.example');
    expect(externality(f.targets[0], ctx)).toBe('external');
  });

  it('sees clearing ($null or empty) as cleared', () => {
    expect(mailboxForwarding(rec({ Operation: 'Set-Mailbox', Parameters: p({ ForwardingSmtpAddress: '' }) }), ctx)!.cleared).toBe(true);
    expect(mailboxForwarding(rec({ Operation: 'Set-Mailbox', Parameters: p({ ForwardingAddress: '$null' }) }), ctx)!.cleared).toBe(true);
  });

  it('ignores Set-Mailbox records that do not touch forwarding', () => {
    expect(mailboxForwarding(rec({ Operation: 'Set-Mailbox', Parameters: p({ AuditEnabled: 'True' }) }), ctx)).toBeUndefined();
    expect(mailboxForwarding(rec({ Operation: 'New-InboxRule', Parameters: p({ ForwardingSmtpAddress: 'x@y.org' }) }), ctx)).toBeUndefined();
  });
});

describe('permission grants', () => {
  it('finds FullAccess, SendAs and SendOnBehalf grants', () => {
    expect(permissionGrant(rec({ Operation: 'Add-MailboxPermission', Parameters: p({ Identity: 'jane@contoso.com', User: 'bob@contoso.com', AccessRights: 'FullAccess' }) }))).toMatchObject({ kind: 'FullAccess', trustee: 'bob@contoso.com', bySelf: false });
    expect(permissionGrant(rec({ Operation: 'Add-RecipientPermission', Parameters: p({ Identity: 'jane', Trustee: 'bob', AccessRights: 'SendAs' }) }))?.kind).toBe('SendAs');
    expect(permissionGrant(rec({ Operation: 'Set-Mailbox', Parameters: p({ Identity: 'jane', GrantSendOnBehalfTo: '@{Add="bob@contoso.com"}' }) }))).toMatchObject({ kind: 'SendOnBehalf', trustee: 'bob@contoso.com' });
  });

  it('finds Inbox folder grants, including by the mailbox owner, and ignores the calendar', () => {
    const g = permissionGrant(rec({ Operation: 'Add-MailboxFolderPermission', UserId: 'jane@contoso.com', Parameters: p({ Identity: 'jane@contoso.com:\\Inbox', User: 'Default', AccessRights: 'Reviewer' }) }))!;
    expect(g).toMatchObject({ kind: 'FolderPermission', folder: 'inbox', bySelf: true, everyone: true });
    expect(permissionGrant(rec({ Operation: 'Add-MailboxFolderPermission', Parameters: p({ Identity: 'jane@contoso.com:\\Calendar', User: 'bob', AccessRights: 'Editor' }) }))).toBeUndefined();
    expect(permissionGrant(rec({ Operation: 'Set-MailboxFolderPermission', Parameters: p({ Identity: 'jane@contoso.com:\\Inbox', User: 'bob', AccessRights: 'None' }) }))).toBeUndefined();
  });

  it('ignores removals, self grants and NT AUTHORITY\\SELF', () => {
    expect(permissionGrant(rec({ Operation: 'Set-Mailbox', Parameters: p({ GrantSendOnBehalfTo: '@{Remove="bob"}' }) }))).toBeUndefined();
    expect(permissionGrant(rec({ Operation: 'Add-MailboxPermission', Parameters: p({ Identity: 'jane', User: 'NT AUTHORITY\\SELF', AccessRights: 'FullAccess' }) }))).toBeUndefined();
    expect(permissionGrant(rec({ Operation: 'Add-MailboxPermission', Parameters: p({ Identity: 'jane', User: 'bob', AccessRights: 'ExternalAccount' }) }))).toBeUndefined();
  });
});

describe('transport rule recipients', () => {
  it('collects BlindCopyTo, CopyTo, RedirectMessageTo, AddToRecipients and incident reports', () => {
    const t = transportRuleRecipients(rec({ Operation: 'New-TransportRule', Parameters: p({ Name: 'r', BlindCopyTo: 'a@x.org', RedirectMessageTo: 'b@contoso.com', AddToRecipients: 'c@y.org;a@x.org', GenerateIncidentReport: 'd@z.org' }) }), ctx)!;
    expect(t.ruleName).toBe('r');
    expect(t.actions.map((a) => a.action)).toEqual(['BlindCopyTo', 'RedirectMessageTo', 'AddToRecipients', 'GenerateIncidentReport']);
    expect(t.recipients.map((r) => r.address)).toEqual(['a@x.org', 'b@contoso.com', 'c@y.org', 'd@z.org']);
  });

  it('has no recipients for a disclaimer rule', () => {
    expect(transportRuleRecipients(rec({ Operation: 'New-TransportRule', Parameters: p({ Name: 'd', ApplyHtmlDisclaimerText: '<p>a@b.org</p>' }) }), ctx)!.recipients).toEqual([]);
  });
});
