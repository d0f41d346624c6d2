// Record builders against the field sets of real exported records (the labelled fixtures of
// ../shared/fixtures/audit, whose top-level keys per operation are copied here).
import { describe, expect, it } from 'vitest';
import {
  addRoleMemberRecord,
  adminActor,
  appActor,
  auditTime,
  consentRecords,
  directoryUserRecord,
  entraValue,
  exchangeAdminRecord,
  ipWithPort,
  mailItemsAccessedRecord,
  newInboxRuleRecord,
  signInRecord,
  updateInboxRulesRecord,
  updateUserRecord,
} from './records.ts';
import { createTenant, newRule } from './state.ts';
import type { WorldTenant } from './types.ts';

const EXCHANGE_ADMIN = ['AppId', 'ClientAppId', 'ClientIP', 'CreationTime', 'ExternalAccess', 'Id', 'ObjectId', 'Operation', 'OrganizationId', 'OrganizationName', 'OriginatingServer', 'Parameters', 'RecordType', 'RequestId', 'ResultStatus', 'SessionId', 'UserId', 'UserKey', 'UserType', 'Version', 'Workload'];
const MAIL_ITEMS_ACCESSED = ['AppId', 'ClientAppId', 'ClientIP', 'ClientIPAddress', 'ClientInfoString', 'CreationTime', 'ExternalAccess', 'Folders', 'Id', 'InternalLogonType', 'LogonType', 'LogonUserSid', 'MailboxGuid', 'MailboxOwnerSid', 'MailboxOwnerUPN', 'Operation', 'OperationCount', 'OperationProperties', 'OrganizationId', 'OrganizationName', 'OriginatingServer', 'RecordType', 'ResultStatus', 'SessionId', 'UserId', 'UserKey', 'UserType', 'Version', 'Workload'];
const SIGN_IN = ['Actor', 'ActorContextId', 'ActorIpAddress', 'ApplicationId', 'AzureActiveDirectoryEventType', 'ClientIP', 'CreationTime', 'DeviceProperties', 'ErrorNumber', 'ExtendedProperties', 'Id', 'InterSystemsId', 'IntraSystemId', 'ModifiedProperties', 'ObjectId', 'Operation', 'OrganizationId', 'RecordType', 'ResultStatus', 'SupportTicketId', 'Target', 'TargetContextId', 'UserId', 'UserKey', 'UserType', 'Version', 'Workload'];
const DIRECTORY = ['Actor', 'ActorContextId', 'ActorIpAddress', 'AzureActiveDirectoryEventType', 'ClientIP', 'CreationTime', 'ExtendedProperties', 'Id', 'InterSystemsId', 'IntraSystemId', 'ModifiedProperties', 'ObjectId', 'Operation', 'OrganizationId', 'RecordType', 'ResultStatus', 'SupportTicketId', 'Target', 'TargetContextId', 'UserId', 'UserKey', 'UserType', 'Version', 'Workload'];
// m365-api.md §3.5 (UpdateInboxRules) plus MailboxOwnerSid and SessionId, which mailbox records carry.
const UPDATE_INBOX_RULES = ['ClientIP', 'ClientIPAddress', 'ClientInfoString', 'CreationTime', 'ExternalAccess', 'Id', 'InternalLogonType', 'LogonType', 'LogonUserSid', 'MailboxGuid', 'MailboxOwnerSid', 'MailboxOwnerUPN', 'Operation', 'OperationProperties', 'OrganizationId', 'OrganizationName', 'OriginatingServer', 'RecordType', 'ResultStatus', 'SessionId', 'UserId', 'UserKey', 'UserType', 'Version', 'Workload'];

const ENTRY: WorldTenant = {
  id: '65e471e0-d6c9-4003-ac43-16dfc8663eb4',
  name: 'Almendra Textiles',
  domains: ['almendra-textiles.example', 'almendratextiles.onmicrosoft.com'],
  consented: true,
  gdap: 'active',
  auditLogEnabled: true,
  users: [{ upn: 'pablo.navarro@almendra-textiles.example', displayName: 'Pablo Navarro' }, { upn: 'admin@almendratextiles.onmicrosoft.com', admin: true }],
};
const AT = Date.parse('2026-09-04T01:12:52.345Z');
const keys = (r: object): string[] => Object.keys(r).sort();

describe('audit record builders', () => {
  const t = createTenant(ENTRY, 3);
  const user = t.users[0];
  const mb = t.mailboxes.get(user.upn)!;

  it('writes CreationTime without zone or fraction and ports into Exchange ClientIP', () => {
    expect(auditTime(AT)).toBe('2026-09-04T01:12:52');
    expect(ipWithPort('198.51.100.9', 50412)).toBe('198.51.100.9:50412');
    expect(ipWithPort('2001:db8::7', 13521)).toBe('[2001:db8::7]:13521');
    expect(ipWithPort('::ffff:127.0.0.1', 1)).toBe('127.0.0.1:1');
  });

  it('builds an OWA New-InboxRule with the fields and parameter order of exported records', () => {
    const rule = newRule(t, mb, '.');
    rule.forwardTo = ['drop@mail.example.net'];
    rule.moveToFolder = 'RSS Feeds';
    rule.markAsRead = true;
    const r = newInboxRuleRecord(t, { at: AT, actor: { kind: 'user', user }, user, mailbox: mb, rule, client: 'owa', clientIp: '105.112.44.61:55768' });
    expect(keys(r)).toEqual(EXCHANGE_ADMIN);
    expect(r.Parameters).toEqual([
      { Name: 'AlwaysDeleteOutlookRulesBlob', Value: 'False' },
      { Name: 'Force', Value: 'False' },
      { Name: 'ForwardTo', Value: 'drop@mail.example.net' },
      { Name: 'MoveToFolder', Value: 'RSS Feeds' },
      { Name: 'MarkAsRead', Value: 'True' },
      { Name: 'Name', Value: '.' },
    ]);
    expect(r).toMatchObject({ RecordType: 1, ResultStatus: 'True', UserType: 0, Version: 1, Workload: 'Exchange', AppId: '', ClientAppId: '', ExternalAccess: false, OrganizationName: 'almendratextiles.onmicrosoft.com' });
    expect(String(r.UserKey)).toMatch(/^1003[0-9A-F]{12}$/);
    expect(String(r.ObjectId)).toMatch(/^[A-Z0-9]+\.PROD\.OUTLOOK\.COM\/Microsoft Exchange Hosted Organizations\/almendratextiles\.onmicrosoft\.com\/Pablo Navarro\\\.$/);
    expect(String(r.OriginatingServer)).toMatch(/^[A-Z0-9]+ \(15\.20\.\d+\.\d{3}\)$/);
  });

  it('logs app-only Exchange changes with the app as actor and the token ids', () => {
    const r = exchangeAdminRecord(t, { operation: 'Set-Mailbox', at: AT, actor: appActor(t, 'app-id'), objectId: 'x', parameters: [['Identity', user.upn]], clientIp: '127.0.0.1:1' });
    expect(keys(r)).toEqual([...EXCHANGE_ADMIN, 'TokenObjectId', 'TokenTenantId'].sort());
    expect(r).toMatchObject({ UserId: `ServicePrincipal_${t.appServicePrincipalId}`, UserType: 5, AppId: 'app-id', TokenTenantId: t.id });
  });

  it('builds UpdateInboxRules with RuleActions as a JSON string', () => {
    const rule = newRule(t, mb, 'Sync');
    rule.forwardTo = ['x@evil.example'];
    rule.stopProcessingRules = true;
    const r = updateInboxRulesRecord(t, { at: AT, user, mailbox: mb, rule, operation: 'AddMailboxRule', ip: '198.51.100.23' });
    expect(keys(r)).toEqual(UPDATE_INBOX_RULES);
    const props = Object.fromEntries((r.OperationProperties as Array<{ Name: string; Value: string }>).map((p) => [p.Name, p.Value]));
    expect(props).toMatchObject({ RuleOperation: 'AddMailboxRule', RuleId: rule.ruleIdentity, RuleName: 'Sync', RuleState: 'Enabled, ExitAfterExecution', RuleProvider: 'RuleOrganizer' });
    expect(JSON.parse(props.RuleActions)).toEqual([{ ActionType: 'ForwardToRecipientsAction', Recipients: ['x@evil.example'] }]);
    expect(String(r.OriginatingServer).endsWith('\r\n')).toBe(true);
  });

  it('builds MailItemsAccessed like exported records', () => {
    const r = mailItemsAccessedRecord(t, { at: AT, user, mailbox: mb, ip: '83.45.200.6', items: 2 });
    expect(keys(r)).toEqual(MAIL_ITEMS_ACCESSED);
    expect(r.OperationCount).toBe(2);
  });

  it('builds UserLoggedIn and UserLoginFailed like exported records', () => {
    const ok = signInRecord(t, { at: AT, user, ip: '90.24.113.8' });
    expect(keys(ok)).toEqual(SIGN_IN);
    expect(ok).toMatchObject({ RecordType: 15, ResultStatus: 'Success', UserKey: user.id, ObjectId: '00000002-0000-0ff1-ce00-000000000000', ErrorNumber: '0' });
    const bad = signInRecord(t, { at: AT, user, ip: '90.24.113.8', failed: true });
    expect(keys(bad)).toEqual([...SIGN_IN, 'LogonError'].sort());
    expect(bad).toMatchObject({ ResultStatus: 'Failed', ErrorNumber: '50126', LogonError: 'InvalidUserNameOrPassword' });
  });

  it('builds directory records (Update user., Reset user password., role and consent) like exported ones', () => {
    const admin = adminActor(t);
    const upd = updateUserRecord(t, { at: AT, actor: admin, target: user, ip: '198.51.100.93', changes: [{ name: 'AccountEnabled', oldValue: true, newValue: false }] });
    expect(keys(upd)).toEqual(DIRECTORY);
    expect(upd.ModifiedProperties).toEqual([
      { Name: 'AccountEnabled', NewValue: '[\r\n  false\r\n]', OldValue: '[\r\n  true\r\n]' },
      { Name: 'Included Updated Properties', NewValue: 'AccountEnabled', OldValue: '' },
    ]);
    expect(upd).toMatchObject({ RecordType: 8, ResultStatus: 'Success', UserId: 'admin@almendratextiles.onmicrosoft.com', ObjectId: user.upn });
    expect(String(upd.UserKey)).toMatch(/^1003[0-9A-F]{12}@almendratextiles\.onmicrosoft\.com$/);
    expect(keys(directoryUserRecord(t, { operation: 'Reset user password.', at: AT, actor: admin, target: user, ip: '198.51.100.93' }))).toEqual(DIRECTORY);
    expect(keys(addRoleMemberRecord(t, { at: AT, actor: admin, target: user, ip: '198.51.100.93', roleObjectId: 'r' }))).toEqual(DIRECTORY);
    const [consent, grant] = consentRecords(t, { at: AT, user, ip: '203.0.113.15', appClientId: 'c', appDisplayName: 'Plan Viewer Online', appServicePrincipalId: 's', scope: 'Mail.Read offline_access User.Read', grantId: 'g', resourceId: 'r' });
    expect(keys(consent)).toEqual(DIRECTORY);
    expect(keys(grant)).toEqual(DIRECTORY);
    expect(grant.ModifiedProperties).toContainEqual({ Name: 'DelegatedPermissionGrant.Scope', NewValue: ' Mail.Read offline_access User.Read', OldValue: '' });
    expect(entraValue(null)).toBe('[]');
  });
});
