// Microsoft Graph v1.0 under /v1.0/: organization, domains, users (get, patch accountEnabled and
// passwordProfile, revokeSignInSessions), inbox messageRules, mailboxSettings, auditLogs/signIns and,
// oauth2PermissionGrants (list with $filter, get, delete) and, in the partner tenant,
// delegatedAdminRelationships (GDAP) and contracts.
// Errors use Graph's body: {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditRecord, GdapStatus, SimContext, SimInboxRule, SimMailbox, SimTenant, SimUser, TokenClaims } from './types.ts';
import { builtTenants, defaultDomainOf, findUser, graphServicePrincipalId, initialDomainOf, newId, newRule } from './state.ts';
import { appActor, auditTime, directoryUserRecord, inboxRuleChangeRecord, ipWithPort, newInboxRuleRecord, ruleParameters, updateUserRecord } from './records.ts';

const INSUFFICIENT = 'Insufficient privileges to complete the operation.';
const MAX_FILTER = 2000;

export function graphError(req: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string, headers: Record<string, string> = {}): FastifyReply {
  const requestId = (reply.getHeader('request-id') as string | undefined) ?? randomUUID();
  const clientRequestId = headerOf(req, 'client-request-id') ?? requestId;
  for (const [k, v] of Object.entries(headers)) void reply.header(k, v);
  return reply
    .code(status)
    .header('request-id', requestId)
    .header('client-request-id', clientRequestId)
    .header('content-type', 'application/json')
    .send(JSON.stringify({ error: { code, message, innerError: { date: auditTime(Date.now()), 'request-id': requestId, 'client-request-id': clientRequestId } } }));
}

function headerOf(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function originOf(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'graph.microsoft.com'}`;
}

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8').send(JSON.stringify(body));
}

interface Call {
  claims: TokenClaims;
  tenant: SimTenant;
}

/** Token, roles claim, tenant and app-role check. `allOf` groups: each group needs one of its roles. */
function authorize(ctx: SimContext, req: FastifyRequest, reply: FastifyReply, allOf: string[][], needTenant = true): { claims: TokenClaims; tenant?: SimTenant } | undefined {
  void reply.header('request-id', randomUUID());
  const claims = ctx.requireToken(req, reply, 'graph');
  if (!claims) return undefined;
  if (!claims.roles || claims.roles.length === 0) {
    graphError(req, reply, 401, 'InvalidAuthenticationToken', 'Either scp or roles claim need to be present in the token.');
    return undefined;
  }
  for (const group of allOf) {
    if (!group.some((r) => claims.roles.includes(r))) {
      graphError(req, reply, 403, 'Authorization_RequestDenied', INSUFFICIENT);
      return undefined;
    }
  }
  const tenant = ctx.tenant(claims.tid);
  if (needTenant && !tenant) {
    graphError(req, reply, 403, 'Authorization_RequestDenied', INSUFFICIENT);
    return undefined;
  }
  return { claims, tenant };
}

function need(ctx: SimContext, req: FastifyRequest, reply: FastifyReply, allOf: string[][]): Call | undefined {
  const a = authorize(ctx, req, reply, allOf, true);
  return a && a.tenant ? { claims: a.claims, tenant: a.tenant } : undefined;
}

const R = {
  org: ['Organization.Read.All', 'Organization.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  domains: ['Domain.Read.All', 'Domain.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  usersRead: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  enable: ['User.EnableDisableAccount.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  userWrite: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
  password: ['User-PasswordProfile.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  revoke: ['User.RevokeSessions.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  mailRead: ['MailboxSettings.Read', 'MailboxSettings.ReadWrite'],
  mailWrite: ['MailboxSettings.ReadWrite'],
  auditLog: ['AuditLog.Read.All'],
  directoryRead: ['Directory.Read.All', 'Directory.ReadWrite.All'],
  gdap: ['DelegatedAdminRelationship.Read.All', 'DelegatedAdminRelationship.ReadWrite.All'],
  // https://learn.microsoft.com/graph/api/oauth2permissiongrant-list, -get: Directory.Read.All least.
  grantsRead: ['Directory.Read.All', 'DelegatedPermissionGrant.Read.All', 'DelegatedPermissionGrant.ReadWrite.All', 'Directory.ReadWrite.All'],
  // https://learn.microsoft.com/graph/api/oauth2permissiongrant-delete: DelegatedPermissionGrant.ReadWrite.All least.
  grantsWrite: ['DelegatedPermissionGrant.ReadWrite.All', 'Directory.ReadWrite.All'],
};

type Query = Record<string, string | undefined>;

function parseTop(req: FastifyRequest, reply: FastifyReply, def: number, max: number): number | undefined {
  const raw = (req.query as Query).$top;
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) {
    graphError(req, reply, 400, 'Request_BadRequest', `Invalid page size specified: '${raw.slice(0, 20)}'. Must be between 1 and ${max} inclusive.`);
    return undefined;
  }
  return n;
}

function skipOf(req: FastifyRequest): number {
  const raw = (req.query as Query).$skiptoken;
  if (!raw) return 0;
  const n = Number(Buffer.from(raw, 'base64url').toString('utf8').replace(/^skip:/, ''));
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** A page of `items` with `@odata.nextLink` carrying the other query options. */
function page<T>(req: FastifyRequest, items: T[], top: number, origin: string): { items: T[]; nextLink?: string } {
  const skip = skipOf(req);
  const slice = items.slice(skip, skip + top);
  if (skip + top >= items.length) return { items: slice };
  return { items: slice, nextLink: nextLinkOf(req, origin, { $top: String(top), $skiptoken: Buffer.from(`skip:${skip + top}`).toString('base64url') }) };
}

/** The request's URL with some query options replaced; OData option names keep their literal `$`. */
export function nextLinkOf(req: FastifyRequest, origin: string, set: Record<string, string>): string {
  const url = new URL(req.url, 'http://x');
  const params = new Map<string, string>();
  for (const [k, v] of url.searchParams) params.set(k, v);
  for (const [k, v] of Object.entries(set)) params.set(k, v);
  const q = [...params].map(([k, v]) => `${k.startsWith('$') ? `$${encodeURIComponent(k.slice(1))}` : encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${origin}${url.pathname}?${q}`;
}

// ---- users -------------------------------------------------------------------------------------

const USER_DEFAULT = ['businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName', 'id'];

function userJson(t: SimTenant, u: SimUser): Record<string, unknown> {
  const [given, ...rest] = u.displayName.split(' ');
  return {
    businessPhones: [],
    displayName: u.displayName,
    givenName: given ?? null,
    jobTitle: null,
    mail: u.mail,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: rest.join(' ') || null,
    userPrincipalName: u.upn,
    id: u.id,
    accountEnabled: u.accountEnabled,
    usageLocation: u.usageLocation ?? null,
    userType: 'Member',
    onPremisesSyncEnabled: u.federated ? true : null,
    createdDateTime: '2023-01-09T08:00:00Z',
    signInSessionsValidFromDateTime: u.sessionsRevokedAt ? u.sessionsRevokedAt.replace(/\.\d{3}Z$/, 'Z') : '2023-01-09T08:00:00Z',
    lastPasswordChangeDateTime: (u.passwordChangedAt ?? '2023-01-09T08:00:00Z').replace(/\.\d{3}Z$/, 'Z'),
    passwordPolicies: null,
    proxyAddresses: [`SMTP:${u.mail}`],
    otherMails: [],
    mailNickname: u.upn.split('@')[0],
    assignedLicenses: [],
    identities: [{ signInType: 'userPrincipalName', issuer: initialDomainOf(t), issuerAssignedId: u.upn }],
  };
}

const USER_PROPS = new Set(Object.keys({
  businessPhones: 1, displayName: 1, givenName: 1, jobTitle: 1, mail: 1, mobilePhone: 1, officeLocation: 1, preferredLanguage: 1, surname: 1,
  userPrincipalName: 1, id: 1, accountEnabled: 1, usageLocation: 1, userType: 1, onPremisesSyncEnabled: 1, createdDateTime: 1,
  signInSessionsValidFromDateTime: 1, lastPasswordChangeDateTime: 1, passwordPolicies: 1, proxyAddresses: 1, otherMails: 1, mailNickname: 1,
  assignedLicenses: 1, identities: 1,
}));

/** `$select` → list of properties, or an error already sent. */
function selectOf(req: FastifyRequest, reply: FastifyReply, known: Set<string>, typeName: string): string[] | null | undefined {
  const raw = (req.query as Query).$select;
  if (raw === undefined || raw === '') return null;
  const props = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of props) {
    const match = [...known].find((k) => k.toLowerCase() === p.toLowerCase());
    if (!match) {
      graphError(req, reply, 400, 'Request_BadRequest', `Could not find a property named '${p.slice(0, 100)}' on type '${typeName}'.`);
      return undefined;
    }
  }
  return props.map((p) => [...known].find((k) => k.toLowerCase() === p.toLowerCase()) as string);
}

function project(obj: Record<string, unknown>, props: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of props) out[p] = obj[p] ?? null;
  return out;
}

function userOr404(req: FastifyRequest, reply: FastifyReply, t: SimTenant, key: string): SimUser | undefined {
  const u = findUser(t, key);
  if (!u) graphError(req, reply, 404, 'Request_ResourceNotFound', `Resource '${key.slice(0, 200)}' does not exist or one of its queried reference-property objects are not present.`);
  return u;
}

/** At least 8 characters and three of: lower case, upper case, digit, symbol (Entra's default policy). */
function passwordComplex(p: string): boolean {
  if (p.length < 8 || p.length > 256) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(p)).length;
  return classes >= 3;
}

// ---- message rules -----------------------------------------------------------------------------

function recipient(addr: string): { emailAddress: { name: string; address: string } } {
  return { emailAddress: { name: addr, address: addr } };
}

function folderId(mb: SimMailbox, name: string): string {
  return Buffer.from(`${mb.guid}:${name}`).toString('base64');
}

const COND_MAP: Record<string, string> = {
  SubjectContainsWords: 'subjectContains',
  BodyContainsWords: 'bodyContains',
  SubjectOrBodyContainsWords: 'bodyOrSubjectContains',
  FromAddressContainsWords: 'senderContains',
  HeaderContainsWords: 'headerContains',
  RecipientAddressContainsWords: 'recipientContains',
};

export function messageRuleJson(mb: SimMailbox, r: SimInboxRule): Record<string, unknown> {
  const conditions: Record<string, unknown> = {};
  const exceptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.conditions)) {
    const except = k.startsWith('ExceptIf');
    const base = except ? k.slice(8) : k;
    const target = except ? exceptions : conditions;
    const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(';') : [];
    if (COND_MAP[base]) target[COND_MAP[base]] = list;
    else if (base === 'From') target.fromAddresses = list.map(recipient);
    else if (base === 'SentTo') target.sentToAddresses = list.map(recipient);
  }
  const actions: Record<string, unknown> = {};
  if (r.forwardTo.length) actions.forwardTo = r.forwardTo.map(recipient);
  if (r.forwardAsAttachmentTo.length) actions.forwardAsAttachmentTo = r.forwardAsAttachmentTo.map(recipient);
  if (r.redirectTo.length) actions.redirectTo = r.redirectTo.map(recipient);
  if (r.deleteMessage) actions.delete = true;
  if (r.moveToFolder) actions.moveToFolder = folderId(mb, r.moveToFolder);
  if (r.markAsRead) actions.markAsRead = true;
  actions.stopProcessingRules = r.stopProcessingRules;
  return {
    id: r.graphId,
    displayName: r.name,
    sequence: r.priority,
    isEnabled: r.enabled,
    hasError: false,
    isReadOnly: false,
    conditions,
    ...(Object.keys(exceptions).length ? { exceptions } : {}),
    actions,
  };
}

const WELL_KNOWN_FOLDERS: Record<string, string> = {
  inbox: 'Inbox',
  archive: 'Archive',
  deleteditems: 'Deleted Items',
  junkemail: 'Junk Email',
  drafts: 'Drafts',
  sentitems: 'Sent Items',
  conversationhistory: 'Conversation History',
  rssfeeds: 'RSS Feeds',
};

function folderNameOf(mb: SimMailbox, id: string): string | undefined {
  const known = WELL_KNOWN_FOLDERS[id.toLowerCase()];
  if (known) return known;
  const decoded = Buffer.from(id, 'base64').toString('utf8');
  return decoded.startsWith(`${mb.guid}:`) ? decoded.slice(mb.guid.length + 1) : undefined;
}

function addresses(v: unknown): string[] | string {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  for (const x of list) {
    const a = (x as { emailAddress?: { address?: unknown } } | null)?.emailAddress?.address;
    if (typeof a !== 'string' || !a.includes('@')) return 'a recipient needs emailAddress.address';
    out.push(a.toLowerCase());
  }
  return out;
}

const COND_BACK: Record<string, string> = Object.fromEntries(Object.entries(COND_MAP).map(([k, v]) => [v, k]));

/** Applies a messageRule body (conditions, actions …) to a rule; returns an error text or undefined. */
function applyMessageRule(mb: SimMailbox, r: SimInboxRule, body: Record<string, unknown>): string | undefined {
  for (const [part, prefix] of [['conditions', ''], ['exceptions', 'ExceptIf']] as const) {
    const c = body[part];
    if (c === undefined) continue;
    if (!c || typeof c !== 'object' || Array.isArray(c)) return `Invalid value for property '${part}'.`;
    for (const k of Object.keys(r.conditions)) if (k.startsWith('ExceptIf') === (prefix === 'ExceptIf')) delete r.conditions[k];
    for (const [k, v] of Object.entries(c as Record<string, unknown>)) {
      if (COND_BACK[k]) {
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return `Invalid value for property '${k}'.`;
        if (v.length) r.conditions[`${prefix}${COND_BACK[k]}`] = v as string[];
      } else if (k === 'fromAddresses' || k === 'sentToAddresses') {
        const a = addresses(v);
        if (typeof a === 'string') return a;
        if (a.length) r.conditions[`${prefix}${k === 'fromAddresses' ? 'From' : 'SentTo'}`] = a;
      } else return `The property '${k.slice(0, 60)}' is not supported in this simulator's messageRulePredicates.`;
    }
  }
  const a = body.actions;
  if (a !== undefined) {
    if (!a || typeof a !== 'object' || Array.isArray(a)) return "Invalid value for property 'actions'.";
    const acts = a as Record<string, unknown>;
    for (const k of ['forwardTo', 'forwardAsAttachmentTo', 'redirectTo'] as const) {
      if (!(k in acts)) continue;
      const list = addresses(acts[k]);
      if (typeof list === 'string') return list;
      r[k] = list;
    }
    for (const k of ['delete', 'permanentDelete', 'markAsRead', 'stopProcessingRules'] as const) {
      if (k in acts && typeof acts[k] !== 'boolean') return `Invalid value for property '${k}'.`;
    }
    if ('delete' in acts) r.deleteMessage = acts.delete as boolean;
    if (acts.permanentDelete === true) r.deleteMessage = true;
    if ('markAsRead' in acts) r.markAsRead = acts.markAsRead as boolean;
    if ('stopProcessingRules' in acts) r.stopProcessingRules = acts.stopProcessingRules as boolean;
    if ('moveToFolder' in acts) {
      if (acts.moveToFolder === null) r.moveToFolder = null;
      else {
        const name = typeof acts.moveToFolder === 'string' ? folderNameOf(mb, acts.moveToFolder) : undefined;
        if (!name) return "Invalid value for property 'moveToFolder': the folder doesn't exist.";
        r.moveToFolder = name;
      }
    }
  }
  return undefined;
}

/** Outlook's 10,000 requests per 10 minutes per app per mailbox; tests may lower it. */
export const GRAPH_LIMITS = { mailboxRequests: 10_000, mailboxWindowMs: 10 * 60_000 };

// ---- GDAP --------------------------------------------------------------------------------------

const GDAP_ROLES = [
  '29232cdf-9323-42fd-ade2-1d097af3e4de', // Exchange Administrator
  'fe930be7-5e62-47db-91af-98c3a49a38b1', // User Administrator
  'c4e39bd9-1100-46d3-8c65-fb160da0071f', // Authentication Administrator
  '5d6b6bb7-de71-4623-b4af-96380a352509', // Security Reader
];

function hashGuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const DAY = 86_400_000;
const isoSec = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function worldTenants(ctx: SimContext): Array<{ id: string; name: string; domains: string[]; gdap: GdapStatus }> {
  if (ctx.listTenants) return [...ctx.listTenants()].filter((t) => t.id !== ctx.partner.tenantId);
  // Without the core's list: the tenants built so far that belong to this simulator (explicit world
  // tenants are built at start; generated ones once used).
  return builtTenants().filter((t) => t.id !== ctx.partner.tenantId && ctx.tenant(t.id) === t);
}

export function gdapRelationships(ctx: SimContext, now: number): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  worldTenants(ctx).forEach((t, i) => {
    if (t.gdap === 'none') return;
    const h = createHash('sha256').update(`gdap:${t.id}`).digest();
    const id = `${hashGuid(`rel:${t.id}`)}-${hashGuid(`rel2:${t.id}`)}`;
    const durationDays = 730;
    const activated = t.gdap === 'active' ? now - (30 + (h[0] % 300)) * DAY : now - (durationDays + 10 + (h[1] % 60)) * DAY;
    const end = activated + durationDays * DAY;
    const reseller = i % 3 === 2;
    out.push({
      '@odata.type': reseller ? '#microsoft.graph.resellerDelegatedAdminRelationship' : '#microsoft.graph.delegatedAdminRelationship',
      '@odata.etag': `W/"${Buffer.from(`${t.id}:${t.gdap}`).toString('base64').slice(0, 24)}"`,
      id,
      displayName: `MSP-${t.name}`.slice(0, 50),
      duration: `P${durationDays}D`,
      status: t.gdap,
      autoExtendDuration: t.gdap === 'active' ? 'P180D' : 'PT0S',
      createdDateTime: isoSec(activated - DAY),
      lastModifiedDateTime: isoSec(t.gdap === 'active' ? activated : end),
      activatedDateTime: isoSec(activated),
      endDateTime: isoSec(end),
      customer: { tenantId: t.id, displayName: t.name },
      accessDetails: { unifiedRoles: GDAP_ROLES.map((roleDefinitionId) => ({ roleDefinitionId })) },
      ...(reseller ? { indirectProviderTenantId: hashGuid(`indirect:${ctx.partner.tenantId}`), isPartnerConsentPending: false } : {}),
    });
    // Some customers also keep an older relationship the partner ended (as partners often do when
    // they re-create one with other roles): a client must pick the live one.
    if (t.gdap === 'active' && i % 4 === 0) {
      const oldEnd = activated - 2 * DAY;
      out.push({
        '@odata.type': '#microsoft.graph.delegatedAdminRelationship',
        '@odata.etag': `W/"${Buffer.from(`${t.id}:terminated`).toString('base64').slice(0, 24)}"`,
        id: `${hashGuid(`old:${t.id}`)}-${hashGuid(`old2:${t.id}`)}`,
        displayName: `MSP-${t.name}-2023`.slice(0, 50),
        duration: 'P365D',
        status: 'terminated',
        autoExtendDuration: 'PT0S',
        createdDateTime: isoSec(oldEnd - 200 * DAY),
        lastModifiedDateTime: isoSec(oldEnd),
        activatedDateTime: isoSec(oldEnd - 199 * DAY),
        endDateTime: isoSec(oldEnd),
        customer: { tenantId: t.id, displayName: t.name },
        accessDetails: { unifiedRoles: GDAP_ROLES.slice(0, 2).map((roleDefinitionId) => ({ roleDefinitionId })) },
      });
    }
  });
  return out;
}

// ---- oauth2PermissionGrants --------------------------------------------------------------------

type Grant = SimTenant['oauthGrants'][number];

/** The documented oAuth2PermissionGrant shape (v1.0): id, clientId, consentType, principalId, resourceId, scope. */
export function grantJson(t: SimTenant, g: Grant): Record<string, unknown> {
  return {
    clientId: g.clientId,
    consentType: g.consentType,
    id: g.id,
    principalId: g.consentType === 'AllPrincipals' ? null : g.principalId,
    resourceId: g.resourceId ?? graphServicePrincipalId(t),
    scope: g.scope,
  };
}

const GRANT_FILTER_PROPS: Record<string, 'clientId' | 'principalId' | 'resourceId' | 'consentType'> = {
  clientid: 'clientId',
  principalid: 'principalId',
  resourceid: 'resourceId',
  consenttype: 'consentType',
};

/** `clientId eq '…' and principalId eq '…'` (eq only, as documented) → predicate, or an error message. */
export function parseGrantFilter(t: SimTenant, filter: string): ((g: Grant) => boolean) | string {
  if (filter.length > MAX_FILTER) return 'Filter too long.';
  const preds: Array<(g: Grant) => boolean> = [];
  for (const raw of filter.split(/\s+and\s+/i)) {
    const c = raw.trim();
    const m = /^(clientId|principalId|resourceId|consentType)\s+eq\s+'((?:[^']|'')*)'$/i.exec(c);
    if (!m) return `Unsupported or invalid query filter clause specified for property of resource 'OAuth2PermissionGrant': '${c.slice(0, 100)}'.`;
    const prop = GRANT_FILTER_PROPS[m[1].toLowerCase()];
    const want = m[2].replace(/''/g, "'").toLowerCase();
    preds.push((g) => String(grantJson(t, g)[prop] ?? '').toLowerCase() === want);
  }
  return (g) => preds.every((p) => p(g));
}

/** `Remove delegated permission grant.` (RecordType 8), written by Entra ID when an app deletes a grant. */
export function removeGrantRecord(t: SimTenant, o: { at: number; appClientId: string; grant: Grant; ip: string }): AuditRecord {
  const sp = t.appServicePrincipalId ?? o.appClientId;
  const resourceId = o.grant.resourceId ?? graphServicePrincipalId(t);
  return {
    CreationTime: auditTime(o.at),
    Id: newId(),
    Operation: 'Remove delegated permission grant.',
    OrganizationId: t.id,
    RecordType: 8,
    ResultStatus: 'Success',
    UserKey: 'Not Available',
    UserType: 5,
    Version: 1,
    Workload: 'AzureActiveDirectory',
    ObjectId: resourceId,
    UserId: `ServicePrincipal_${sp}`,
    AzureActiveDirectoryEventType: 1,
    ExtendedProperties: [
      { Name: 'additionalDetails', Value: '{}' },
      { Name: 'extendedAuditEventCategory', Value: 'ApplicationManagement' },
    ],
    ModifiedProperties: [
      { Name: 'DelegatedPermissionGrant.Scope', NewValue: '', OldValue: ` ${o.grant.scope}` },
      { Name: 'DelegatedPermissionGrant.ConsentType', NewValue: '', OldValue: o.grant.consentType },
      { Name: 'ServicePrincipal.ObjectID', NewValue: '', OldValue: o.grant.clientId },
    ],
    Actor: [
      { ID: 'tenantwatch', Type: 1 },
      { ID: o.appClientId, Type: 2 },
      { ID: `ServicePrincipal_${sp}`, Type: 2 },
      { ID: sp, Type: 2 },
      { ID: 'ServicePrincipal', Type: 2 },
    ],
    ActorContextId: t.id,
    InterSystemsId: newId(),
    IntraSystemId: newId(),
    SupportTicketId: '',
    Target: [
      { ID: `ServicePrincipal_${resourceId}`, Type: 2 },
      { ID: resourceId, Type: 2 },
      { ID: 'ServicePrincipal', Type: 2 },
      { ID: 'Microsoft Graph', Type: 1 },
    ],
    TargetContextId: t.id,
    ...(o.ip ? { ActorIpAddress: o.ip, ClientIP: o.ip } : {}),
  };
}

// ---- registration ------------------------------------------------------------------------------

export function registerGraph(app: FastifyInstance, ctx: SimContext): void {
  const mailboxHits = new Map<string, { windowStart: number; count: number }>();
  const host = (req: FastifyRequest): string => ctx.baseUrl?.() || originOf(req);
  const origin = (req: FastifyRequest): string => `${host(req)}/v1.0`;

  const clientIp = (req: FastifyRequest): string => ipWithPort(req.ip, req.socket.remotePort);

  /** The mailbox of a user for Outlook resources, with the per-mailbox limit; errors sent. */
  const mailboxOf = (req: FastifyRequest, reply: FastifyReply, t: SimTenant, key: string): { user: SimUser; mb: SimMailbox } | undefined => {
    const user = findUser(t, key);
    const mb = user ? t.mailboxes.get(user.upn) : undefined;
    if (!user || !mb) {
      graphError(req, reply, 404, 'ErrorInvalidUser', `The requested user '${key.slice(0, 200)}' is invalid.`);
      return undefined;
    }
    const now = ctx.now();
    const k = `${t.id}:${mb.guid}`;
    const hit = mailboxHits.get(k);
    const { mailboxRequests, mailboxWindowMs } = GRAPH_LIMITS;
    if (!hit || now - hit.windowStart >= mailboxWindowMs) mailboxHits.set(k, { windowStart: now, count: 1 });
    else if (++hit.count > mailboxRequests) {
      const retry = Math.max(1, Math.ceil((hit.windowStart + mailboxWindowMs - now) / 1000));
      graphError(req, reply, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'Retry-After': String(retry) });
      return undefined;
    }
    return { user, mb };
  };

  app.get('/v1.0/organization', async (req, reply) => {
    const c = need(ctx, req, reply, [R.org]);
    if (!c) return reply;
    const t = c.tenant;
    const initial = initialDomainOf(t);
    const def = defaultDomainOf(t);
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#organization`,
      value: [
        {
          id: t.id,
          displayName: t.name,
          tenantType: 'AAD',
          countryLetterCode: 'US',
          preferredLanguage: 'en',
          createdDateTime: '2019-05-14T09:12:44Z',
          verifiedDomains: t.domains.map((d) => ({
            capabilities: d === initial ? 'Email, OfficeCommunicationsOnline' : 'Email',
            isDefault: d === def,
            isInitial: d === initial,
            name: d,
            type: 'Managed',
          })),
          assignedPlans: [],
        },
      ],
    });
  });

  app.get('/v1.0/domains', async (req, reply) => {
    const c = need(ctx, req, reply, [R.domains]);
    if (!c) return reply;
    const t = c.tenant;
    const initial = initialDomainOf(t);
    const def = defaultDomainOf(t);
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#domains`,
      value: t.domains.map((d) => ({
        authenticationType: t.users.some((u) => u.federated && u.upn.endsWith(`@${d}`)) ? 'Federated' : 'Managed',
        availabilityStatus: null,
        id: d,
        isAdminManaged: true,
        isDefault: d === def,
        isInitial: d === initial,
        isRoot: true,
        isVerified: true,
        passwordNotificationWindowInDays: null,
        passwordValidityPeriodInDays: null,
        supportedServices: d === initial ? ['Email', 'OfficeCommunicationsOnline'] : ['Email'],
        state: null,
      })),
    });
  });

  app.get('/v1.0/users', async (req, reply) => {
    const c = need(ctx, req, reply, [R.usersRead]);
    if (!c) return reply;
    const top = parseTop(req, reply, 100, 999);
    if (top === undefined) return reply;
    const sel = selectOf(req, reply, USER_PROPS, 'Microsoft.DirectoryServices.User');
    if (sel === undefined) return reply;
    const filter = (req.query as Query).$filter;
    let users = c.tenant.users;
    if (filter) {
      const pred = parseUserFilter(filter);
      if (typeof pred === 'string') return graphError(req, reply, 400, 'Request_UnsupportedQuery', pred);
      users = users.filter(pred);
    }
    const all = users.map((u) => {
      const j = userJson(c.tenant, u);
      return sel ? project(j, sel) : project(j, USER_DEFAULT);
    });
    const p = page(req, all, top, host(req));
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#users${sel ? `(${sel.join(',')})` : ''}`,
      ...(p.nextLink ? { '@odata.nextLink': p.nextLink } : {}),
      value: p.items,
    });
  });

  app.get('/v1.0/users/:id', async (req, reply) => {
    const c = need(ctx, req, reply, [R.usersRead]);
    if (!c) return reply;
    const sel = selectOf(req, reply, USER_PROPS, 'Microsoft.DirectoryServices.User');
    if (sel === undefined) return reply;
    const u = userOr404(req, reply, c.tenant, (req.params as { id: string }).id);
    if (!u) return reply;
    const j = userJson(c.tenant, u);
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#users${sel ? `(${sel.join(',')})` : ''}/$entity`,
      ...(sel ? project(j, sel) : project(j, USER_DEFAULT)),
    });
  });

  app.patch('/v1.0/users/:id', async (req, reply) => {
    const body = req.body;
    const baseAuth = authorize(ctx, req, reply, [], true);
    if (!baseAuth || !baseAuth.tenant) return reply;
    const { claims, tenant: t } = baseAuth;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return graphError(req, reply, 400, 'BadRequest', 'Empty Payload. JSON content expected.');
    }
    const b = body as Record<string, unknown>;
    const allowed = new Set(['accountEnabled', 'passwordProfile', 'displayName', 'usageLocation', 'jobTitle', 'officeLocation']);
    for (const k of Object.keys(b)) {
      if (!allowed.has(k) && !k.startsWith('@odata')) {
        return graphError(req, reply, 400, 'Request_BadRequest', `Property '${k.slice(0, 100)}' does not exist as a declared property or extension property.`);
      }
    }
    const roles = claims.roles;
    const has = (set: string[]): boolean => set.some((r) => roles.includes(r));
    if ('accountEnabled' in b && !has(R.enable)) return graphError(req, reply, 403, 'Authorization_RequestDenied', INSUFFICIENT);
    if ('passwordProfile' in b && !has(R.password)) return graphError(req, reply, 403, 'Authorization_RequestDenied', INSUFFICIENT);
    const other = Object.keys(b).filter((k) => k !== 'accountEnabled' && k !== 'passwordProfile' && !k.startsWith('@odata'));
    if (other.length && !has(R.userWrite)) return graphError(req, reply, 403, 'Authorization_RequestDenied', INSUFFICIENT);
    const u = userOr404(req, reply, t, (req.params as { id: string }).id);
    if (!u) return reply;

    if ('accountEnabled' in b && typeof b.accountEnabled !== 'boolean') {
      return graphError(req, reply, 400, 'Request_BadRequest', "Invalid value specified for property 'accountEnabled' of resource 'User'.");
    }
    let pw: { password?: unknown; forceChangePasswordNextSignIn?: unknown } | undefined;
    if ('passwordProfile' in b) {
      const p = b.passwordProfile;
      if (!p || typeof p !== 'object' || Array.isArray(p)) {
        return graphError(req, reply, 400, 'Request_BadRequest', "Invalid value specified for property 'passwordProfile' of resource 'User'.");
      }
      pw = p as typeof pw;
      // Password writes need an Entra role on the app (User Administrator; Privileged Authentication Administrator for admins).
      if (!t.canResetPasswords || (u.isAdmin && !t.canResetAdminPasswords)) {
        return graphError(req, reply, 403, 'Authorization_RequestDenied', INSUFFICIENT);
      }
      if (u.federated) {
        return graphError(req, reply, 400, 'Request_BadRequest', 'The password of a user from a federated domain cannot be changed in the cloud.');
      }
      if (pw?.password !== undefined && (typeof pw.password !== 'string' || !passwordComplex(pw.password))) {
        return graphError(req, reply, 400, 'Request_BadRequest', 'The specified password does not comply with password complexity requirements. Please provide a different password.');
      }
    }
    if ('accountEnabled' in b && u.isAdmin && !t.canResetAdminPasswords) {
      return graphError(req, reply, 403, 'Authorization_RequestDenied', INSUFFICIENT);
    }
    for (const k of other) {
      const v = b[k];
      if ((typeof v !== 'string' && v !== null) || (k === 'displayName' && !v)) {
        return graphError(req, reply, 400, 'Request_BadRequest', `Invalid value specified for property '${k}' of resource 'User'.`);
      }
    }

    const now = ctx.now();
    const actor = appActor(t, ctx.app.clientId);
    const ip = req.ip;
    const records = [];
    if ('accountEnabled' in b && b.accountEnabled !== u.accountEnabled) {
      const old = u.accountEnabled;
      u.accountEnabled = b.accountEnabled as boolean;
      records.push(updateUserRecord(t, { at: now, actor, target: u, ip, changes: [{ name: 'AccountEnabled', oldValue: old, newValue: u.accountEnabled }] }));
      records.push(directoryUserRecord(t, { operation: u.accountEnabled ? 'Enable account.' : 'Disable account.', at: now, actor, target: u, ip }));
    }
    const attrChanges: Array<{ name: string; oldValue: unknown; newValue: unknown }> = [];
    for (const k of other) {
      const v = b[k] as string | null;
      if (k === 'displayName' && typeof v === 'string') {
        attrChanges.push({ name: 'DisplayName', oldValue: u.displayName, newValue: v });
        u.displayName = v;
      } else if (k === 'usageLocation') {
        attrChanges.push({ name: 'UsageLocation', oldValue: u.usageLocation ?? null, newValue: v });
        u.usageLocation = v ?? undefined;
      }
    }
    if (attrChanges.length) records.push(updateUserRecord(t, { at: now, actor, target: u, ip, changes: attrChanges }));
    if (pw) {
      if (typeof pw.password === 'string') {
        u.passwordChangedAt = new Date(now).toISOString();
        records.push(directoryUserRecord(t, { operation: 'Reset user password.', at: now, actor, target: u, ip }));
      }
      if (typeof pw.forceChangePasswordNextSignIn === 'boolean') {
        u.forceChangePasswordNextSignIn = pw.forceChangePasswordNextSignIn;
        if (pw.forceChangePasswordNextSignIn) {
          records.push(
            directoryUserRecord(t, {
              operation: 'Set force change user password.',
              at: now,
              actor,
              target: u,
              ip,
              modified: [{ Name: 'ForceChangePasswordNextLogin', NewValue: 'True', OldValue: '' }],
            }),
          );
        }
      }
    }
    if (records.length) ctx.audit.append(t.id, 'Audit.AzureActiveDirectory', records);
    return reply.code(204).send();
  });

  app.post('/v1.0/users/:id/revokeSignInSessions', async (req, reply) => {
    const c = need(ctx, req, reply, [R.revoke]);
    if (!c) return reply;
    const u = userOr404(req, reply, c.tenant, (req.params as { id: string }).id);
    if (!u) return reply;
    const now = ctx.now();
    const old = u.sessionsRevokedAt;
    u.sessionsRevokedAt = new Date(now).toISOString();
    const fmt = (iso: string | null): string | null => (iso ? new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z') : null);
    ctx.audit.append(c.tenant.id, 'Audit.AzureActiveDirectory', [
      updateUserRecord(c.tenant, {
        at: now,
        actor: appActor(c.tenant, ctx.app.clientId),
        target: u,
        ip: req.ip,
        changes: [{ name: 'StsRefreshTokensValidFrom', oldValue: fmt(old), newValue: fmt(u.sessionsRevokedAt) }],
      }),
    ]);
    return sendJson(reply, 200, { '@odata.context': `${origin(req)}/$metadata#Edm.Boolean`, value: true });
  });

  // -- inbox rules --
  const rulesBase = '/v1.0/users/:id/mailFolders/inbox/messageRules';
  const findRule = (mb: SimMailbox, ruleId: string): SimInboxRule | undefined => mb.rules.find((r) => !r.hidden && r.graphId === ruleId);
  const ruleNotFound = (req: FastifyRequest, reply: FastifyReply): FastifyReply =>
    graphError(req, reply, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');

  app.get(rulesBase, async (req, reply) => {
    const c = need(ctx, req, reply, [R.mailRead]);
    if (!c) return reply;
    const m = mailboxOf(req, reply, c.tenant, (req.params as { id: string }).id);
    if (!m) return reply;
    const value = m.mb.rules.filter((r) => !r.hidden).sort((a, b) => a.priority - b.priority).map((r) => messageRuleJson(m.mb, r));
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#users('${encodeURIComponent(m.user.id)}')/mailFolders('inbox')/messageRules`,
      value,
    });
  });

  app.get(`${rulesBase}/:ruleId`, async (req, reply) => {
    const c = need(ctx, req, reply, [R.mailRead]);
    if (!c) return reply;
    const m = mailboxOf(req, reply, c.tenant, (req.params as { id: string }).id);
    if (!m) return reply;
    const r = findRule(m.mb, (req.params as { ruleId: string }).ruleId);
    if (!r) return ruleNotFound(req, reply);
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#users('${encodeURIComponent(m.user.id)}')/mailFolders('inbox')/messageRules/$entity`,
      ...messageRuleJson(m.mb, r),
    });
  });

  app.post(rulesBase, async (req, reply) => {
    const c = need(ctx, req, reply, [R.mailWrite]);
    if (!c) return reply;
    const m = mailboxOf(req, reply, c.tenant, (req.params as { id: string }).id);
    if (!m) return reply;
    const b = req.body;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return graphError(req, reply, 400, 'ErrorInvalidRequest', 'Cannot read the request body.');
    const body = b as Record<string, unknown>;
    if (typeof body.displayName !== 'string' || body.displayName.trim() === '' || body.displayName.length > 255) {
      return graphError(req, reply, 400, 'ErrorInvalidRequest', "The property 'displayName' is required.");
    }
    if ('sequence' in body && (typeof body.sequence !== 'number' || !Number.isInteger(body.sequence) || body.sequence < 1)) {
      return graphError(req, reply, 400, 'ErrorInvalidRequest', "Invalid value for property 'sequence'.");
    }
    if ('isEnabled' in body && typeof body.isEnabled !== 'boolean') return graphError(req, reply, 400, 'ErrorInvalidRequest', "Invalid value for property 'isEnabled'.");
    if (m.mb.rules.some((x) => !x.hidden && x.name.toLowerCase() === (body.displayName as string).toLowerCase())) {
      return graphError(req, reply, 409, 'ErrorRuleNameAlreadyExists', 'A rule with this name already exists.');
    }
    const rule = newRule(c.tenant, m.mb, body.displayName);
    const problem = applyMessageRule(m.mb, rule, body);
    if (problem) return graphError(req, reply, 400, 'ErrorInvalidRequest', problem);
    if (typeof body.sequence === 'number') rule.priority = body.sequence;
    if (typeof body.isEnabled === 'boolean') rule.enabled = body.isEnabled;
    m.mb.rules.push(rule);
    ctx.audit.append(c.tenant.id, 'Audit.Exchange', [
      newInboxRuleRecord(c.tenant, {
        at: ctx.now(),
        actor: appActor(c.tenant, ctx.app.clientId),
        user: m.user,
        mailbox: m.mb,
        rule,
        client: 'graph',
        clientIp: clientIp(req),
        graphAppId: c.claims.appid || ctx.app.clientId,
      }),
    ]);
    return sendJson(reply, 201, {
      '@odata.context': `${origin(req)}/$metadata#users('${encodeURIComponent(m.user.id)}')/mailFolders('inbox')/messageRules/$entity`,
      ...messageRuleJson(m.mb, rule),
    });
  });

  app.patch(`${rulesBase}/:ruleId`, async (req, reply) => {
    const c = need(ctx, req, reply, [R.mailWrite]);
    if (!c) return reply;
    const m = mailboxOf(req, reply, c.tenant, (req.params as { id: string }).id);
    if (!m) return reply;
    const r = findRule(m.mb, (req.params as { ruleId: string }).ruleId);
    if (!r) return ruleNotFound(req, reply);
    const b = req.body;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return graphError(req, reply, 400, 'ErrorInvalidRequest', 'Cannot read the request body.');
    const body = b as Record<string, unknown>;
    if ('isEnabled' in body && typeof body.isEnabled !== 'boolean') return graphError(req, reply, 400, 'ErrorInvalidRequest', "Invalid value for property 'isEnabled'.");
    if ('displayName' in body && (typeof body.displayName !== 'string' || body.displayName.length === 0)) {
      return graphError(req, reply, 400, 'ErrorInvalidRequest', "Invalid value for property 'displayName'.");
    }
    if ('sequence' in body && (typeof body.sequence !== 'number' || !Number.isInteger(body.sequence) || body.sequence < 1)) {
      return graphError(req, reply, 400, 'ErrorInvalidRequest', "Invalid value for property 'sequence'.");
    }
    const problem = applyMessageRule(m.mb, structuredClone(r), body);
    if (problem) return graphError(req, reply, 400, 'ErrorInvalidRequest', problem);
    const now = ctx.now();
    const actor = appActor(c.tenant, ctx.app.clientId);
    const ip = clientIp(req);
    const identity = `${m.mb.guid}\\${r.ruleIdentity}`;
    const records = [];
    if (typeof body.isEnabled === 'boolean' && body.isEnabled !== r.enabled) {
      r.enabled = body.isEnabled;
      records.push(
        inboxRuleChangeRecord(c.tenant, {
          operation: r.enabled ? 'Enable-InboxRule' : 'Disable-InboxRule',
          at: now,
          actor,
          user: m.user,
          mailbox: m.mb,
          rule: r,
          parameters: [['Identity', identity]],
          clientIp: ip,
        }),
      );
    }
    const setParams: Array<[string, string]> = [];
    if ('conditions' in body || 'actions' in body || 'exceptions' in body) {
      const before = JSON.stringify(ruleParameters(r));
      applyMessageRule(m.mb, r, body);
      if (JSON.stringify(ruleParameters(r)) !== before) setParams.push(...ruleParameters(r));
    }
    if (typeof body.displayName === 'string' && body.displayName !== r.name) {
      r.name = body.displayName;
      setParams.push(['Name', r.name]);
    }
    if (typeof body.sequence === 'number') {
      r.priority = body.sequence;
      setParams.push(['Priority', String(r.priority)]);
    }
    if (setParams.length) {
      records.push(
        inboxRuleChangeRecord(c.tenant, { operation: 'Set-InboxRule', at: now, actor, user: m.user, mailbox: m.mb, rule: r, parameters: [['Identity', identity], ...setParams], clientIp: ip }),
      );
    }
    if (records.length) ctx.audit.append(c.tenant.id, 'Audit.Exchange', records);
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#users('${encodeURIComponent(m.user.id)}')/mailFolders('inbox')/messageRules/$entity`,
      ...messageRuleJson(m.mb, r),
    });
  });

  app.delete(`${rulesBase}/:ruleId`, async (req, reply) => {
    const c = need(ctx, req, reply, [R.mailWrite]);
    if (!c) return reply;
    const m = mailboxOf(req, reply, c.tenant, (req.params as { id: string }).id);
    if (!m) return reply;
    const r = findRule(m.mb, (req.params as { ruleId: string }).ruleId);
    if (!r) return ruleNotFound(req, reply);
    m.mb.rules = m.mb.rules.filter((x) => x !== r);
    ctx.audit.append(c.tenant.id, 'Audit.Exchange', [
      inboxRuleChangeRecord(c.tenant, {
        operation: 'Remove-InboxRule',
        at: ctx.now(),
        actor: appActor(c.tenant, ctx.app.clientId),
        user: m.user,
        mailbox: m.mb,
        rule: r,
        parameters: [['Identity', `${m.mb.guid}\\${r.ruleIdentity}`]],
        clientIp: clientIp(req),
      }),
    ]);
    return reply.code(204).send();
  });

  app.get('/v1.0/users/:id/mailboxSettings', async (req, reply) => {
    const c = need(ctx, req, reply, [R.mailRead]);
    if (!c) return reply;
    const m = mailboxOf(req, reply, c.tenant, (req.params as { id: string }).id);
    if (!m) return reply;
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#users('${encodeURIComponent(m.user.id)}')/mailboxSettings`,
      archiveFolder: folderId(m.mb, 'Archive'),
      timeZone: 'UTC',
      delegateMeetingMessageDeliveryOptions: 'sendToDelegateOnly',
      dateFormat: 'yyyy-MM-dd',
      timeFormat: 'HH:mm',
      userPurpose: 'user',
      automaticRepliesSetting: {
        status: 'disabled',
        externalAudience: 'all',
        internalReplyMessage: '',
        externalReplyMessage: '',
        scheduledStartDateTime: { dateTime: '2025-01-01T00:00:00.0000000', timeZone: 'UTC' },
        scheduledEndDateTime: { dateTime: '2025-01-02T00:00:00.0000000', timeZone: 'UTC' },
      },
      language: { locale: 'en-US', displayName: 'English (United States)' },
      workingHours: {
        daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
        startTime: '08:00:00.0000000',
        endTime: '17:00:00.0000000',
        timeZone: { name: 'UTC' },
      },
    });
  });

  app.get('/v1.0/auditLogs/signIns', async (req, reply) => {
    const c = need(ctx, req, reply, [R.auditLog, R.directoryRead]);
    if (!c) return reply;
    if (!c.tenant.hasP1) {
      return graphError(req, reply, 403, 'Authentication_RequestFromNonPremiumTenantOrB2CTenant', "Neither tenant is B2C or tenant doesn't have premium license");
    }
    const top = parseTop(req, reply, 1000, 1000);
    if (top === undefined) return reply;
    const filter = (req.query as Query).$filter;
    let preds: Array<(s: Record<string, unknown>) => boolean> = [];
    if (filter) {
      const parsed = parseSignInFilter(filter);
      if (typeof parsed === 'string') return graphError(req, reply, 400, 'Request_UnsupportedQuery', parsed);
      preds = parsed;
    }
    const rows = c.tenant.signIns.filter((s) => preds.every((p) => p(s))).slice().reverse();
    const p = page(req, rows, top, host(req));
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#auditLogs/signIns`,
      ...(p.nextLink ? { '@odata.nextLink': p.nextLink } : {}),
      value: p.items,
    });
  });

  // JSON batching: up to 20 requests, run in order, each through the whole server (faults, log, auth).
  app.post('/v1.0/$batch', async (req, reply) => {
    const claims = ctx.requireToken(req, reply, 'graph');
    if (!claims) return reply;
    const b = req.body as { requests?: unknown } | undefined;
    if (!b || typeof b !== 'object' || !Array.isArray(b.requests)) return graphError(req, reply, 400, 'BadRequest', 'Invalid batch payload format.');
    if (b.requests.length === 0 || b.requests.length > 20) {
      return graphError(req, reply, 400, 'BadRequest', 'The number of requests in a batch must be between 1 and 20.');
    }
    const subs = b.requests as Array<Record<string, unknown>>;
    const ids = new Set<string>();
    for (const r of subs) {
      if (!r || typeof r !== 'object' || typeof r.id !== 'string' || typeof r.method !== 'string' || typeof r.url !== 'string') {
        return graphError(req, reply, 400, 'BadRequest', 'Each batch request needs id, method and url.');
      }
      if (ids.has(r.id)) return graphError(req, reply, 400, 'BadRequest', `Batch request id '${r.id.slice(0, 50)}' is used more than once.`);
      ids.add(r.id);
      if (/^[a-z]+:/i.test(r.url)) return graphError(req, reply, 400, 'BadRequest', 'Batch request urls must be relative.');
    }
    const responses: Array<Record<string, unknown>> = [];
    for (const r of subs) {
      const url = `/v1.0${(r.url as string).startsWith('/') ? '' : '/'}${r.url as string}`;
      const subHeaders = r.headers && typeof r.headers === 'object' ? (r.headers as Record<string, string>) : {};
      const res = await app.inject({
        method: (r.method as string).toUpperCase() as 'GET',
        url,
        headers: { ...subHeaders, authorization: String(req.headers.authorization ?? ''), ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        payload: r.body === undefined ? undefined : JSON.stringify(r.body),
      });
      let body: unknown;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = res.body;
      }
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'retry-after', 'location']) {
        const v = res.headers[h];
        if (v !== undefined) headers[h === 'retry-after' ? 'Retry-After' : h === 'location' ? 'Location' : 'Content-Type'] = String(v);
      }
      responses.push({ id: r.id, status: res.statusCode, headers, ...(body !== undefined ? { body } : {}) });
    }
    return sendJson(reply, 200, { responses });
  });

  // -- delegated permission grants (consent) --
  const grantNotFound = (req: FastifyRequest, reply: FastifyReply, id: string): FastifyReply =>
    graphError(req, reply, 404, 'Request_ResourceNotFound', `Resource '${id.slice(0, 200)}' does not exist or one of its queried reference-property objects are not present.`);

  app.get('/v1.0/oauth2PermissionGrants', async (req, reply) => {
    const c = need(ctx, req, reply, [R.grantsRead]);
    if (!c) return reply;
    const top = parseTop(req, reply, 100, 999);
    if (top === undefined) return reply;
    const filter = (req.query as Query).$filter;
    let grants = c.tenant.oauthGrants;
    if (filter) {
      const pred = parseGrantFilter(c.tenant, filter);
      if (typeof pred === 'string') return graphError(req, reply, 400, 'Request_UnsupportedQuery', pred);
      grants = grants.filter(pred);
    }
    const p = page(req, grants.map((g) => grantJson(c.tenant, g)), top, host(req));
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#oauth2PermissionGrants`,
      ...(p.nextLink ? { '@odata.nextLink': p.nextLink } : {}),
      value: p.items,
    });
  });

  app.get('/v1.0/oauth2PermissionGrants/:grantId', async (req, reply) => {
    const c = need(ctx, req, reply, [R.grantsRead]);
    if (!c) return reply;
    const id = (req.params as { grantId: string }).grantId;
    const g = c.tenant.oauthGrants.find((x) => x.id === id);
    if (!g) return grantNotFound(req, reply, id);
    return sendJson(reply, 200, { '@odata.context': `${origin(req)}/$metadata#oauth2PermissionGrants/$entity`, ...grantJson(c.tenant, g) });
  });

  app.delete('/v1.0/oauth2PermissionGrants/:grantId', async (req, reply) => {
    const c = need(ctx, req, reply, [R.grantsWrite]);
    if (!c) return reply;
    const id = (req.params as { grantId: string }).grantId;
    const g = c.tenant.oauthGrants.find((x) => x.id === id);
    if (!g) return grantNotFound(req, reply, id);
    c.tenant.oauthGrants = c.tenant.oauthGrants.filter((x) => x !== g);
    ctx.audit.append(c.tenant.id, 'Audit.AzureActiveDirectory', [removeGrantRecord(c.tenant, { at: ctx.now(), appClientId: c.claims.appid || ctx.app.clientId, grant: g, ip: req.ip })]);
    return reply.code(204).send();
  });

  // -- partner tenant --
  app.get('/v1.0/tenantRelationships/delegatedAdminRelationships', async (req, reply) => {
    const a = authorize(ctx, req, reply, [R.gdap], false);
    if (!a) return reply;
    const top = parseTop(req, reply, 300, 300);
    if (top === undefined) return reply;
    let rows = a.claims.tid === ctx.partner.tenantId ? gdapRelationships(ctx, ctx.now()) : [];
    const filter = (req.query as Query).$filter;
    if (filter) {
      const m = /^\s*status\s+eq\s+'([A-Za-z]+)'\s*$/.exec(filter.slice(0, MAX_FILTER));
      if (!m) return graphError(req, reply, 400, 'BadRequest', `Invalid filter clause: the filter '${filter.slice(0, 100)}' is not supported.`);
      rows = rows.filter((r) => r.status === m[1]);
    }
    const p = page(req, rows, top, host(req));
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#tenantRelationships/delegatedAdminRelationships`,
      ...(p.nextLink ? { '@odata.nextLink': p.nextLink } : {}),
      value: p.items,
    });
  });

  app.get('/v1.0/contracts', async (req, reply) => {
    const a = authorize(ctx, req, reply, [R.directoryRead], false);
    if (!a) return reply;
    const top = parseTop(req, reply, 100, 999);
    if (top === undefined) return reply;
    const types = ['ResellerPartner', 'SyndicationPartner', 'BreadthPartner'];
    const rows =
      a.claims.tid === ctx.partner.tenantId
        ? worldTenants(ctx).map((t, i) => ({
            id: hashGuid(`contract:${t.id}`),
            deletedDateTime: null,
            contractType: types[i % 3 === 1 ? 0 : i % 7 === 3 ? 1 : 0],
            customerId: t.id,
            defaultDomainName: t.domains.find((d) => !d.endsWith('.onmicrosoft.com')) ?? t.domains[0],
            // A copy taken when the relationship began: goes stale when the customer renames.
            displayName: i % 4 === 1 ? t.name.toUpperCase() : i % 4 === 3 ? `${t.name} (old)` : t.name,
          }))
        : [];
    const p = page(req, rows, top, host(req));
    return sendJson(reply, 200, {
      '@odata.context': `${origin(req)}/$metadata#contracts`,
      ...(p.nextLink ? { '@odata.nextLink': p.nextLink } : {}),
      value: p.items,
    });
  });
}

/** `createdDateTime ge X and userPrincipalName eq 'y'` … → predicates, or an error message. */
export function parseSignInFilter(filter: string): Array<(s: Record<string, unknown>) => boolean> | string {
  if (filter.length > MAX_FILTER) return 'Filter too long.';
  const clauses = filter.split(/\s+and\s+/i);
  const preds: Array<(s: Record<string, unknown>) => boolean> = [];
  for (const raw of clauses) {
    const c = raw.trim();
    const d = /^createdDateTime\s+(ge|gt|le|lt|eq)\s+(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?)$/i.exec(c);
    if (d) {
      const op = d[1].toLowerCase();
      const t = Date.parse(d[2].endsWith('Z') ? d[2] : `${d[2]}Z`);
      if (Number.isNaN(t)) return `Invalid filter clause: '${c.slice(0, 100)}'.`;
      preds.push((s) => {
        const v = Date.parse(String(s.createdDateTime));
        return op === 'ge' ? v >= t : op === 'gt' ? v > t : op === 'le' ? v <= t : op === 'lt' ? v < t : v === t;
      });
      continue;
    }
    const e = /^(userPrincipalName|userId|appId|ipAddress)\s+eq\s+'((?:[^']|'')*)'$/i.exec(c);
    if (e) {
      const field = ({ userprincipalname: 'userPrincipalName', userid: 'userId', appid: 'appId', ipaddress: 'ipAddress' } as Record<string, string>)[e[1].toLowerCase()];
      const want = e[2].replace(/''/g, "'").toLowerCase();
      preds.push((s) => String(s[field] ?? '').toLowerCase() === want);
      continue;
    }
    const st = /^status\/errorCode\s+eq\s+(\d+)$/i.exec(c);
    if (st) {
      const code = Number(st[1]);
      preds.push((s) => (s.status as { errorCode?: number } | undefined)?.errorCode === code);
      continue;
    }
    return `Invalid filter clause: '${c.slice(0, 100)}' is not supported.`;
  }
  return preds;
}

/** `$filter` on users: `eq` on userPrincipalName, mail, displayName, id, accountEnabled; `startswith`. */
export function parseUserFilter(filter: string): ((u: SimUser) => boolean) | string {
  if (filter.length > MAX_FILTER) return 'Filter too long.';
  const preds: Array<(u: SimUser) => boolean> = [];
  const value = (u: SimUser, prop: string): string | boolean =>
    prop === 'userprincipalname' ? u.upn : prop === 'mail' ? u.mail : prop === 'displayname' ? u.displayName : prop === 'id' ? u.id : u.accountEnabled;
  for (const raw of filter.split(/\s+and\s+/i)) {
    const c = raw.trim();
    const eq = /^(userPrincipalName|mail|displayName|id)\s+eq\s+'((?:[^']|'')*)'$/i.exec(c);
    if (eq) {
      const prop = eq[1].toLowerCase();
      const want = eq[2].replace(/''/g, "'").toLowerCase();
      preds.push((u) => String(value(u, prop)).toLowerCase() === want);
      continue;
    }
    const en = /^accountEnabled\s+eq\s+(true|false)$/i.exec(c);
    if (en) {
      const want = en[1].toLowerCase() === 'true';
      preds.push((u) => u.accountEnabled === want);
      continue;
    }
    const sw = /^startswith\((userPrincipalName|mail|displayName),\s*'((?:[^']|'')*)'\)$/i.exec(c);
    if (sw) {
      const prop = sw[1].toLowerCase();
      const want = sw[2].replace(/''/g, "'").toLowerCase();
      preds.push((u) => String(value(u, prop)).toLowerCase().startsWith(want));
      continue;
    }
    return `Unsupported or invalid query filter clause specified for property of resource 'User': '${c.slice(0, 100)}'.`;
  }
  return (u) => preds.every((p) => p(u));
}
