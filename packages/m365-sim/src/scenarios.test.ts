// Activity scenarios: each changes the tenant's state and writes records in Microsoft's shapes.
import { beforeEach, describe, expect, it } from 'vitest';
import { directory } from './directory.ts';
import { DEFAULT_ATTACKER_IP, DEFAULT_DESTINATION, SCENARIOS } from './scenarios.ts';
import type { AuditRecord, ContentType, SimContext, SimTenant, WorldTenant } from './types.ts';

const T = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const NOW = Date.parse('2026-09-10T12:00:00Z');

const ENTRY: WorldTenant = {
  id: T,
  name: 'Contoso Ltd',
  domains: ['contoso.com', 'contoso.onmicrosoft.com'],
  consented: true,
  gdap: 'active',
  auditLogEnabled: true,
  users: [
    { upn: 'jane@contoso.com', displayName: 'Jane Doe' },
    { upn: 'raj@contoso.com', displayName: 'Raj Patel' },
    { upn: 'admin@contoso.com', displayName: 'Contoso Admin', admin: true },
  ],
};

let tenant: SimTenant;
let out: Array<{ contentType: ContentType; record: AuditRecord }>;
let ctx: SimContext;

beforeEach(() => {
  tenant = directory.createTenant(ENTRY, 1);
  out = [];
  ctx = {
    tenant: () => tenant,
    partner: { tenantId: '9a9a9a9a-0000-4000-8000-000000000001', domain: 'msp.example' },
    app: { clientId: '6f1e2d3c-0000-4000-8000-00000000a001' },
    audit: { append: (_id, contentType, records) => records.forEach((record) => out.push({ contentType, record })) },
    now: () => NOW,
    requireToken: () => undefined,
  };
});

const run = (body: Record<string, unknown>) => directory.runScenario(ctx, tenant, body as { scenario: string });
const ops = (): string[] => out.map((o) => o.record.Operation);
const param = (r: AuditRecord, name: string): string | undefined => (r.Parameters as Array<{ Name: string; Value: string }>).find((p) => p.Name === name)?.Value;
const janeBox = () => tenant.mailboxes.get('jane@contoso.com')!;

describe('activity scenarios', () => {
  it('lists every scenario the brief names', () => {
    expect([...directory.scenarios].sort()).toEqual([...SCENARIOS].sort());
    for (const s of ['phishing-signin', 'inbox-rule-forward', 'inbox-rule-delete-all', 'inbox-rule-hidden', 'mailbox-forwarding-contact', 'transport-rule-bcc', 'illicit-consent', 'mfa-removal', 'outlook-desktop-rule', 'benign', 'takeover']) {
      expect(directory.scenarios).toContain(s);
    }
  });

  it('answers an unknown scenario with 400 naming the known ones', () => {
    const r = run({ scenario: 'nope' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.status).toBe(400);
      expect(r.error).toContain('inbox-rule-forward');
    }
  });

  it('answers an unknown user with 404 and a bad time or address with 400', () => {
    const u = run({ scenario: 'phishing-signin', user: 'ghost@contoso.com' });
    expect(u).toMatchObject({ ok: false, status: 404 });
    expect(run({ scenario: 'phishing-signin', at: 'yesterday' })).toMatchObject({ ok: false, status: 400 });
    expect(run({ scenario: 'phishing-signin', ip: 'not-an-ip' })).toMatchObject({ ok: false, status: 400 });
    expect(run({ scenario: 'inbox-rule-forward', destination: 'nobody' })).toMatchObject({ ok: false, status: 400 });
  });

  it('phishing-signin writes a failed then a successful logon from the attacker address, zone-less', () => {
    const r = run({ scenario: 'phishing-signin', user: 'jane@contoso.com', ip: '45.83.64.7', at: '2026-09-09T22:00:00Z', baseline: false });
    expect(r).toMatchObject({ ok: true, records: 2 });
    expect(ops()).toEqual(['UserLoginFailed', 'UserLoggedIn']);
    const ok = out[1].record;
    expect(out[1].contentType).toBe('Audit.AzureActiveDirectory');
    expect(ok).toMatchObject({ RecordType: 15, ClientIP: '45.83.64.7', UserId: 'jane@contoso.com', ErrorNumber: '0', Workload: 'AzureActiveDirectory', OrganizationId: T });
    expect(ok.CreationTime).toBe('2026-09-09T22:00:00');
    expect(out[0].record).toMatchObject({ ErrorNumber: '50126', LogonError: 'InvalidUserNameOrPassword', ResultStatus: 'Failed' });
    expect(tenant.signIns).toHaveLength(2);
    expect(tenant.signIns[1]).toMatchObject({ userPrincipalName: 'jane@contoso.com', ipAddress: '45.83.64.7' });
  });

  it('phishing-signin first writes the user’s ordinary sign-ins from home, days earlier', () => {
    run({ scenario: 'phishing-signin', user: 'jane@contoso.com', at: '2026-09-09T22:00:00Z' });
    expect(ops()).toEqual(['UserLoggedIn', 'UserLoggedIn', 'UserLoginFailed', 'UserLoggedIn']);
    const [a, b, , attack] = out.map((o) => o.record);
    expect(a.ClientIP).toBe(b.ClientIP);
    expect(a.ClientIP).not.toBe(attack.ClientIP);
    expect(attack.ClientIP).toBe(DEFAULT_ATTACKER_IP);
    expect(a.CreationTime).toBe('2026-09-06T22:00:00');
  });

  it('inbox-rule-forward creates an external forward rule from OWA after the sign-in', () => {
    const r = run({ scenario: 'inbox-rule-forward', user: 'jane@contoso.com', destination: 'Drop@Mail.Example.net', ruleName: '.', baseline: false });
    expect(r.ok).toBe(true);
    expect(ops()).toEqual(['UserLoginFailed', 'UserLoggedIn', 'New-InboxRule']);
    const rule = janeBox().rules.find((x) => x.name === '.')!;
    expect(rule).toMatchObject({ forwardTo: ['drop@mail.example.net'], moveToFolder: 'RSS Feeds', markAsRead: true, hidden: false, enabled: true });
    const rec = out[2].record;
    expect(out[2].contentType).toBe('Audit.Exchange');
    expect(rec).toMatchObject({ RecordType: 1, ResultStatus: 'True', UserId: 'jane@contoso.com', AppId: '', ExternalAccess: false, OrganizationName: 'contoso.onmicrosoft.com' });
    expect(String(rec.ClientIP)).toMatch(new RegExp(`^${DEFAULT_ATTACKER_IP.replace(/\./g, '\\.')}:\\d+$`));
    expect(String(rec.ObjectId)).toMatch(/Microsoft Exchange Hosted Organizations\/contoso\.onmicrosoft\.com\/Jane Doe\\\.$/);
    expect(param(rec, 'AlwaysDeleteOutlookRulesBlob')).toBe('False');
    expect(param(rec, 'ForwardTo')).toBe('drop@mail.example.net');
    expect(param(rec, 'MoveToFolder')).toBe('RSS Feeds');
    expect(param(rec, 'MarkAsRead')).toBe('True');
    expect(param(rec, 'Name')).toBe('.');
    expect(r.ok && (r.detail as { rule: { ruleIdentity: string } }).rule.ruleIdentity).toBe(rule.ruleIdentity);
  });

  it('inbox-rule-forward writes the PowerShell and Graph variants of New-InboxRule on request', () => {
    run({ scenario: 'inbox-rule-forward', user: 'jane@contoso.com', via: 'powershell', baseline: false });
    run({ scenario: 'inbox-rule-forward', user: 'raj@contoso.com', via: 'graph', baseline: false });
    const [ps, gr] = out.filter((o) => o.record.Operation === 'New-InboxRule').map((o) => o.record);
    expect(ps.AppId).toBe('fb78d390-0c51-40cd-8e17-fdbfab77341b');
    expect(param(ps, 'Mailbox')).toBe('jane@contoso.com');
    expect(param(ps, 'AlwaysDeleteOutlookRulesBlob')).toBeUndefined();
    expect(gr.AppId).toMatch(/^[0-9a-f-]{36}$/);
    expect((gr.Parameters as Array<{ Name: string }>)[0].Name).toBe('Name');
    expect(run({ scenario: 'inbox-rule-forward', via: 'fax' })).toMatchObject({ ok: false, status: 400 });
  });

  it('inbox-rule-delete-all creates a rule that deletes every message', () => {
    run({ scenario: 'inbox-rule-delete-all', user: 'jane@contoso.com' });
    const rule = janeBox().rules.find((x) => x.deleteMessage)!;
    expect(rule.conditions).toEqual({});
    const rec = out.find((o) => o.record.Operation === 'New-InboxRule')!.record;
    expect(param(rec, 'DeleteMessage')).toBe('True');
    expect((rec.Parameters as unknown[]).length).toBe(4);
  });

  it('inbox-rule-hidden leaves a forward-and-delete rule that only IncludeHidden shows', () => {
    run({ scenario: 'inbox-rule-hidden', user: 'jane@contoso.com', baseline: false });
    const rule = janeBox().rules.find((x) => x.forwardTo.length)!;
    expect(rule).toMatchObject({ hidden: true, deleteMessage: true, forwardTo: [DEFAULT_DESTINATION] });
    expect(ops()).toEqual(['UserLoginFailed', 'UserLoggedIn', 'New-InboxRule', 'UpdateInboxRules']);
    const mapi = out[3].record;
    expect(mapi).toMatchObject({ RecordType: 2, ClientInfoString: 'Client=MSExchangeRPC', MailboxGuid: janeBox().guid, MailboxOwnerUPN: 'jane@contoso.com' });
    const props = mapi.OperationProperties as Array<{ Name: string; Value: string }>;
    expect(props.find((p) => p.Name === 'RuleOperation')!.Value).toBe('ModifyMailboxRule');
    expect(JSON.parse(props.find((p) => p.Name === 'RuleActions')!.Value)).toContainEqual({ ActionType: 'ForwardToRecipientsAction', Recipients: [DEFAULT_DESTINATION] });
  });

  it('mailbox-forwarding-contact creates a mail contact pointing outside and forwards to it without a copy', () => {
    run({ scenario: 'mailbox-forwarding-contact', user: 'jane@contoso.com', destination: 'collect@outside.example' });
    const contact = tenant.recipients.find((r) => r.externalEmailAddress === 'SMTP:collect@outside.example')!;
    expect(contact.recipientTypeDetails).toBe('MailContact');
    expect(janeBox()).toMatchObject({ forwardingAddress: contact.identity, deliverToMailboxAndForward: false, forwardingSmtpAddress: null });
    expect(ops()).toEqual(['UserLoggedIn', 'New-MailContact', 'Set-Mailbox']);
    const set = out[2].record;
    expect(set).toMatchObject({ RecordType: 1, UserId: 'admin@contoso.com', UserType: 2 });
    expect(param(set, 'ForwardingAddress')).toBe(contact.identity);
    expect(param(set, 'DeliverToMailboxAndForward')).toBe('False');
  });

  it('transport-rule-bcc adds an enabled rule blind-copying outside', () => {
    run({ scenario: 'transport-rule-bcc', destination: 'bcc@outside.example' });
    expect(tenant.transportRules.find((r) => r.name === 'Compliance copy')).toMatchObject({ state: 'Enabled', blindCopyTo: ['bcc@outside.example'] });
    expect(ops()).toEqual(['New-TransportRule']);
    expect(param(out[0].record, 'BlindCopyTo')).toBe('bcc@outside.example');
    expect(out[0].record.ObjectId).toBe('Compliance copy');
  });

  it('illicit-consent records a user consent to mail scopes and keeps the grant', () => {
    run({ scenario: 'illicit-consent', user: 'jane@contoso.com' });
    expect(ops()).toEqual(['Consent to application.', 'Add delegated permission grant.']);
    expect(tenant.oauthGrants).toHaveLength(1);
    expect(tenant.oauthGrants[0]).toMatchObject({ scope: 'Mail.ReadWrite offline_access User.Read', consentType: 'Principal' });
    const mods = out[0].record.ModifiedProperties as Array<{ Name: string; NewValue: string }>;
    expect(mods.find((m) => m.Name === 'ConsentContext.IsAdminConsent')!.NewValue).toBe('False');
    expect(mods.find((m) => m.Name === 'ConsentAction.Permissions')!.NewValue).toContain('Scope: Mail.ReadWrite offline_access User.Read');
  });

  it('mfa-removal records Disable Strong Authentication. and the StrongAuthenticationRequirement change', () => {
    run({ scenario: 'mfa-removal', user: 'jane@contoso.com' });
    expect(ops()).toEqual(['Disable Strong Authentication.', 'Update user.']);
    expect(tenant.users.find((u) => u.upn === 'jane@contoso.com')!.mfaRegistered).toBe(false);
    const mods = out[1].record.ModifiedProperties as Array<{ Name: string; NewValue: string }>;
    expect(mods.map((m) => m.Name)).toEqual(['StrongAuthenticationRequirement', 'Included Updated Properties']);
    expect(out[1].record.UserId).toBe('admin@contoso.com');
  });

  it('admin-role-grant adds the user to Global Administrator', () => {
    run({ scenario: 'admin-role-grant', user: 'raj@contoso.com' });
    expect(ops()).toEqual(['Add member to role.']);
    const mods = out[0].record.ModifiedProperties as Array<{ Name: string; NewValue: string }>;
    expect(mods.find((m) => m.Name === 'Role.TemplateId')!.NewValue).toBe('62e90394-69f5-4237-9190-012177145e10');
    expect(tenant.users.find((u) => u.upn === 'raj@contoso.com')!.isAdmin).toBe(true);
  });

  it('outlook-desktop-rule writes UpdateInboxRules from MSExchangeRPC and creates a visible rule', () => {
    run({ scenario: 'outlook-desktop-rule', user: 'jane@contoso.com', ruleName: 'Sync' });
    const rule = janeBox().rules.find((x) => x.name === 'Sync')!;
    expect(rule).toMatchObject({ hidden: false, forwardTo: [DEFAULT_DESTINATION] });
    expect(ops()).toEqual(['UpdateInboxRules']);
    const props = out[0].record.OperationProperties as Array<{ Name: string; Value: string }>;
    expect(props.find((p) => p.Name === 'RuleOperation')!.Value).toBe('AddMailboxRule');
    expect(props.find((p) => p.Name === 'RuleId')!.Value).toBe(rule.ruleIdentity);
    expect(out[0].record.ClientInfoString).toBe('Client=MSExchangeRPC');
  });

  it('benign writes ordinary sign-ins, MailItemsAccessed and a harmless folder rule', () => {
    const r = run({ scenario: 'benign' });
    expect(r.ok).toBe(true);
    const o = ops();
    expect(o.filter((x) => x === 'UserLoggedIn').length).toBe(3);
    expect(o.filter((x) => x === 'MailItemsAccessed').length).toBe(3);
    const rule = out.find((x) => x.record.Operation === 'New-InboxRule')!.record;
    expect(param(rule, 'ForwardTo')).toBeUndefined();
    expect(param(rule, 'MoveToFolder')).toBe('Newsletters');
    expect(out.find((x) => x.record.Operation === 'MailItemsAccessed')!.record.RecordType).toBe(50);
  });

  it('takeover leaves a hidden forward-and-delete rule and forwarding to a mail contact', () => {
    const r = run({ scenario: 'takeover', user: 'jane@contoso.com', destination: 'loot@outside.example', at: NOW - 3_600_000, baseline: false });
    expect(r.ok).toBe(true);
    const mb = janeBox();
    const rule = mb.rules.find((x) => x.forwardTo.includes('loot@outside.example'))!;
    expect(rule).toMatchObject({ hidden: true, deleteMessage: true });
    const contact = tenant.recipients.find((c) => c.identity === mb.forwardingAddress)!;
    expect(contact.externalEmailAddress).toBe('SMTP:loot@outside.example');
    expect(mb.deliverToMailboxAndForward).toBe(false);
    expect(ops()).toEqual(['UserLoginFailed', 'UserLoggedIn', 'New-InboxRule', 'UpdateInboxRules', 'New-MailContact', 'Set-Mailbox']);
    const times = out.map((x) => Date.parse(`${x.record.CreationTime}Z`));
    expect(times[1]).toBe(NOW - 3_600_000);
    expect(times[5]).toBeGreaterThan(times[2]);
    const snap = directory.snapshot(tenant) as { mailboxes: Array<{ upn: string; forwardingAddress: string; inboxRules: Array<{ hidden: boolean; forwardTo: string[] }> }> };
    const jm = snap.mailboxes.find((m) => m.upn === 'jane@contoso.com')!;
    expect(jm.forwardingAddress).toBe(contact.identity);
    expect(jm.inboxRules.some((x) => x.hidden && x.forwardTo.includes('loot@outside.example'))).toBe(true);
  });

  it('gives every record a unique Id, the tenant as OrganizationId and a zone-less CreationTime', () => {
    for (const s of SCENARIOS) run({ scenario: s, user: 'jane@contoso.com', ruleName: undefined });
    const ids = new Set(out.map((o) => o.record.Id));
    expect(ids.size).toBe(out.length);
    for (const o of out) {
      expect(o.record.OrganizationId).toBe(T);
      expect(o.record.CreationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    }
  });
});
