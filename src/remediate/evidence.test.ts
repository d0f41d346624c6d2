import { describe, expect, it } from 'vitest';
import { addressesIn, indicatorsOf, matchRule, type InboxRuleView, type RemediationAlert } from './evidence.ts';

function alert(behaviour: string, facts: Record<string, unknown>, target?: string): RemediationAlert {
  return { id: 'a', tenantId: 't', userId: 'u@contoso.com', behaviour, ruleId: 'r', severity: 'high', summary: 's', evidence: [{ facts, target }] };
}

function rule(p: Partial<InboxRuleView>): InboxRuleView {
  return { name: 'r', identity: 'g\\1', ruleIdentity: '1', enabled: true, forwardTo: [], forwardAsAttachmentTo: [], redirectTo: [], ...p };
}

describe('remediation evidence', () => {
  it('reads addresses from Exchange, Graph and audit recipient forms', () => {
    expect(addressesIn('"Drop" [SMTP:Drop@Mail.Example.net]')).toEqual(['drop@mail.example.net']);
    expect(addressesIn('smtp:a@b.example;c@d.example')).toEqual(['a@b.example', 'c@d.example']);
    expect(addressesIn('[EX:/o=ExchangeLabs/ou=Exchange]')).toEqual([]);
  });

  it('matches the rule the detection named and leaves benign rules alone', () => {
    const ind = indicatorsOf([alert('inbox-rule-external-forward', { ruleName: '..', recipients: [{ raw: 'x', address: 'drop@evil.example' }] })]);
    expect(matchRule(rule({ name: '..' }), ind)).toMatch(/rule name/);
    expect(matchRule(rule({ name: 'other', forwardTo: ['"Drop" [SMTP:drop@evil.example]'] }), ind)).toMatch(/drop@evil.example/);
    expect(matchRule(rule({ name: 'Newsletters', forwardTo: ['boss@contoso.com'] }), ind)).toBeUndefined();
    expect(matchRule(rule({ name: 'Junk E-mail Rule', hidden: true }), ind)).toBeUndefined();
  });

  it('reads the rule pack fact names and ignores internal recipients', () => {
    const ind = indicatorsOf([alert('inbox-rule-external-forward', { inboxRuleName: 'x', inboxRuleExternalRecipients: ['drop@evil.example'], inboxRuleRecipients: ['drop@evil.example', 'boss@contoso.com'], userId: 'u@contoso.com' })]);
    expect([...ind.ruleNames]).toEqual(['x']);
    expect([...ind.addresses]).toEqual(['drop@evil.example']);
  });

  it('takes forwarding destinations from mailbox-forwarding evidence', () => {
    const ind = indicatorsOf([alert('mailbox-forwarding-external', { targets: [{ raw: 'Drop Contact', address: 'drop@evil.example', recipientType: 'MailContact' }] })]);
    expect([...ind.addresses]).toEqual(['drop@evil.example']);
    expect(ind.ruleNames.size).toBe(0);
  });

  it('stays bounded on huge and deeply nested attacker-controlled facts', () => {
    let deep: Record<string, unknown> = { ruleName: 'deep' };
    for (let i = 0; i < 1000; i++) deep = { x: deep };
    const ind = indicatorsOf([alert('inbox-rule-hide', { ruleName: 'x'.repeat(100_000), nested: deep, recipients: Array.from({ length: 10_000 }, (_, i) => `a${i}@e.example`) })]);
    expect(ind.ruleNames.has('deep')).toBe(false);
    expect(ind.addresses.size).toBeLessThanOrEqual(500);
  });
  it('takes consent apps only from illicit-consent alerts and marks admin consent per application', () => {
    const user = alert('illicit-consent', { consentAppId: 'SP-1', consentIsAdmin: false }, 'SP-1');
    const admin = alert('illicit-consent', { consentAppId: 'sp-2', consentIsAdmin: true }, 'sp-2');
    const signin = alert('signin-anomaly', { appId: '4765445b-32c6-49b0-83e6-1d93765276ca' });
    const ind = indicatorsOf([user, admin, signin]);
    expect([...ind.appIds].sort()).toEqual(['sp-1', 'sp-2']);
    expect([...ind.adminConsentAppIds]).toEqual(['sp-2']);
    expect([...indicatorsOf([alert('illicit-consent', { consentType: 'AllPrincipals', clientId: 'sp-3' })]).adminConsentAppIds]).toEqual(['sp-3']);
  });
});
