// What remediation consumes from m365/ (declared where consumed). `m365-adapter.ts` builds these from
// the Graph and Exchange clients; every method throws M365Error (Microsoft's code + message) on failure.
import type { InboxRuleView } from './evidence.ts';

export interface GraphUser {
  id: string;
  userPrincipalName: string;
  accountEnabled?: boolean;
}

/** A delegated permission grant: clientId is the client app's service principal object id. */
export interface ConsentGrant {
  id: string;
  clientId: string;
  consentType: string;
  principalId: string | null;
  resourceId: string;
  scope: string;
}

export interface RemediationGraph {
  getUser(tenantId: string, user: string): Promise<GraphUser>;
  setAccountEnabled(tenantId: string, userId: string, enabled: boolean): Promise<void>;
  /** True when Microsoft answered 200 + value true. */
  revokeSignInSessions(tenantId: string, userId: string): Promise<boolean>;
  setPassword(tenantId: string, userId: string, password: string, forceChangeNextSignIn: boolean): Promise<void>;
  /** Delegated permission grants (oauth2PermissionGrants) of a client service principal, optionally of one user. */
  listConsentGrants(tenantId: string, filter: { clientId: string; principalId?: string }): Promise<ConsentGrant[]>;
  /** DELETE /oauth2PermissionGrants/{id} (204). */
  deleteConsentGrant(tenantId: string, grantId: string): Promise<void>;
}

export interface MailboxForwarding {
  forwardingSmtpAddress: string | null;
  forwardingAddress: string | null;
  deliverToMailboxAndForward: boolean;
}

export interface TransportRuleView {
  name: string;
  identity: string;
  state?: string;
  redirectMessageTo?: string[];
  blindCopyTo?: string[];
}

export interface RemediationExchange {
  getInboxRules(tenantId: string, mailbox: string): Promise<InboxRuleView[]>;
  disableInboxRule(tenantId: string, mailbox: string, rule: InboxRuleView): Promise<void>;
  enableInboxRule(tenantId: string, mailbox: string, rule: { identity: string; ruleIdentity: string }): Promise<void>;
  removeInboxRule(tenantId: string, mailbox: string, rule: InboxRuleView): Promise<void>;
  getForwarding(tenantId: string, mailbox: string): Promise<MailboxForwarding>;
  /** Sends every field explicitly, nulls included (dropping a null makes "clear" a no-op). */
  setForwarding(tenantId: string, mailbox: string, value: MailboxForwarding): Promise<void>;
  /** Resolves a ForwardingAddress recipient identity to its type and external address, when Exchange knows it. */
  describeRecipient(tenantId: string, identity: string): Promise<{ type?: string; address?: string } | undefined>;
  getOwaEnabled(tenantId: string, mailbox: string): Promise<boolean>;
  setOwaEnabled(tenantId: string, mailbox: string, enabled: boolean): Promise<void>;
  getTransportRules(tenantId: string): Promise<TransportRuleView[]>;
  removeTransportRule(tenantId: string, identity: string): Promise<void>;
}
