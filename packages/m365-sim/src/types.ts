// The seams between the simulator's parts. server/identity/management/control (the "core") and
// state/graph/exchange/scenarios (the "directory") are built against these types.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export type ContentType = 'Audit.AzureActiveDirectory' | 'Audit.Exchange' | 'Audit.SharePoint' | 'Audit.General' | 'DLP.All';
export type GdapStatus = 'active' | 'expired' | 'none';
export type Resource = 'management' | 'graph' | 'exchange';

/** An audit record as Microsoft writes it (plain JSON object, Microsoft's field names). */
export type AuditRecord = Record<string, unknown> & { Id: string; CreationTime: string; Operation: string; OrganizationId: string };

export interface SimUser {
  id: string; // object id (GUID)
  upn: string;
  displayName: string;
  mail: string;
  accountEnabled: boolean;
  /** ISO time of the last revokeSignInSessions, or null. */
  sessionsRevokedAt: string | null;
  passwordChangedAt: string | null;
  forceChangePasswordNextSignIn: boolean;
  /** Federated users cannot have their password reset through Graph. */
  federated: boolean;
  /** Holds a privileged admin role (password reset then needs a stronger app role). */
  isAdmin: boolean;
  usageLocation?: string;
  /** Has MFA (strong authentication) registered; the mfa-removal scenario clears it. Default true. */
  mfaRegistered?: boolean;
}

export interface SimInboxRule {
  /** Graph messageRule id (opaque base64). */
  graphId: string;
  /** Exchange RuleIdentity: unsigned 64-bit, above 2^53; kept as a decimal string. */
  ruleIdentity: string;
  name: string;
  enabled: boolean;
  hidden: boolean;
  priority: number;
  /** Conditions, Exchange parameter names (SubjectContainsWords, From, …) → values. */
  conditions: Record<string, string[] | string | boolean>;
  forwardTo: string[];
  forwardAsAttachmentTo: string[];
  redirectTo: string[];
  deleteMessage: boolean;
  moveToFolder: string | null;
  markAsRead: boolean;
  stopProcessingRules: boolean;
}

export interface SimMailbox {
  upn: string;
  guid: string;
  primarySmtpAddress: string;
  forwardingSmtpAddress: string | null;
  /** A recipient identity (name of a mail contact …), not an address. */
  forwardingAddress: string | null;
  deliverToMailboxAndForward: boolean;
  owaEnabled: boolean;
  rules: SimInboxRule[];
}

export interface SimRecipient {
  identity: string; // name
  alias: string;
  recipientTypeDetails: 'MailContact' | 'MailUser' | 'UserMailbox' | 'SharedMailbox';
  primarySmtpAddress: string;
  externalEmailAddress: string | null; // "SMTP:x@y" for contacts
}

export interface SimAcceptedDomain {
  domainName: string;
  domainType: 'Authoritative' | 'InternalRelay';
  default: boolean;
  matchSubDomains: boolean;
}

export interface SimTransportRule {
  name: string;
  state: 'Enabled' | 'Disabled';
  mode: 'Enforce' | 'Audit';
  priority: number;
  blindCopyTo: string[];
  redirectMessageTo: string[];
  copyTo: string[];
}

export interface SimSubscription {
  contentType: ContentType;
  status: 'enabled' | 'disabled';
  webhook: { address: string; authId: string | null; expiration: string | null; status: 'enabled' | 'disabled' | 'expired' } | null;
  createdAt: number; // epoch ms
}

export interface SimTenant {
  id: string;
  name: string;
  domains: string[];
  consented: boolean;
  /** App roles granted in this tenant (defaults to all the app needs when consented). */
  roles: string[];
  /** Entra role on the app's service principal that allows password resets (User Administrator …). */
  canResetPasswords: boolean;
  gdap: GdapStatus;
  auditLogEnabled: boolean;
  /** Epoch ms at which audit ingestion becomes effective after being switched on. */
  auditLogEffectiveAt: number;
  hasP1: boolean;
  users: SimUser[];
  mailboxes: Map<string, SimMailbox>; // key: lower-case UPN
  recipients: SimRecipient[];
  acceptedDomains: SimAcceptedDomain[];
  transportRules: SimTransportRule[];
  subscriptions: Map<ContentType, SimSubscription>;
  /** Sign-in log for Graph auditLogs/signIns (newest last). */
  signIns: Array<Record<string, unknown>>;
  /** Delegated permission grants / consented apps (for illicit-consent scenarios). */
  oauthGrants: Array<{ id: string; clientId: string; principalId: string | null; scope: string; consentType: 'Principal' | 'AllPrincipals'; /** The API's service principal (Microsoft Graph's when absent). */ resourceId?: string }>;
  /** The app also holds Privileged Authentication Administrator: may reset/disable admins (default false). */
  canResetAdminPasswords?: boolean;
  /** Object id of the app's service principal in this tenant (actor of app-only changes in audit records). */
  appServicePrincipalId?: string;
}

/** Appends records to a tenant's audit log; they become listable content after the configured latency. */
export interface AuditSink {
  append(tenantId: string, contentType: ContentType, records: AuditRecord[]): void;
}

export interface TokenClaims {
  tid: string;
  aud: string;
  roles: string[];
  appid: string;
  exp: number;
}

export interface SimContext {
  /** Looks a tenant up by GUID or one of its domains (generated tenants are materialised on first use). */
  tenant(idOrDomain: string): SimTenant | undefined;
  partner: { tenantId: string; domain: string };
  app: { clientId: string };
  audit: AuditSink;
  now(): number;
  /**
   * The world's tenants in order (for the partner's GDAP/contracts view) without materialising
   * generated ones. Optional: without it only tenants reachable through tenant() are listed.
   */
  listTenants?(): Iterable<{ id: string; name: string; domains: string[]; gdap: GdapStatus }>;
  /**
   * Checks the bearer token for a resource: signature, exp/nbf, `aud` (the resource), `tid` (= tenantId
   * when given). Sends the resource's own error body and returns undefined when it fails.
   */
  requireToken(
    req: FastifyRequest,
    reply: FastifyReply,
    resource: Resource,
    tenantId?: string,
    /** When given, called instead of sending the default error body (Graph: InvalidAuthenticationToken 401). */
    onError?: (status: number, code: string, message: string) => void,
  ): TokenClaims | undefined;
  /** The same checks without sending anything (added by sim-core; optional for in-test contexts). */
  verifyToken?(req: FastifyRequest, resource: Resource, tenantId?: string): { ok: true; claims: TokenClaims } | { ok: false; reason: string; message: string };
  /** The simulator's own origin, e.g. https://127.0.0.1:8443 (for @odata.nextLink …). */
  baseUrl?(): string;
}

/** What the directory side exports to the core. */
export interface DirectoryModule {
  /** Builds a tenant's full state from its world entry (also used for generated tenants). */
  createTenant(entry: WorldTenant, seed: number): SimTenant;
  registerGraph(app: FastifyInstance, ctx: SimContext): void;
  registerExchange(app: FastifyInstance, ctx: SimContext): void;
  /** Runs a `/_sim/tenants/{id}/activity` scenario in the tenant's state, writing the audit records. */
  runScenario(ctx: SimContext, tenant: SimTenant, body: { scenario: string; user?: string; [k: string]: unknown }): { ok: true; records: number; detail?: unknown } | { ok: false; status: number; error: string };
  /** JSON for GET /_sim/tenants/{id}/state (contracts §5). */
  snapshot(tenant: SimTenant): unknown;
  /** Names of the scenarios runScenario knows (for --help and errors). */
  scenarios: readonly string[];
}

/** One tenant entry of the world file (contracts §5), after validation. */
export interface WorldTenant {
  id: string;
  name: string;
  domains: string[];
  consented: boolean;
  gdap: GdapStatus;
  auditLogEnabled: boolean;
  users: Array<{ upn: string; displayName?: string; admin?: boolean; federated?: boolean }>;
  /** Optional extras a world may give (all have defaults). */
  roles?: string[];
  canResetPasswords?: boolean;
  canResetAdminPasswords?: boolean;
  hasP1?: boolean;
  recipients?: Array<{ identity: string; address: string; type: SimRecipient['recipientTypeDetails'] }>;
  acceptedDomains?: Array<{ domain: string; matchSubdomains?: boolean }>;
  inboxRules?: Array<{ user: string; name: string; hidden?: boolean; forwardTo?: string[]; moveToFolder?: string; deleteMessage?: boolean; markAsRead?: boolean; subjectContainsWords?: string[] }>;
  /** Content types whose Management API subscription is already started (sim-core applies these). */
  subscriptions?: ContentType[];
}
