// Tenant state built from a world entry: deterministic, Microsoft-shaped identifiers, defaults.
import { describe, expect, it } from 'vitest';
import { createTenant, DEFAULT_APP_ROLES, findMailbox, graphRuleId } from './state.ts';
import type { WorldTenant } from './types.ts';

const ENTRY: WorldTenant = {
  id: '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11',
  name: 'Contoso Ltd',
  domains: ['contoso.com', 'contoso.onmicrosoft.com'],
  consented: true,
  gdap: 'active',
  auditLogEnabled: true,
  users: Array.from({ length: 12 }, (_, i) => ({ upn: `user${i}@contoso.com` })),
  acceptedDomains: [{ domain: 'contoso.com' }, { domain: 'eu.contoso.com', matchSubdomains: true }],
  inboxRules: [{ user: 'user0@contoso.com', name: 'Hidden one', hidden: true, forwardTo: ['x@evil.example'] }],
};

describe('createTenant', () => {
  it('builds the same tenant from the same entry and seed', () => {
    const a = createTenant(ENTRY, 42);
    const b = createTenant(ENTRY, 42);
    expect(a.users.map((u) => u.id)).toEqual(b.users.map((u) => u.id));
    expect([...a.mailboxes.values()].map((m) => [m.guid, m.rules.map((r) => r.ruleIdentity)])).toEqual([...b.mailboxes.values()].map((m) => [m.guid, m.rules.map((r) => r.ruleIdentity)]));
    const c = createTenant(ENTRY, 43);
    expect(c.users[0].id).not.toBe(a.users[0].id);
  });

  it('builds users and mailboxes on first use, the same whichever is read first', () => {
    const a = createTenant(ENTRY, 5);
    const b = createTenant(ENTRY, 5);
    const boxesFirst = [...b.mailboxes.values()].map((m) => m.guid);
    expect(a.users.map((u) => u.id)).toEqual(b.users.map((u) => u.id));
    expect([...a.mailboxes.values()].map((m) => m.guid)).toEqual(boxesFirst);
    a.users = [];
    expect(a.users).toEqual([]);
  });

  it('gives users GUID object ids, mailboxes GUIDs and rules RuleIdentity values above 2^53', () => {
    const t = createTenant(ENTRY, 1);
    const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const u of t.users) expect(u.id).toMatch(guid);
    for (const m of t.mailboxes.values()) {
      expect(m.guid).toMatch(guid);
      for (const r of m.rules) {
        expect(r.ruleIdentity).toMatch(/^\d+$/);
        expect(BigInt(r.ruleIdentity) > 2n ** 53n).toBe(true);
        expect(BigInt(r.ruleIdentity) < 2n ** 64n).toBe(true);
        expect(r.graphId).toBe(graphRuleId(r.ruleIdentity));
        expect(Buffer.from(r.graphId, 'base64')).toHaveLength(8);
      }
    }
  });

  it('gives every mailbox the hidden Junk E-mail Rule and some mailboxes benign rules', () => {
    const t = createTenant(ENTRY, 1);
    for (const m of t.mailboxes.values()) expect(m.rules.some((r) => r.name === 'Junk E-mail Rule' && r.hidden)).toBe(true);
    const benign = [...t.mailboxes.values()].filter((m) => m.rules.some((r) => !r.hidden));
    expect(benign.length).toBeGreaterThan(0);
    for (const m of benign) for (const r of m.rules.filter((x) => !x.hidden)) expect(r.forwardTo).toEqual([]);
  });

  it('applies world inbox rules, recipients and accepted domains with MatchSubDomains', () => {
    const t = createTenant(ENTRY, 1);
    expect(t.mailboxes.get('user0@contoso.com')!.rules.find((r) => r.name === 'Hidden one')).toMatchObject({ hidden: true, forwardTo: ['x@evil.example'] });
    expect(t.acceptedDomains).toEqual([
      { domainName: 'contoso.com', domainType: 'Authoritative', default: true, matchSubDomains: false },
      { domainName: 'eu.contoso.com', domainType: 'Authoritative', default: false, matchSubDomains: true },
    ]);
    expect(t.recipients.some((r) => r.recipientTypeDetails === 'MailContact' && r.externalEmailAddress?.startsWith('SMTP:'))).toBe(true);
  });

  it('grants every app role tenantwatch needs where consented and none where not', () => {
    expect(createTenant(ENTRY, 1).roles).toEqual([...DEFAULT_APP_ROLES]);
    expect(DEFAULT_APP_ROLES).toContain('Exchange.ManageAsApp');
    expect(DEFAULT_APP_ROLES).toContain('User-PasswordProfile.ReadWrite.All');
    expect(createTenant({ ...ENTRY, consented: false }, 1).roles).toEqual([]);
    expect(createTenant({ ...ENTRY, roles: ['User.Read.All'] }, 1).roles).toEqual(['User.Read.All']);
  });

  it('adds the initial onmicrosoft.com domain when the world gives none', () => {
    const t = createTenant({ ...ENTRY, domains: ['fabrikam.com'], name: 'Fabrikam Inc' }, 1);
    expect(t.domains).toEqual(['fabrikam.com', 'fabrikaminc.onmicrosoft.com']);
  });

  it('finds a mailbox by UPN, GUID, alias and display name', () => {
    const t = createTenant({ ...ENTRY, users: [{ upn: 'Jane.Doe@contoso.com', displayName: 'Jane Doe' }] }, 1);
    const mb = t.mailboxes.get('jane.doe@contoso.com')!;
    expect(findMailbox(t, 'JANE.DOE@contoso.com')).toBe(mb);
    expect(findMailbox(t, mb.guid)).toBe(mb);
    expect(findMailbox(t, 'jane.doe')).toBe(mb);
    expect(findMailbox(t, 'Jane Doe')).toBe(mb);
    expect(findMailbox(t, 'nobody')).toBeUndefined();
  });
});
