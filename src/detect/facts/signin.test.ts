import { describe, expect, it } from 'vitest';
import type { GeoInfo, TenantContext } from '../../model.ts';
import { createMemoryHistory } from '../history.ts';
import { normalizeRecord } from '../normalize.ts';
import type { NormalizedRecord } from '../record.ts';
import { ipInRanges, isReservedIp, parseCidr } from './ip.ts';
import { knownCountries, recordDestinations, recordSignin, sharedDestinationUsers, signinFacts, type GeoLookup } from './signin.ts';

const ctx: TenantContext = { tenantId: 't', name: 'c', acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }], recipients: [], trustedIps: ['192.0.2.0/24'], exclusions: [], known: true };
const table: Record<string, Partial<GeoInfo>> = {
  '90.24.113.8': { country: 'FR', asn: 3215 },
  '105.112.44.61': { country: 'NG', asn: 36873 },
  '51.75.160.44': { country: 'FR', asn: 16276, hosting: true },
};
const geo: GeoLookup = { lookup: (ip) => (table[ip] ? { ip, ...table[ip] } : undefined) };
let n = 0;
function rec(o: Record<string, unknown>): NormalizedRecord {
  const r = normalizeRecord({ Id: `x${n++}`, CreationTime: '2026-01-01T00:00:00', OrganizationId: 't', UserId: 'jane@contoso.com', Operation: 'UserLoggedIn', ...o });
  if (!r.ok) throw new Error(r.reason);
  return r.record;
}

describe('sign-in facts', () => {
  it('has no novelty without history (the first sign-in builds the baseline)', () => {
    const f = signinFacts(rec({ ClientIP: '105.112.44.61' }), ctx, createMemoryHistory(), geo);
    expect(f).toMatchObject({ country: 'NG', historyCount: 0, newCountry: false, newAsn: false, ipSeenBefore: false });
  });

  it('sees a new country and ASN against the user history', () => {
    const h = createMemoryHistory();
    const first = rec({ ClientIP: '90.24.113.8' });
    recordSignin(first, signinFacts(first, ctx, h, geo), h);
    const f = signinFacts(rec({ ClientIP: '105.112.44.61' }), ctx, h, geo);
    expect(f).toMatchObject({ historyCount: 1, newCountry: true, newAsn: true, ipSeenBefore: false });
    expect(knownCountries(f)).toEqual(['FR']);
    const again = signinFacts(rec({ ClientIP: '90.24.113.8' }), ctx, h, geo);
    expect(again).toMatchObject({ newCountry: false, newAsn: false, ipSeenBefore: true, asnSeenBefore: true });
  });

  it('keeps users apart and flags hosting and trusted ranges', () => {
    const h = createMemoryHistory();
    const bob = rec({ UserId: 'bob@contoso.com', ClientIP: '90.24.113.8' });
    recordSignin(bob, signinFacts(bob, ctx, h, geo), h);
    expect(signinFacts(rec({ ClientIP: '51.75.160.44' }), ctx, h, geo)).toMatchObject({ historyCount: 0, hosting: true });
    expect(signinFacts(rec({ ClientIP: '192.0.2.77' }), ctx, h, geo).trusted).toBe(true);
  });

  it('bounds the stored IPs per user', () => {
    const h = createMemoryHistory();
    for (let i = 0; i < 200; i++) {
      const r = rec({ ClientIP: `81.0.${i}.1`, CreationTime: `2026-01-01T00:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}` });
      recordSignin(r, signinFacts(r, ctx, h, geo), h);
    }
    const state = h.get('t', 'signin:jane@contoso.com') as { n: number; i: Record<string, number> };
    expect(state.n).toBe(200);
    expect(Object.keys(state.i).length).toBeLessThanOrEqual(64);
  });
});

describe('shared destinations', () => {
  it('finds other users (also in other tenants) forwarding to the same address within 7 days', () => {
    const h = createMemoryHistory();
    recordDestinations(rec({ UserId: 'pablo@contoso.com', CreationTime: '2026-01-01T00:00:00' }), ['drop@x.org'], h);
    recordDestinations(rec({ UserId: 'eve@other.org', OrganizationId: 'u', CreationTime: '2026-01-02T00:00:00' }), ['drop@x.org'], h);
    expect(sharedDestinationUsers(rec({ CreationTime: '2026-01-03T00:00:00' }), ['drop@x.org'], h)).toEqual(['pablo@contoso.com', 'eve@other.org (tenant u)']);
    expect(sharedDestinationUsers(rec({ CreationTime: '2026-01-20T00:00:00' }), ['drop@x.org'], h)).toEqual([]);
    expect(sharedDestinationUsers(rec({ UserId: 'pablo@contoso.com', CreationTime: '2026-01-01T01:00:00' }), ['drop@x.org'], h)).toEqual(['eve@other.org (tenant u)']);
  });
});

describe('IP ranges', () => {
  it('matches IPv4 and IPv6 CIDR ranges and ignores bad ones', () => {
    expect(ipInRanges('203.0.113.9', ['203.0.113.0/24'])).toBe(true);
    expect(ipInRanges('203.0.114.9', ['203.0.113.0/24', 'garbage', '1.2.3.4/99'])).toBe(false);
    expect(ipInRanges('2001:db8::5', ['2001:db8::/32'])).toBe(true);
    expect(ipInRanges('2001:db9::5', ['2001:db8::/32'])).toBe(false);
    expect(parseCidr('10.1.2.3/8')?.bits).toBe(8);
  });

  it('knows private, documentation and loopback addresses', () => {
    for (const ip of ['10.0.0.1', '192.168.1.1', '203.0.113.5', '198.51.100.1', '127.0.0.1', '::1', '2001:db8::1', 'fe80::1']) expect(isReservedIp(ip)).toBe(true);
    for (const ip of ['90.24.113.8', '2a01:cb00::1']) expect(isReservedIp(ip)).toBe(false);
  });
});
