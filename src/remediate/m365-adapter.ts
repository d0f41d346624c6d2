// Builds remediation's ports from the m365/ Graph and Exchange clients.
import type { ExchangeClient, InboxRule } from '../m365/exchange.ts';
import type { GraphClient } from '../m365/graph.ts';
import type { InboxRuleView } from './evidence.ts';
import type { RemediationExchange, RemediationGraph } from './ports.ts';

export function graphPort(graph: GraphClient): RemediationGraph {
  return {
    getUser: (t, u) => graph.getUser(t, u),
    setAccountEnabled: (t, u, e) => graph.setAccountEnabled(t, u, e),
    revokeSignInSessions: (t, u) => graph.revokeSignInSessions(t, u),
    setPassword: (t, u, p, f) => graph.setPassword(t, u, p, f),
    async listConsentGrants(t, filter) {
      const grants = await graph.listOAuth2PermissionGrants(t, filter);
      return grants.map((g) => ({
        id: g.id, clientId: g.clientId, consentType: g.consentType, principalId: g.principalId ?? null, resourceId: g.resourceId, scope: g.scope,
      }));
    },
    deleteConsentGrant: (t, id) => graph.deleteOAuth2PermissionGrant(t, id),
  };
}

function view(r: InboxRule, hidden: boolean | undefined): InboxRuleView {
  return {
    name: r.name,
    identity: r.identity,
    ruleIdentity: r.ruleIdentity,
    enabled: r.enabled,
    hidden,
    forwardTo: r.forwardTo,
    forwardAsAttachmentTo: r.forwardAsAttachmentTo,
    redirectTo: r.redirectTo,
    deleteMessage: r.deleteMessage,
    moveToFolder: r.moveToFolder,
  };
}

/** The rule's own identity ("{mailboxGuid}\{RuleIdentity}") when Exchange gave one, else its RuleIdentity. */
function ruleRef(rule: { identity: string; ruleIdentity: string }): string {
  return rule.identity.includes('\\') ? rule.identity : rule.ruleIdentity || rule.identity;
}

export function exchangePort(exchange: ExchangeClient): RemediationExchange {
  return {
    async getInboxRules(t, mailbox) {
      // Get-InboxRule says nothing about hiddenness: a rule listed only with -IncludeHidden is a hidden one.
      const all = await exchange.getInboxRules(t, mailbox, { includeHidden: true });
      // The second listing only labels rules; when it fails the rules are still handled, unlabelled.
      const visible = await exchange.getInboxRules(t, mailbox, { includeHidden: false }).then(
        (rs) => new Set(rs.map((r) => r.ruleIdentity)),
        () => undefined,
      );
      return all.map((r) => view(r, visible ? !visible.has(r.ruleIdentity) : undefined));
    },
    disableInboxRule: (t, m, rule) => exchange.disableInboxRule(t, m, ruleRef(rule)),
    enableInboxRule: (t, m, rule) => exchange.enableInboxRule(t, m, ruleRef(rule)),
    removeInboxRule: (t, m, rule) => exchange.removeInboxRule(t, m, ruleRef(rule)),
    async getForwarding(t, mailbox) {
      const mb = await exchange.getMailbox(t, mailbox);
      return {
        forwardingSmtpAddress: mb.forwardingSmtpAddress || null,
        forwardingAddress: mb.forwardingAddress || null,
        deliverToMailboxAndForward: mb.deliverToMailboxAndForward,
      };
    },
    setForwarding: (t, mailbox, v) => exchange.setMailboxForwarding(t, mailbox, v),
    async describeRecipient(t, identity) {
      const r = await exchange.getRecipient(t, identity);
      if (!r) return undefined;
      const address = (r.externalEmailAddress ?? r.primarySmtpAddress ?? '').replace(/^smtp:/i, '');
      return { type: r.recipientTypeDetails || undefined, address: address || undefined };
    },
    async getOwaEnabled(t, mailbox) {
      const [o] = await exchange.invoke(t, 'Get-CASMailbox', { Identity: mailbox });
      const v = o?.OWAEnabled;
      return v === undefined || v === null ? true : v === true || (typeof v === 'string' && /^true$/i.test(v));
    },
    setOwaEnabled: (t, mailbox, enabled) => exchange.setCasMailbox(t, mailbox, { OWAEnabled: enabled }),
    async getTransportRules(t) {
      return (await exchange.getTransportRules(t)).map((r) => ({
        name: r.name, identity: r.identity, state: r.state, redirectMessageTo: r.redirectMessageTo, blindCopyTo: r.blindCopyTo,
      }));
    },
    removeTransportRule: (t, identity) => exchange.removeTransportRule(t, identity),
  };
}
