import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { TenantContext } from '../../model.ts';
import { externality, externalRecipients, isAcceptedDomain, parseRecipients, parseSmtp } from './addresses.ts';

const ctx: TenantContext = {
  tenantId: 't',
  name: 'Contoso',
  acceptedDomains: [
    { domain: 'contoso.com', matchSubdomains: false },
    { domain: 'contoso.co.uk', matchSubdomains: true },
  ],
  recipients: [
    { identity: 'Partner Billing', address: 'billing@partner.example', type: 'MailContact' },
    { identity: 'Shared Finance', address: 'finance@contoso.com', type: 'SharedMailbox' },
  ],
  trustedIps: [],
  exclusions: [],
  known: true,
};
const unknown: TenantContext = { ...ctx, acceptedDomains: [], known: false };

const ext = (v: string, c: TenantContext = ctx) => parseRecipients(v, c).map((r) => externality(r, c));

describe('parseRecipients', () => {
  it('splits ; lists and strips smtp:/SMTP: prefixes', () => {
    expect(parseRecipients('a@contoso.com;SMTP:B@Example.NET; smtp:c@x.org').map((r) => r.address)).toEqual(['a@contoso.com', 'b@example.net', 'c@x.org']);
  });

  it('reads display forms with brackets and angle brackets', () => {
    expect(parseRecipients('"Drop" [SMTP:drop@mail.example.net]')[0].address).toBe('drop@mail.example.net');
    expect(parseRecipients('Drop Box <drop@mail.example.net>')[0].address).toBe('drop@mail.example.net');
  });

  it('treats legacy Exchange DNs as internal', () => {
    const r = parseRecipients('"Bob" [EX:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=abc-bob]', ctx);
    expect(r[0].kind).toBe('legacyDn');
    expect(externality(r[0], ctx)).toBe('internal');
  });

  it('resolves display names through the tenant recipients (a mail contact points outside)', () => {
    const [r] = parseRecipients('Partner Billing', ctx);
    expect(r).toMatchObject({ address: 'billing@partner.example', recipientType: 'MailContact', resolvedFrom: 'Partner Billing' });
    expect(externality(r, ctx)).toBe('external');
    expect(ext('shared finance')).toEqual(['internal']);
  });

  it('leaves unresolvable names unknown', () => {
    expect(ext('Mystery Person')).toEqual(['unknown']);
  });

  it('splits comma lists only when every part is an address', () => {
    expect(parseRecipients('a@x.org,b@y.org').length).toBe(2);
    expect(parseRecipients('Doe, John').length).toBe(1);
  });

  it('bounds work on huge values', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `u${i}@x.org`).join(';');
    expect(parseRecipients(many).length).toBeLessThanOrEqual(64);
    expect(parseRecipients('x'.repeat(2_000_000)).length).toBe(1);
  });

  it('rejects things that are not addresses', () => {
    expect(parseSmtp('no at sign')).toBeUndefined();
    expect(parseSmtp('a@b c.com')).toBeUndefined();
    expect(parseSmtp('@x.org')).toBeUndefined();
    expect(parseSmtp('a@exämple.com')?.domain).toBe('xn--exmple-cua.com');
  });
});

describe('external-ness', () => {
  it('compares domains exactly and case-insensitively', () => {
    expect(ext('BOB@CONTOSO.COM')).toEqual(['internal']);
    expect(ext('bob@contoso.com.')).toEqual(['internal']);
    expect(ext('bob@evilcontoso.com')).toEqual(['external']);
    expect(ext('bob@contoso.com.attacker.net')).toEqual(['external']);
    expect(ext('bob@mail.contoso.com')).toEqual(['external']);
  });

  it('accepts subdomains only where the accepted domain says matchSubdomains', () => {
    expect(ext('a@paris.contoso.co.uk')).toEqual(['internal']);
    expect(ext('a@deep.paris.contoso.co.uk')).toEqual(['internal']);
    expect(ext('a@xcontoso.co.uk')).toEqual(['external']);
    expect(isAcceptedDomain('contoso.co.uk', ctx)).toBe(true);
  });

  it('says unknown when the tenant context is unknown, never guessing from the user', () => {
    expect(ext('drop@mail.example.net', unknown)).toEqual(['unknown']);
    expect(externalRecipients(parseRecipients('drop@mail.example.net'), unknown)).toEqual([]);
  });

  it('never calls an address in an accepted domain external (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 2, maxLength: 4 }), fc.stringMatching(/^[a-z0-9._+-]{1,20}$/), fc.boolean(), fc.boolean(), (labels, local, upper, sub) => {
        const domain = labels.join('.');
        const c: TenantContext = { ...ctx, acceptedDomains: [{ domain, matchSubdomains: sub }] };
        const addr = `${local}@${sub ? 'x.' : ''}${domain}`;
        const rs = parseRecipients(upper ? addr.toUpperCase() : addr, c);
        for (const r of rs) expect(externality(r, c)).not.toBe('external');
      }),
      { numRuns: 300 },
    );
  });

  it('never calls a look-alike suffix or prefix domain internal (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9]{1,10}$/), fc.stringMatching(/^[a-z]{2,8}$/), (junk, tld) => {
        for (const d of [`${junk}contoso.com`, `contoso.com.${junk}.${tld}`]) {
          const [r] = parseRecipients(`x@${d}`, ctx);
          expect(externality(r, ctx)).toBe('external');
        }
      }),
      { numRuns: 300 },
    );
  });
});
