import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { contextFromDomains, parseTenantContextFile } from './context-file.ts';

describe('parseTenantContextFile', () => {
  it('reads the contracts §3 example shape', () => {
    const { tenants, problems } = parseTenantContextFile(`
tenants:
  - id: 2F6C1A7E-0C1D-4C55-9A53-0D2F0A1B9C11
    name: Contoso Ltd
    acceptedDomains:
      - Contoso.com
      - contoso.onmicrosoft.com
      - { domain: contoso.co.uk, matchSubdomains: true }
    recipients:
      - { identity: "Partner Billing", address: billing@partner.example, type: MailContact }
    trustedIps: [203.0.113.0/24, 2001:db8::/32]
    exclusions:
      - { behaviour: inbox-rule-external-forward, destination: "*@partner.example" }
`);
    expect(problems).toEqual([]);
    expect(tenants[0]).toEqual({
      tenantId: '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11',
      name: 'Contoso Ltd',
      acceptedDomains: [
        { domain: 'contoso.com', matchSubdomains: false },
        { domain: 'contoso.onmicrosoft.com', matchSubdomains: false },
        { domain: 'contoso.co.uk', matchSubdomains: true },
      ],
      recipients: [{ identity: 'Partner Billing', address: 'billing@partner.example', type: 'MailContact' }],
      trustedIps: ['203.0.113.0/24', '2001:db8::/32'],
      exclusions: [{ behaviour: 'inbox-rule-external-forward', destination: '*@partner.example' }],
      known: true,
    });
  });

  it('reads the shared fixture context', () => {
    const { tenants, problems } = parseTenantContextFile(readFileSync(new URL('../../../shared/fixtures/audit/context.yaml', import.meta.url), 'utf8'));
    expect(problems).toEqual([]);
    expect(tenants.map((t) => t.name)).toEqual(['Larkspur Architects', 'Almendra Textiles S.L.', 'Quillon Analytics']);
  });

  it('lists every problem with its path', () => {
    const { tenants, problems } = parseTenantContextFile(`
tenants:
  - id: not-a-guid
    acceptedDomains: []
    trustedIps: [300.1.1.1/8]
    exclusions: [{ behaviour: nonsense }, {}]
    surprise: 1
  - id: 2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11
    acceptedDomains: ["not a domain"]
    recipients: [{ identity: x, address: nope }]
`);
    expect(tenants).toEqual([]);
    const text = problems.join('\n');
    for (const p of ['tenants.0.id', 'tenants.0.acceptedDomains', 'tenants.0.trustedIps.0', 'tenants.0.exclusions.0.behaviour', 'tenants.0.exclusions.1', 'tenants.0', 'tenants.1.acceptedDomains.0', 'tenants.1.recipients.0.address']) {
      expect(text).toContain(p);
    }
  });

  it('reports duplicates and non-YAML', () => {
    const dup = 'tenants:\n  - {id: 2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11, acceptedDomains: [a.com]}\n  - {id: 2F6C1A7E-0C1D-4C55-9A53-0D2F0A1B9C11, acceptedDomains: [b.com]}\n';
    expect(parseTenantContextFile(dup).problems).toEqual(['tenants.1.id: tenant 2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11 is listed twice']);
    expect(parseTenantContextFile('tenants: [').problems[0]).toMatch(/^not YAML/);
  });

  it('builds an --accepted-domains context, unknown when no domain is given', () => {
    expect(contextFromDomains('t', ['A.com', '*.b.org'])).toMatchObject({ known: true, acceptedDomains: [{ domain: 'a.com', matchSubdomains: false }, { domain: 'b.org', matchSubdomains: true }] });
    expect(contextFromDomains('t', []).known).toBe(false);
  });
});
