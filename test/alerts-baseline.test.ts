// The per-user sign-in baseline on every dialect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { baselineVerdict, observeSignIn, observeSignInRecords, userBaseline } from '../src/enrich/baseline.ts';

const T = '44444444-0000-4000-8000-000000000004';

describe.each(DIALECTS)('sign-in baseline on %s', (dialect) => {
  let s: TestStore;
  beforeAll(async () => {
    s = await freshStore(dialect);
  });
  afterAll(async () => {
    await s?.dispose();
  });

  it('says "unknown" for a user without sign-ins, then what is new for the user', async () => {
    expect(await baselineVerdict(s.db, { tenantId: T, userId: 'amy@contoso.com', ip: '192.0.2.1' })).toEqual({ known: false });
    await observeSignIn(s.db, { tenantId: T, userId: 'Amy@Contoso.com', ip: '192.0.2.1', geo: { ip: '192.0.2.1', country: 'us', asn: 64496 }, at: '2026-11-01T08:00:00.000Z' });
    await observeSignIn(s.db, { tenantId: T, userId: 'amy@contoso.com', ip: '192.0.2.1', geo: { ip: '192.0.2.1', country: 'US', asn: 64496 }, at: '2026-11-02T08:00:00.000Z' });
    expect(await baselineVerdict(s.db, { tenantId: T, userId: 'amy@contoso.com', ip: '192.0.2.1', geo: { ip: '192.0.2.1', country: 'US', asn: 64496 } })).toEqual({ known: true, newIp: false, newCountry: false, newAsn: false });
    expect(await baselineVerdict(s.db, { tenantId: T, userId: 'amy@contoso.com', ip: '198.51.100.9', geo: { ip: '198.51.100.9', country: 'NG', asn: 64500 } })).toEqual({ known: true, newIp: true, newCountry: true, newAsn: true });
    // Only what was seen before the record counts.
    expect(await baselineVerdict(s.db, { tenantId: T, userId: 'amy@contoso.com', ip: '192.0.2.1', before: '2026-10-01T00:00:00.000Z' })).toEqual({ known: false });
    const b = await userBaseline(s.db, T, 'amy@contoso.com');
    expect(b.find((x) => x.kind === 'ip')).toMatchObject({ value: '192.0.2.1', count: 2, firstSeen: '2026-11-01T08:00:00.000Z', lastSeen: '2026-11-02T08:00:00.000Z' });
    expect(b.map((x) => `${x.kind}=${x.value}`).sort()).toEqual(['asn=64496', 'country=US', 'ip=192.0.2.1']);
  });

  it('learns only from successful sign-in records', async () => {
    const base = { tenantId: T, userId: 'bob@contoso.com', creationTime: '2026-11-03T08:00:00.000Z' };
    const n = await observeSignInRecords(
      s.db,
      [
        { ...base, operation: 'UserLoggedIn', succeeded: true, clientIp: '192.0.2.50' },
        { ...base, operation: 'UserLoginFailed', succeeded: false, clientIp: '198.51.100.66' },
        { ...base, operation: 'New-InboxRule', succeeded: true, clientIp: '198.51.100.67' },
      ],
      { lookup: (ip) => ({ ip, country: 'DE', asn: 3320 }) },
    );
    expect(n).toBe(1);
    expect((await userBaseline(s.db, T, 'bob@contoso.com')).map((x) => `${x.kind}=${x.value}`).sort()).toEqual(['asn=3320', 'country=DE', 'ip=192.0.2.50']);
  });
});
