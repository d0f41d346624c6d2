// Microsoft Graph v1.0, the calls tenantwatch makes (onboarding, discovery, remediation), typed.
// Paging follows @odata.nextLink only on Graph's own origin, so a token never travels to another host.
import { baseUrlsOf, type Config } from '../config.ts';
import type { M365Http } from './http.ts';
import { M365Error } from './m365-error.ts';

export interface GraphOrganization {
  id: string;
  displayName: string;
  verifiedDomains: Array<{ name: string; isDefault: boolean; isInitial: boolean; type?: string }>;
}

export interface GraphDomain {
  id: string;
  isVerified: boolean;
  isDefault: boolean;
  isInitial: boolean;
  isRoot?: boolean;
  authenticationType?: string;
  supportedServices: string[];
}

export interface GraphUser {
  id: string;
  userPrincipalName: string;
  displayName?: string;
  mail?: string | null;
  accountEnabled?: boolean;
}

export interface GraphRecipient {
  emailAddress: { name?: string; address: string };
}

export interface GraphMessageRule {
  id: string;
  displayName: string;
  sequence?: number;
  isEnabled: boolean;
  hasError?: boolean;
  isReadOnly?: boolean;
  conditions?: Record<string, unknown>;
  exceptions?: Record<string, unknown>;
  actions?: {
    forwardTo?: GraphRecipient[];
    forwardAsAttachmentTo?: GraphRecipient[];
    // Older docs show redirectTo as a single recipient; current ones a collection (m365-api.md §4).
    redirectTo?: GraphRecipient[] | GraphRecipient;
    delete?: boolean;
    permanentDelete?: boolean;
    moveToFolder?: string;
    markAsRead?: boolean;
    stopProcessingRules?: boolean;
    [k: string]: unknown;
  };
}

export type GdapStatus =
  | 'activating'
  | 'active'
  | 'approvalPending'
  | 'approved'
  | 'created'
  | 'expired'
  | 'expiring'
  | 'terminated'
  | 'terminating'
  | 'terminationRequested'
  | 'unknownFutureValue';

export interface DelegatedAdminRelationship {
  id: string;
  displayName?: string;
  status: GdapStatus | string;
  duration?: string;
  customer?: { tenantId: string; displayName?: string };
  activatedDateTime?: string | null;
  endDateTime?: string | null;
  autoExtendDuration?: string;
  '@odata.type'?: string;
}

export interface GraphContract {
  id: string;
  contractType?: string;
  customerId: string;
  defaultDomainName?: string;
  displayName?: string;
}

/** A delegated permission grant (consent): clientId is the client app's service principal object id, not its appId. */
export interface OAuth2PermissionGrant {
  id: string;
  clientId: string;
  consentType: 'Principal' | 'AllPrincipals' | string;
  principalId: string | null;
  resourceId: string;
  scope: string;
}

export interface GraphClient {
  organization(tenantId: string): Promise<GraphOrganization>;
  domains(tenantId: string): Promise<GraphDomain[]>;
  getUser(tenantId: string, user: string): Promise<GraphUser>;
  setAccountEnabled(tenantId: string, user: string, enabled: boolean): Promise<void>;
  revokeSignInSessions(tenantId: string, user: string): Promise<boolean>;
  setPassword(tenantId: string, user: string, password: string, forceChange: boolean): Promise<void>;
  listMessageRules(tenantId: string, user: string): Promise<GraphMessageRule[]>;
  updateMessageRule(tenantId: string, user: string, ruleId: string, patch: Partial<GraphMessageRule>): Promise<GraphMessageRule | undefined>;
  deleteMessageRule(tenantId: string, user: string, ruleId: string): Promise<void>;
  /** Delegated permission grants, filtered by client service principal and/or user (eq only). */
  listOAuth2PermissionGrants(tenantId: string, filter?: { clientId?: string; principalId?: string }): Promise<OAuth2PermissionGrant[]>;
  deleteOAuth2PermissionGrant(tenantId: string, id: string): Promise<void>;
  /** In the partner tenant (default microsoft.partnerTenantId). */
  delegatedAdminRelationships(partnerTenantId?: string): Promise<DelegatedAdminRelationship[]>;
  /** Legacy DAP partner contracts, in the partner tenant. */
  contracts(partnerTenantId?: string): Promise<GraphContract[]>;
  /** GET a v1.0 path (leading slash), following @odata.nextLink; for calls not typed above. */
  list<T>(tenantId: string, path: string, maxPages?: number): Promise<T[]>;
}

const seg = (s: string) => encodeURIComponent(s);
/** An OData string literal's content: single quotes doubled. */
const odataString = (s: string) => s.replace(/'/g, "''");

export function createGraphClient(http: M365Http, config: Readonly<Config>): GraphClient {
  const root = `${baseUrlsOf(config).graph}/v1.0`;
  const origin = new URL(root).origin;

  function partner(id?: string): string {
    const p = id ?? config.microsoft.partnerTenantId;
    if (!p) throw new M365Error('TW_M365_CREDENTIAL_MISSING', { detail: 'microsoft.partnerTenantId is not set' }, { resource: 'graph', tenantId: '-' });
    return p;
  }

  async function get<T>(tenantId: string, path: string): Promise<T> {
    const r = await http.requestJson<T>(tenantId, 'graph', { method: 'GET', url: `${root}${path}` });
    return r.json;
  }

  async function list<T>(tenantId: string, path: string, maxPages = 1000): Promise<T[]> {
    const out: T[] = [];
    let url: string | undefined = `${root}${path}`;
    for (let page = 0; url && page < maxPages; page++) {
      const r: { json: { value?: T[]; '@odata.nextLink'?: string } } = await http.requestJson(tenantId, 'graph', { method: 'GET', url });
      if (Array.isArray(r.json?.value)) out.push(...r.json.value);
      // Graph pages with @odata.nextLink, fetched verbatim. https://learn.microsoft.com/graph/paging
      const next: string | undefined = r.json?.['@odata.nextLink'];
      if (next && new URL(next, root).origin !== origin) {
        throw new M365Error('TW_M365_BAD_RESPONSE', { reason: 'a nextLink points to another host' }, { resource: 'graph', tenantId });
      }
      url = next ? new URL(next, root).toString() : undefined;
    }
    return out;
  }

  return {
    list,
    async organization(tenantId) {
      const r = await list<GraphOrganization>(tenantId, '/organization', 1);
      const org = r[0];
      if (!org) throw new M365Error('TW_M365_NOT_FOUND', { what: 'organization' }, { resource: 'graph', tenantId });
      return { id: org.id, displayName: org.displayName, verifiedDomains: org.verifiedDomains ?? [] };
    },
    domains: (tenantId) => list<GraphDomain>(tenantId, '/domains'),
    getUser(tenantId, user) {
      // accountEnabled is not in the default property set. https://learn.microsoft.com/graph/api/user-get
      return get<GraphUser>(tenantId, `/users/${seg(user)}?$select=id,userPrincipalName,displayName,accountEnabled,mail`);
    },
    async setAccountEnabled(tenantId, user, enabled) {
      await http.request(tenantId, 'graph', { method: 'PATCH', url: `${root}/users/${seg(user)}`, body: JSON.stringify({ accountEnabled: enabled }) });
    },
    async revokeSignInSessions(tenantId, user) {
      // Answers 200 {"value":true}, not the documented 204 (known issue). https://learn.microsoft.com/graph/api/user-revokesigninsessions
      const r = await http.requestJson<{ value?: boolean } | undefined>(tenantId, 'graph', { method: 'POST', url: `${root}/users/${seg(user)}/revokeSignInSessions` });
      return r.json?.value !== false;
    },
    async setPassword(tenantId, user, password, forceChange) {
      // Needs User-PasswordProfile.ReadWrite.All plus an Entra role on the app (User Administrator); the
      // resetPassword method API is delegated-only. https://learn.microsoft.com/graph/api/user-update#example-3-update-the-passwordprofile-of-a-user-and-reset-their-password
      await http.request(tenantId, 'graph', {
        method: 'PATCH',
        url: `${root}/users/${seg(user)}`,
        body: JSON.stringify({ passwordProfile: { password, forceChangePasswordNextSignIn: forceChange } }),
      });
    },
    listMessageRules: (tenantId, user) => list<GraphMessageRule>(tenantId, `/users/${seg(user)}/mailFolders/inbox/messageRules`),
    async updateMessageRule(tenantId, user, ruleId, patch) {
      const r = await http.requestJson<GraphMessageRule | undefined>(tenantId, 'graph', {
        method: 'PATCH',
        url: `${root}/users/${seg(user)}/mailFolders/inbox/messageRules/${seg(ruleId)}`,
        body: JSON.stringify(patch),
      });
      return r.json;
    },
    async deleteMessageRule(tenantId, user, ruleId) {
      await http.request(tenantId, 'graph', { method: 'DELETE', url: `${root}/users/${seg(user)}/mailFolders/inbox/messageRules/${seg(ruleId)}` });
    },
    listOAuth2PermissionGrants(tenantId, filter = {}) {
      // $filter supports eq on clientId (the service principal's object id) and principalId; Directory.Read.All reads.
      // https://learn.microsoft.com/graph/api/oauth2permissiongrant-list
      const clauses: string[] = [];
      if (filter.clientId !== undefined) clauses.push(`clientId eq '${odataString(filter.clientId)}'`);
      if (filter.principalId !== undefined) clauses.push(`principalId eq '${odataString(filter.principalId)}'`);
      const q = clauses.length ? `?$filter=${encodeURIComponent(clauses.join(' and '))}` : '';
      return list<OAuth2PermissionGrant>(tenantId, `/oauth2PermissionGrants${q}`);
    },
    async deleteOAuth2PermissionGrant(tenantId, id) {
      // 204; needs DelegatedPermissionGrant.ReadWrite.All; issued tokens stay valid until they expire.
      // https://learn.microsoft.com/graph/api/oauth2permissiongrant-delete
      await http.request(tenantId, 'graph', { method: 'DELETE', url: `${root}/oauth2PermissionGrants/${seg(id)}` });
    },
    delegatedAdminRelationships(partnerTenantId) {
      // GDAP relationships live in the partner tenant; $top ≤ 300.
      // https://learn.microsoft.com/graph/api/tenantrelationship-list-delegatedadminrelationships
      const p = partner(partnerTenantId);
      return list<DelegatedAdminRelationship>(p, '/tenantRelationships/delegatedAdminRelationships?$top=300');
    },
    contracts(partnerTenantId) {
      // Legacy DAP customers (stale display names). https://learn.microsoft.com/graph/api/resources/contract
      const p = partner(partnerTenantId);
      return list<GraphContract>(p, '/contracts');
    },
  };
}
