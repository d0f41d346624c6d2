// The directory half of the simulator: tenant state, Graph, the Exchange admin API and activity
// scenarios, behind the DirectoryModule seam the core (server, identity, management API) imports.
import type { DirectoryModule, SimTenant } from './types.ts';
import { createTenant } from './state.ts';
import { registerGraph } from './graph.ts';
import { registerExchange } from './exchange.ts';
import { runScenario, scenarios } from './scenarios.ts';

/** JSON for GET /_sim/tenants/{id}/state (contracts §5). */
export function snapshot(t: SimTenant): unknown {
  return {
    id: t.id,
    name: t.name,
    domains: t.domains,
    consented: t.consented,
    roles: t.roles,
    canResetPasswords: t.canResetPasswords,
    gdap: t.gdap,
    hasP1: t.hasP1,
    auditConfig: {
      unifiedAuditLogIngestionEnabled: t.auditLogEnabled,
      effectiveAt: t.auditLogEffectiveAt ? new Date(t.auditLogEffectiveAt).toISOString() : null,
    },
    users: t.users.map((u) => ({
      id: u.id,
      upn: u.upn,
      displayName: u.displayName,
      accountEnabled: u.accountEnabled,
      sessionsRevokedAt: u.sessionsRevokedAt,
      passwordChangedAt: u.passwordChangedAt,
      forceChangePasswordNextSignIn: u.forceChangePasswordNextSignIn,
      admin: u.isAdmin,
      mfaRegistered: u.mfaRegistered ?? true,
      federated: u.federated,
    })),
    mailboxes: [...t.mailboxes.values()].map((m) => {
      const inboxRules = m.rules.map((r) => ({
        name: r.name,
        ruleIdentity: r.ruleIdentity,
        graphId: r.graphId,
        enabled: r.enabled,
        hidden: r.hidden,
        priority: r.priority,
        conditions: r.conditions,
        forwardTo: r.forwardTo,
        forwardAsAttachmentTo: r.forwardAsAttachmentTo,
        redirectTo: r.redirectTo,
        deleteMessage: r.deleteMessage,
        moveToFolder: r.moveToFolder,
        markAsRead: r.markAsRead,
        stopProcessingRules: r.stopProcessingRules,
      }));
      return {
        upn: m.upn,
        guid: m.guid,
        forwardingSmtpAddress: m.forwardingSmtpAddress,
        forwardingAddress: m.forwardingAddress,
        deliverToMailboxAndForward: m.deliverToMailboxAndForward,
        owaEnabled: m.owaEnabled,
        inboxRules,
        /** Same list as inboxRules (both names are in use by clients of the control API). */
        rules: inboxRules,
      };
    }),
    recipients: t.recipients,
    acceptedDomains: t.acceptedDomains,
    transportRules: t.transportRules,
    oauthGrants: t.oauthGrants,
    signIns: t.signIns.length,
  };
}

export const directory: DirectoryModule = {
  createTenant,
  registerGraph,
  registerExchange,
  runScenario,
  snapshot,
  scenarios,
};
