import { describe, expect, it } from 'vitest';
import { bareIp, checkExclusion, destinationsOf, ipInRanges, matchExclusion, suppressionFor } from './exclusions.ts';
import type { Detection } from '../model.ts';

const d = (over: Partial<Detection> = {}): Detection => ({
  recordId: 'r1',
  ruleId: 'inbox-rule-external-forward',
  behaviour: 'inbox-rule-external-forward',
  severity: 'high',
  tenantId: 't',
  userId: 'Jane@Contoso.com',
  summary: 's',
  attempt: false,
  occurredAt: '2026-11-20T10:00:00.000Z',
  target: 'x@evil.example',
  ...over,
});

describe('exclusions', () => {
  it('reads client IPs in every form the audit log uses', () => {
    expect(bareIp('1.2.3.4')).toBe('1.2.3.4');
    expect(bareIp('1.2.3.4:5678')).toBe('1.2.3.4');
    expect(bareIp('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(bareIp('2001:db8::1')).toBe('2001:db8::1');
    expect(bareIp('not an ip')).toBeUndefined();
    expect(bareIp('9'.repeat(100_000))).toBeUndefined();
  });

  it('matches IPv4 and IPv6 ranges and single addresses', () => {
    expect(ipInRanges('10.1.2.3:1', ['10.0.0.0/8'])).toBe(true);
    expect(ipInRanges('11.1.2.3', ['10.0.0.0/8'])).toBe(false);
    expect(ipInRanges('2001:db8::5', ['2001:db8::/32'])).toBe(true);
    expect(ipInRanges('192.0.2.7', ['192.0.2.7'])).toBe(true);
    expect(ipInRanges('192.0.2.7', ['garbage/99'])).toBe(false);
  });

  it('compares a *@domain destination exactly, never as a suffix', () => {
    const x = [{ destination: '*@partner.example', reason: 'r' }];
    expect(matchExclusion(d({ target: 'a@partner.example' }), x, '2026-11-20T00:00:00.000Z')).toBeDefined();
    expect(matchExclusion(d({ target: 'a@evilpartner.example' }), x, '2026-11-20T00:00:00.000Z')).toBeUndefined();
    expect(matchExclusion(d({ target: 'a@partner.example.attacker.net' }), x, '2026-11-20T00:00:00.000Z')).toBeUndefined();
  });

  it('collects destinations from the target and address-like facts, with smtp: prefixes removed', () => {
    expect(destinationsOf(d({ target: 'rule', facts: { forwardTo: ['SMTP:A@X.example; b@y.example'], other: 'c@z.example' } }))).toEqual(['a@x.example', 'b@y.example']);
  });

  it('matches users case-insensitively, ignores expired exclusions and needs every given field', () => {
    const now = '2026-11-20T00:00:00.000Z';
    expect(matchExclusion(d(), [{ user: 'jane@contoso.com', reason: 'r' }], now)).toBeDefined();
    expect(matchExclusion(d(), [{ user: 'jane@contoso.com', reason: 'r', expiresAt: '2026-11-19T00:00:00.000Z' }], now)).toBeUndefined();
    expect(matchExclusion(d(), [{ user: 'jane@contoso.com', behaviour: 'illicit-consent', reason: 'r' }], now)).toBeUndefined();
    expect(suppressionFor(d({ clientIp: '203.0.113.5:1' }), { trustedIps: ['203.0.113.0/24'] }, [], now)).toEqual({ reason: 'trusted IP 203.0.113.5' });
  });

  it('lists every problem of an exclusion before storing it', () => {
    expect(checkExclusion({ reason: '', ipRange: '1.2.3.4/40', destination: 'nope', expiresAt: 'tomorrow' }, '2026-11-20T00:00:00.000Z')).toEqual([
      'reason: required',
      'ipRange: not an IP address or CIDR range: 1.2.3.4/40',
      'destination: expected an address or *@domain',
      'expiresAt: expected ISO-8601 UTC, e.g. 2026-12-31T00:00:00.000Z',
    ]);
  });
});
