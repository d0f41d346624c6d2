// Builders for unified audit log records in the shapes Microsoft writes them (m365-api.md §3):
// zone-less CreationTime, ports in ClientIP for Exchange admin records, string Parameters values,
// JSON-encoded ModifiedProperties values, Actor/Target arrays for Entra ID.
import type { AuditRecord, SimInboxRule, SimMailbox, SimTenant, SimUser } from './types.ts';
import { exchangeForest, initialDomainOf, newId, puidOf, sidOf } from './state.ts';

/** Exchange Online's first-party app id (OWA, Exchange as a resource). */
export const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
/** The Exchange Online PowerShell module's client id. */
export const EXO_POWERSHELL_APP_ID = 'fb78d390-0c51-40cd-8e17-fdbfab77341b';
/** Office 365 Exchange Online web sign-in application (OfficeHome). */
export const OFFICE_HOME_APP_ID = '4765445b-32c6-49b0-83e6-1d93765276ca';
export const GLOBAL_ADMIN_TEMPLATE_ID = '62e90394-69f5-4237-9190-012177145e10';

/** `2025-03-04T10:02:41`: UTC without zone and without fraction, as the audit log writes it. */
export function auditTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** Who did it, as each workload records the actor. */
export type Actor =
  | { kind: 'user'; user: SimUser } // the mailbox owner (OWA, Outlook, sign-ins)
  | { kind: 'admin'; upn: string; objectId: string } // an administrator (PowerShell, admin centre)
  | { kind: 'app'; clientId: string; servicePrincipalId: string; displayName: string }; // app-only (tenantwatch)

export function appActor(t: SimTenant, clientId: string, displayName = 'tenantwatch'): Actor {
  return { kind: 'app', clientId, servicePrincipalId: t.appServicePrincipalId ?? clientId, displayName };
}

/** The admin actor of a tenant: its first admin user, else `admin@{initial domain}`. */
export function adminActor(t: SimTenant): Actor {
  const admin = t.users.find((u) => u.isAdmin);
  if (admin) return { kind: 'admin', upn: admin.upn, objectId: admin.id };
  const upn = `admin@${initialDomainOf(t)}`;
  return { kind: 'admin', upn, objectId: `00000000-0000-4000-8000-${puidOf(t.id).slice(4).toLowerCase()}` };
}

function actorUserId(a: Actor): string {
  if (a.kind === 'user') return a.user.upn;
  if (a.kind === 'admin') return a.upn;
  return `ServicePrincipal_${a.servicePrincipalId}`;
}

function actorUserKey(a: Actor): string {
  if (a.kind === 'user') return puidOf(a.user.id);
  if (a.kind === 'admin') return puidOf(a.objectId);
  return a.servicePrincipalId;
}

function actorUserType(a: Actor): number {
  return a.kind === 'user' ? 0 : a.kind === 'admin' ? 2 : 5;
}

/** `{forest}/Microsoft Exchange Hosted Organizations/{tenant}.onmicrosoft.com/{name}` */
export function mailboxPath(t: SimTenant, user: SimUser | undefined, mb: SimMailbox): string {
  const f = exchangeForest(t.id);
  return `${f.forest}/Microsoft Exchange Hosted Organizations/${initialDomainOf(t)}/${user?.displayName ?? mb.upn.split('@')[0]}`;
}

export interface ExchangeAdminInput {
  operation: string;
  at: number;
  actor: Actor;
  objectId: string;
  parameters: Array<[string, string]>;
  /** Address as seen by Exchange (a port is usually present): `198.51.100.23:50412`, `[2001:db8::1]:5000`. */
  clientIp: string;
  resultStatus?: 'True' | 'False';
  /** Client app for user actions: '' for OWA, the PowerShell id, a Graph client … */
  appId?: string;
  externalAccess?: boolean;
}

/** RecordType 1 (ExchangeAdmin), `Audit.Exchange`. */
export function exchangeAdminRecord(t: SimTenant, i: ExchangeAdminInput): AuditRecord {
  const f = exchangeForest(t.id);
  const appId = i.appId ?? (i.actor.kind === 'app' ? i.actor.clientId : '');
  return {
    CreationTime: auditTime(i.at),
    Id: newId(),
    Operation: i.operation,
    OrganizationId: t.id,
    RecordType: 1,
    ResultStatus: i.resultStatus ?? 'True',
    UserKey: actorUserKey(i.actor),
    UserType: actorUserType(i.actor),
    Version: 1,
    Workload: 'Exchange',
    ClientIP: i.clientIp,
    ObjectId: i.objectId,
    UserId: actorUserId(i.actor),
    AppId: appId,
    ClientAppId: i.actor.kind === 'app' ? i.actor.clientId : '',
    ExternalAccess: i.externalAccess ?? false,
    OrganizationName: initialDomainOf(t),
    OriginatingServer: f.server(),
    Parameters: i.parameters.map(([Name, Value]) => ({ Name, Value })),
    RequestId: newId(),
    SessionId: newId(),
    ...(i.actor.kind === 'app' ? { TokenObjectId: i.actor.servicePrincipalId, TokenTenantId: t.id } : {}),
  };
}

/** Inbox-rule parameters as the cmdlet logs them (string values, lists joined by `;`). */
export function ruleParameters(rule: SimInboxRule): Array<[string, string]> {
  const p: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(rule.conditions)) {
    p.push([k, Array.isArray(v) ? v.join(';') : typeof v === 'boolean' ? (v ? 'True' : 'False') : v]);
  }
  if (rule.forwardTo.length) p.push(['ForwardTo', rule.forwardTo.join(';')]);
  if (rule.forwardAsAttachmentTo.length) p.push(['ForwardAsAttachmentTo', rule.forwardAsAttachmentTo.join(';')]);
  if (rule.redirectTo.length) p.push(['RedirectTo', rule.redirectTo.join(';')]);
  if (rule.deleteMessage) p.push(['DeleteMessage', 'True']);
  if (rule.moveToFolder) p.push(['MoveToFolder', rule.moveToFolder]);
  if (rule.markAsRead) p.push(['MarkAsRead', 'True']);
  if (rule.stopProcessingRules) p.push(['StopProcessingRules', 'True']);
  return p;
}

export type RuleClient = 'owa' | 'powershell' | 'graph';

/** New-InboxRule in its OWA, PowerShell or Graph variant. */
export function newInboxRuleRecord(
  t: SimTenant,
  o: { at: number; actor: Actor; user: SimUser | undefined; mailbox: SimMailbox; rule: SimInboxRule; client: RuleClient; clientIp: string; graphAppId?: string },
): AuditRecord {
  const params: Array<[string, string]> = [];
  if (o.client === 'owa') params.push(['AlwaysDeleteOutlookRulesBlob', 'False'], ['Force', 'False']);
  if (o.client === 'powershell') params.push(['Mailbox', o.mailbox.upn]);
  // Rules made through Graph/REST log the name first and no OWA switches (seen in exported records).
  if (o.client === 'graph') params.push(['Name', o.rule.name], ...ruleParameters(o.rule));
  else params.push(...ruleParameters(o.rule), ['Name', o.rule.name]);
  return exchangeAdminRecord(t, {
    operation: 'New-InboxRule',
    at: o.at,
    actor: o.actor,
    objectId: `${mailboxPath(t, o.user, o.mailbox)}\\${o.rule.name}`,
    parameters: params,
    clientIp: o.clientIp,
    appId: o.client === 'owa' ? '' : o.client === 'powershell' ? EXO_POWERSHELL_APP_ID : (o.graphAppId ?? ''),
  });
}

/** Set-InboxRule / Disable-InboxRule / Enable-InboxRule / Remove-InboxRule on a rule. */
export function inboxRuleChangeRecord(
  t: SimTenant,
  o: { operation: string; at: number; actor: Actor; user: SimUser | undefined; mailbox: SimMailbox; rule: SimInboxRule; parameters: Array<[string, string]>; clientIp: string; appId?: string },
): AuditRecord {
  return exchangeAdminRecord(t, {
    operation: o.operation,
    at: o.at,
    actor: o.actor,
    objectId: `${mailboxPath(t, o.user, o.mailbox)}\\${o.rule.name}`,
    parameters: o.parameters,
    clientIp: o.clientIp,
    appId: o.appId,
  });
}

/** RecordType 2 mailbox-audit record base (UpdateInboxRules, Send …). */
function mailboxAuditBase(t: SimTenant, o: { operation: string; at: number; user: SimUser; mailbox: SimMailbox; ip: string; clientInfo: string; recordType?: number }): AuditRecord {
  const f = exchangeForest(t.id);
  return {
    CreationTime: auditTime(o.at),
    Id: newId(),
    Operation: o.operation,
    OrganizationId: t.id,
    RecordType: o.recordType ?? 2,
    ResultStatus: 'Succeeded',
    UserKey: puidOf(o.user.id),
    UserType: 0,
    Version: 1,
    Workload: 'Exchange',
    ClientIP: o.ip,
    UserId: o.user.upn,
    ClientIPAddress: o.ip,
    ClientInfoString: o.clientInfo,
    ExternalAccess: false,
    InternalLogonType: 0,
    LogonType: 0,
    LogonUserSid: sidOf(o.user.id),
    MailboxGuid: o.mailbox.guid,
    MailboxOwnerSid: sidOf(o.user.id),
    MailboxOwnerUPN: o.user.upn,
    OrganizationName: initialDomainOf(t),
    OriginatingServer: `${f.server()}\r\n`,
    SessionId: newId(),
  };
}

/** UpdateInboxRules from Outlook desktop (MAPI): OperationProperties with RuleActions as a JSON string. */
export function updateInboxRulesRecord(
  t: SimTenant,
  o: { at: number; user: SimUser; mailbox: SimMailbox; rule: SimInboxRule; operation: 'AddMailboxRule' | 'ModifyMailboxRule' | 'RemoveMailboxRule'; ip: string; condition?: string },
): AuditRecord {
  const actions: Array<Record<string, unknown>> = [];
  if (o.rule.forwardTo.length) actions.push({ ActionType: 'ForwardToRecipientsAction', Recipients: o.rule.forwardTo });
  if (o.rule.forwardAsAttachmentTo.length) actions.push({ ActionType: 'ForwardAsAttachmentToRecipientsAction', Recipients: o.rule.forwardAsAttachmentTo });
  if (o.rule.redirectTo.length) actions.push({ ActionType: 'RedirectToRecipientsAction', Recipients: o.rule.redirectTo });
  if (o.rule.deleteMessage) actions.push({ ActionType: 'Delete' });
  if (o.rule.moveToFolder) actions.push({ ActionType: 'Move', DestinationFolderId: Buffer.from(`${o.mailbox.guid}:${o.rule.moveToFolder}`).toString('base64') });
  if (o.rule.markAsRead) actions.push({ ActionType: 'MarkAsRead' });
  const state = [o.rule.enabled ? 'Enabled' : 'Disabled', ...(o.rule.stopProcessingRules ? ['ExitAfterExecution'] : [])].join(', ');
  return {
    ...mailboxAuditBase(t, { operation: 'UpdateInboxRules', at: o.at, user: o.user, mailbox: o.mailbox, ip: o.ip, clientInfo: 'Client=MSExchangeRPC' }),
    OperationProperties: [
      { Name: 'RuleOperation', Value: o.operation },
      { Name: 'RuleId', Value: o.rule.ruleIdentity },
      { Name: 'RuleName', Value: o.rule.name },
      { Name: 'RuleState', Value: state },
      { Name: 'RuleProvider', Value: 'RuleOrganizer' },
      { Name: 'RuleCondition', Value: o.condition ?? '' },
      { Name: 'RuleActions', Value: JSON.stringify(actions) },
    ],
  };
}

/** MailItemsAccessed (RecordType 50), the ordinary OWA bind noise. */
export function mailItemsAccessedRecord(t: SimTenant, o: { at: number; user: SimUser; mailbox: SimMailbox; ip: string; items: number }): AuditRecord {
  const folderItems = Array.from({ length: Math.max(1, o.items) }, (_, i) => ({
    InternetMessageId: `<${newId().slice(0, 8).toUpperCase()}@${initialDomainOf(t).replace('.onmicrosoft.com', '')}.prod.outlook.com>`,
    SizeInBytes: 20000 + i * 7919,
  }));
  return {
    ...mailboxAuditBase(t, { operation: 'MailItemsAccessed', at: o.at, user: o.user, mailbox: o.mailbox, ip: o.ip, clientInfo: 'Client=OWA;Action=ViaProxy', recordType: 50 }),
    AppId: '00000002-0000-0ff1-ce00-000000000000',
    ClientAppId: '',
    OriginatingServer: exchangeForest(t.id).server(),
    OperationProperties: [
      { Name: 'MailAccessType', Value: 'Bind' },
      { Name: 'IsThrottled', Value: 'False' },
    ],
    Folders: [{ FolderItems: folderItems, Id: Buffer.from(`${o.mailbox.guid}:Inbox`).toString('base64').replace(/=+$/, ''), Path: '\\Inbox' }],
    OperationCount: folderItems.length,
  };
}

/** The user agent of an ordinary browser sign-in. */
export const BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0';

/** UserLoggedIn / UserLoginFailed (RecordType 15, `Audit.AzureActiveDirectory`). */
export function signInRecord(
  t: SimTenant,
  o: { at: number; user: SimUser; ip: string; failed?: boolean; userAgent?: string; os?: string; browser?: string; sessionId?: string },
): AuditRecord {
  const failed = o.failed ?? false;
  return {
    CreationTime: auditTime(o.at),
    Id: newId(),
    Operation: failed ? 'UserLoginFailed' : 'UserLoggedIn',
    OrganizationId: t.id,
    RecordType: 15,
    ResultStatus: failed ? 'Failed' : 'Success',
    UserKey: o.user.id,
    UserType: 0,
    Version: 1,
    Workload: 'AzureActiveDirectory',
    ClientIP: o.ip,
    ObjectId: EXCHANGE_APP_ID,
    UserId: o.user.upn,
    AzureActiveDirectoryEventType: 1,
    ExtendedProperties: [
      { Name: 'ResultStatusDetail', Value: failed ? 'Success' : 'Redirect' },
      { Name: 'UserAgent', Value: o.userAgent ?? BROWSER_UA },
      { Name: 'RequestType', Value: failed ? 'Login:login' : 'OAuth2:Authorize' },
    ],
    ModifiedProperties: [],
    Actor: [
      { ID: o.user.id, Type: 0 },
      { ID: o.user.upn, Type: 5 },
    ],
    ActorContextId: t.id,
    ActorIpAddress: o.ip,
    InterSystemsId: newId(),
    IntraSystemId: newId(),
    SupportTicketId: '',
    Target: [{ ID: EXCHANGE_APP_ID, Type: 0 }],
    TargetContextId: t.id,
    ApplicationId: OFFICE_HOME_APP_ID,
    DeviceProperties: [
      { Name: 'OS', Value: o.os ?? 'Windows10' },
      { Name: 'BrowserType', Value: o.browser ?? 'Edge' },
      { Name: 'IsCompliantAndManaged', Value: 'False' },
      { Name: 'SessionId', Value: o.sessionId ?? newId() },
    ],
    ErrorNumber: failed ? '50126' : '0',
    ...(failed ? { LogonError: 'InvalidUserNameOrPassword' } : {}),
  };
}

/** The matching Graph `signIn` resource (for `/auditLogs/signIns`). */
export function graphSignIn(o: { at: number; user: SimUser; ip: string; failed?: boolean; country?: string; city?: string; userAgent?: string }): Record<string, unknown> {
  const failed = o.failed ?? false;
  return {
    id: newId(),
    createdDateTime: new Date(o.at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    userDisplayName: o.user.displayName,
    userPrincipalName: o.user.upn,
    userId: o.user.id,
    appId: OFFICE_HOME_APP_ID,
    appDisplayName: 'OfficeHome',
    ipAddress: o.ip,
    clientAppUsed: 'Browser',
    correlationId: newId(),
    conditionalAccessStatus: 'notApplied',
    isInteractive: true,
    riskDetail: 'none',
    riskLevelAggregated: 'none',
    riskLevelDuringSignIn: 'none',
    riskState: 'none',
    riskEventTypes_v2: [],
    resourceDisplayName: 'Office 365 Exchange Online',
    resourceId: EXCHANGE_APP_ID,
    status: failed
      ? { errorCode: 50126, failureReason: 'Error validating credentials due to invalid username or password.', additionalDetails: null }
      : { errorCode: 0, failureReason: 'Other.', additionalDetails: null },
    deviceDetail: { deviceId: '', displayName: '', operatingSystem: 'Windows10', browser: 'Edge 129.0.0', isCompliant: false, isManaged: false, trustType: '' },
    location: { city: o.city ?? '', state: '', countryOrRegion: o.country ?? '', geoCoordinates: { altitude: null, latitude: null, longitude: null } },
    appliedConditionalAccessPolicies: [],
  };
}

export interface ModifiedProperty {
  Name: string;
  NewValue: string;
  OldValue: string;
}

/** `[\r\n  true\r\n]`: how Entra ID writes a value into ModifiedProperties. */
export function entraValue(v: unknown): string {
  if (v === null || v === undefined) return '[]';
  return `[\r\n  ${JSON.stringify(v)}\r\n]`;
}

function entraActor(t: SimTenant, a: Actor): { UserId: string; UserKey: string; Actor: Array<{ ID: string; Type: number }> } {
  if (a.kind === 'app') {
    return {
      UserId: `ServicePrincipal_${a.servicePrincipalId}`,
      UserKey: `Not Available`,
      Actor: [
        { ID: a.displayName, Type: 1 },
        { ID: a.clientId, Type: 2 },
        { ID: `ServicePrincipal_${a.servicePrincipalId}`, Type: 2 },
        { ID: a.servicePrincipalId, Type: 2 },
        { ID: 'ServicePrincipal', Type: 2 },
      ],
    };
  }
  const upn = a.kind === 'user' ? a.user.upn : a.upn;
  const id = a.kind === 'user' ? a.user.id : a.objectId;
  const puid = puidOf(id);
  return {
    UserId: upn,
    UserKey: `${puid}@${initialDomainOf(t)}`,
    Actor: [
      { ID: upn, Type: 5 },
      { ID: puid, Type: 3 },
      { ID: `User_${id}`, Type: 2 },
      { ID: id, Type: 2 },
      { ID: 'User', Type: 2 },
    ],
  };
}

/** A RecordType 8 directory audit record (`Update user.`, `Reset user password.` …) about a user. */
export function directoryUserRecord(
  t: SimTenant,
  o: { operation: string; at: number; actor: Actor; target: SimUser; modified?: ModifiedProperty[]; ip?: string; resultStatus?: 'Success' | 'Failure'; category?: string },
): AuditRecord {
  const a = entraActor(t, o.actor);
  const ip = o.ip ?? '';
  return {
    CreationTime: auditTime(o.at),
    Id: newId(),
    Operation: o.operation,
    OrganizationId: t.id,
    RecordType: 8,
    ResultStatus: o.resultStatus ?? 'Success',
    UserKey: a.UserKey,
    UserType: o.actor.kind === 'app' ? 5 : 0,
    Version: 1,
    Workload: 'AzureActiveDirectory',
    ObjectId: o.target.upn,
    UserId: a.UserId,
    AzureActiveDirectoryEventType: 1,
    ExtendedProperties: [
      { Name: 'additionalDetails', Value: o.actor.kind === 'app' ? '{}' : '{"UserType":"Member"}' },
      { Name: 'extendedAuditEventCategory', Value: o.category ?? 'User' },
    ],
    ModifiedProperties: o.modified ?? [],
    Actor: a.Actor,
    ActorContextId: t.id,
    InterSystemsId: newId(),
    IntraSystemId: newId(),
    SupportTicketId: '',
    Target: [
      { ID: `User_${o.target.id}`, Type: 2 },
      { ID: o.target.id, Type: 2 },
      { ID: 'User', Type: 2 },
      { ID: o.target.upn, Type: 5 },
      { ID: puidOf(o.target.id), Type: 3 },
    ],
    TargetContextId: t.id,
    ...(ip ? { ActorIpAddress: ip, ClientIP: ip } : {}),
  };
}

/** `Update user.` with changed attributes plus `Included Updated Properties`. */
export function updateUserRecord(
  t: SimTenant,
  o: { at: number; actor: Actor; target: SimUser; changes: Array<{ name: string; oldValue: unknown; newValue: unknown }>; ip?: string },
): AuditRecord {
  const modified: ModifiedProperty[] = o.changes.map((c) => ({ Name: c.name, NewValue: entraValue(c.newValue), OldValue: entraValue(c.oldValue) }));
  modified.push({ Name: 'Included Updated Properties', NewValue: o.changes.map((c) => c.name).join(', '), OldValue: '' });
  return directoryUserRecord(t, { operation: 'Update user.', at: o.at, actor: o.actor, target: o.target, modified, ip: o.ip });
}

/** `Consent to application.` and `Add delegated permission grant.` for a user consenting to a third-party app. */
export function consentRecords(
  t: SimTenant,
  o: { at: number; user: SimUser; ip: string; appClientId: string; appDisplayName: string; appServicePrincipalId: string; scope: string; grantId: string; resourceId: string; adminConsent?: boolean },
): AuditRecord[] {
  const a = entraActor(t, { kind: 'user', user: o.user });
  const consentType = o.adminConsent ? 'AllPrincipals' : 'Principal';
  const base = {
    OrganizationId: t.id,
    RecordType: 8,
    ResultStatus: 'Success',
    UserKey: a.UserKey,
    UserType: 0,
    Version: 1,
    Workload: 'AzureActiveDirectory',
    UserId: a.UserId,
    AzureActiveDirectoryEventType: 1,
    ExtendedProperties: [
      { Name: 'additionalDetails', Value: '{"UserType":"Member"}' },
      { Name: 'extendedAuditEventCategory', Value: 'ApplicationManagement' },
    ],
    Actor: a.Actor,
    ActorContextId: t.id,
    SupportTicketId: '',
    TargetContextId: t.id,
    ActorIpAddress: o.ip,
    ClientIP: o.ip,
  };
  const consent: AuditRecord = {
    ...base,
    CreationTime: auditTime(o.at),
    Id: newId(),
    Operation: 'Consent to application.',
    ObjectId: o.appServicePrincipalId,
    InterSystemsId: newId(),
    IntraSystemId: newId(),
    ModifiedProperties: [
      { Name: 'ConsentContext.IsAdminConsent', NewValue: o.adminConsent ? 'True' : 'False', OldValue: '' },
      { Name: 'ConsentContext.IsAppOnly', NewValue: 'False', OldValue: '' },
      { Name: 'ConsentContext.OnBehalfOfAll', NewValue: o.adminConsent ? 'True' : 'False', OldValue: '' },
      { Name: 'ConsentContext.Tags', NewValue: 'WindowsAzureActiveDirectoryIntegratedApp', OldValue: '' },
      {
        Name: 'ConsentAction.Permissions',
        NewValue: `[] => [[Id: ${o.grantId}, ClientId: ${o.appServicePrincipalId}, PrincipalId: ${o.adminConsent ? '' : o.user.id}, ResourceId: ${o.resourceId}, ConsentType: ${consentType}, Scope: ${o.scope}, CreatedDateTime: , LastModifiedDateTime ]]; `,
        OldValue: '',
      },
      { Name: 'TargetId.ServicePrincipalNames', NewValue: o.appClientId, OldValue: '' },
    ],
    Target: [
      { ID: `ServicePrincipal_${o.appServicePrincipalId}`, Type: 2 },
      { ID: o.appServicePrincipalId, Type: 2 },
      { ID: 'ServicePrincipal', Type: 2 },
      { ID: o.appDisplayName, Type: 1 },
      { ID: o.appClientId, Type: 2 },
      { ID: o.appClientId, Type: 4 },
    ],
  };
  const grant: AuditRecord = {
    ...base,
    CreationTime: auditTime(o.at),
    Id: newId(),
    Operation: 'Add delegated permission grant.',
    ObjectId: o.resourceId,
    InterSystemsId: newId(),
    IntraSystemId: newId(),
    ModifiedProperties: [
      { Name: 'DelegatedPermissionGrant.Scope', NewValue: ` ${o.scope}`, OldValue: '' },
      { Name: 'DelegatedPermissionGrant.ConsentType', NewValue: consentType, OldValue: '' },
      { Name: 'ServicePrincipal.ObjectID', NewValue: o.appServicePrincipalId, OldValue: '' },
      { Name: 'ServicePrincipal.DisplayName', NewValue: o.appDisplayName, OldValue: '' },
    ],
    Target: [
      { ID: `ServicePrincipal_${o.resourceId}`, Type: 2 },
      { ID: o.resourceId, Type: 2 },
      { ID: 'ServicePrincipal', Type: 2 },
      { ID: 'Microsoft Graph', Type: 1 },
    ],
  };
  return [consent, grant];
}

/** `Add member to role.` (Global Administrator by default). */
export function addRoleMemberRecord(
  t: SimTenant,
  o: { at: number; actor: Actor; target: SimUser; ip: string; roleObjectId: string; roleName?: string; templateId?: string },
): AuditRecord {
  return directoryUserRecord(t, {
    operation: 'Add member to role.',
    at: o.at,
    actor: o.actor,
    target: o.target,
    ip: o.ip,
    modified: [
      { Name: 'Role.ObjectID', NewValue: o.roleObjectId, OldValue: '' },
      { Name: 'Role.DisplayName', NewValue: o.roleName ?? 'Global Administrator', OldValue: '' },
      { Name: 'Role.TemplateId', NewValue: o.templateId ?? GLOBAL_ADMIN_TEMPLATE_ID, OldValue: '' },
      { Name: 'Role.WellKnownObjectName', NewValue: o.roleName && o.roleName !== 'Global Administrator' ? '' : 'TenantAdmins', OldValue: '' },
    ],
  });
}

/** New-TransportRule / Set-TransportRule / Remove-TransportRule / Disable-TransportRule. */
export function transportRuleRecord(
  t: SimTenant,
  o: { operation: string; at: number; actor: Actor; ruleName: string; parameters: Array<[string, string]>; clientIp: string; appId?: string },
): AuditRecord {
  return exchangeAdminRecord(t, { operation: o.operation, at: o.at, actor: o.actor, objectId: o.ruleName, parameters: o.parameters, clientIp: o.clientIp, appId: o.appId });
}

/** `198.51.100.23:50412` / `[2001:db8::1]:50412`: how Exchange admin records carry the caller's address. */
export function ipWithPort(ip: string, port: number | undefined): string {
  const bare = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (!port) return bare;
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
}
