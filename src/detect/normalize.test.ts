import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { normalizeIp, normalizeRecord, normalizeTimestamp, parsePowerShellParameters, succeededFrom } from './normalize.ts';
import { LIMITS, TRUNCATION_MARK } from './record.ts';

const base = { Id: 'a1', CreationTime: '2025-03-04T10:02:41', Operation: 'New-InboxRule', OrganizationId: 'ABC-Tenant', UserId: 'jane@contoso.com' };

describe('normalizeRecord', () => {
  it('turns a zone-less CreationTime into UTC ISO with milliseconds and Z', () => {
    const r = normalizeRecord(base);
    expect(r.ok && r.record.creationTime).toBe('2025-03-04T10:02:41.000Z');
    expect(r.ok && r.record.time).toBe(Date.UTC(2025, 2, 4, 10, 2, 41));
  });

  it('accepts fractions, Z and offsets and rejects calendar nonsense', () => {
    expect(normalizeTimestamp('2026-09-12T08:30:04.0000000Z')?.iso).toBe('2026-09-12T08:30:04.000Z');
    expect(normalizeTimestamp('2025-03-04T10:02:41.5')?.iso).toBe('2025-03-04T10:02:41.500Z');
    expect(normalizeTimestamp('2025-03-04T12:02:41+02:00')?.iso).toBe('2025-03-04T10:02:41.000Z');
    expect(normalizeTimestamp('2025-02-31T00:00:00')).toBeUndefined();
    expect(normalizeTimestamp('yesterday')).toBeUndefined();
    expect(normalizeTimestamp(12345)).toBeUndefined();
  });

  it('reports records that are not objects or miss Id, CreationTime or Operation', () => {
    expect(normalizeRecord(17)).toEqual({ ok: false, reason: 'not a record (number)' });
    expect(normalizeRecord(['a'])).toMatchObject({ ok: false, reason: 'not a record (array)' });
    expect(normalizeRecord(null)).toMatchObject({ ok: false });
    expect(normalizeRecord({ ...base, Id: undefined })).toMatchObject({ ok: false, reason: 'missing Id' });
    expect(normalizeRecord({ ...base, Operation: undefined })).toMatchObject({ ok: false, id: 'a1', reason: 'missing Operation' });
    expect(normalizeRecord({ ...base, CreationTime: 'x' })).toMatchObject({ ok: false, id: 'a1' });
    expect(normalizeRecord({ ...base, Operation: { x: 1 } })).toMatchObject({ ok: false, reason: 'Operation is not a string' });
  });

  it('lower-cases the tenant id and keeps unknown RecordType values', () => {
    const r = normalizeRecord({ ...base, RecordType: 9999 });
    expect(r.ok && r.record.tenantId).toBe('abc-tenant');
    expect(r.ok && r.record.recordType).toBe(9999);
  });

  it('reads the client IP from ClientIP, ClientIPAddress or ActorIpAddress in every form', () => {
    const ip = (o: object) => {
      const r = normalizeRecord({ ...base, ...o });
      return r.ok ? r.record.clientIp : 'bad';
    };
    expect(ip({ ClientIP: '203.0.113.7' })).toBe('203.0.113.7');
    expect(ip({ ClientIP: '203.0.113.7:51514' })).toBe('203.0.113.7');
    expect(ip({ ClientIP: '[2001:db8::f134]:51514' })).toBe('2001:db8::f134');
    expect(ip({ ClientIP: '2001:DB8:E5::7' })).toBe('2001:db8:e5::7');
    expect(ip({ ClientIP: '::1' })).toBe('::1');
    expect(ip({ ClientIP: '::ffff:198.51.100.4' })).toBe('198.51.100.4');
    expect(ip({ ClientIP: '', ClientIPAddress: '198.51.100.23' })).toBe('198.51.100.23');
    expect(ip({ ActorIpAddress: '198.51.100.9' })).toBe('198.51.100.9');
    expect(ip({ ClientIP: 'not-an-ip' })).toBe('');
    expect(ip({ ClientIP: 42 })).toBe('');
    expect(normalizeIp('999.1.1.1')).toBe('');
    expect(normalizeIp('01.2.3.4')).toBe('');
  });

  it('maps every ResultStatus form to a succeeded flag', () => {
    for (const s of ['True', 'Succeeded', 'PartiallySucceeded', 'Success', '']) expect(succeededFrom(s)).toBe(true);
    for (const s of ['False', 'Failed', 'failure', ' FALSE ']) expect(succeededFrom(s)).toBe(false);
    const r = normalizeRecord({ ...base, ResultStatus: 'False' });
    expect(r.ok && r.record.succeeded).toBe(false);
    const s = normalizeRecord({ ...base, Operation: 'UserLoginFailed', ResultStatus: 'Success' });
    expect(s.ok && s.record.succeeded).toBe(false);
  });

  it('reads Parameters as a Name/Value array and as a PowerShell-style string', () => {
    const a = normalizeRecord({ ...base, Parameters: [{ Name: 'ForwardTo', Value: 'x@y.z' }, { Name: 'MarkAsRead', Value: true }, null, 5] });
    expect(a.ok && a.record.parameters).toEqual([{ name: 'ForwardTo', value: 'x@y.z' }, { name: 'MarkAsRead', value: 'true' }]);
    const b = normalizeRecord({ ...base, Parameters: '-ForwardTo "x@y.z" -Name "f"' });
    expect(b.ok && b.record.parameters).toEqual([{ name: 'ForwardTo', value: 'x@y.z' }, { name: 'Name', value: 'f' }]);
    const c = normalizeRecord({ ...base, Parameters: null });
    expect(c.ok && c.record.parameters).toEqual([]);
  });

  it('parses PowerShell parameter strings with quotes, lists, switches and $true/$false', () => {
    expect(parsePowerShellParameters(`New-InboxRule -Name 'it''s' -ForwardTo "a@b.c","d@e.f" -MarkAsRead:$true -StopProcessingRules -DeleteMessage $false -From $null`)).toEqual([
      { name: 'Name', value: "it's" },
      { name: 'ForwardTo', value: 'a@b.c;d@e.f' },
      { name: 'MarkAsRead', value: 'True' },
      { name: 'StopProcessingRules', value: 'True' },
      { name: 'DeleteMessage', value: 'False' },
      { name: 'From', value: '' },
    ]);
    expect(parsePowerShellParameters('-Name "unterminated')).toEqual([{ name: 'Name', value: 'unterminated' }]);
  });

  it('reads OperationProperties, ExtendedProperties, ModifiedProperties, Actor and Target', () => {
    const r = normalizeRecord({
      ...base,
      OperationProperties: [{ Name: 'RuleName', Value: 'Sync' }],
      ExtendedProperties: [{ Name: 'UserAgent', Value: 'x' }],
      ModifiedProperties: [{ Name: 'StrongAuthenticationRequirement', NewValue: '[]', OldValue: '[1]' }, { Name: 3 }],
      Actor: [{ ID: 'a@b.c', Type: 5 }, 'junk'],
      Target: [{ ID: 'u', Type: 2 }],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.record.operationProperties).toEqual([{ name: 'RuleName', value: 'Sync' }]);
    expect(r.record.extendedProperties).toEqual([{ name: 'UserAgent', value: 'x' }]);
    expect(r.record.modifiedProperties).toEqual([{ name: 'StrongAuthenticationRequirement', newValue: '[]', oldValue: '[1]' }]);
    expect(r.record.actor).toEqual([{ id: 'a@b.c', type: 5 }]);
    expect(r.record.target).toEqual([{ id: 'u', type: 2 }]);
  });

  it('cuts a 1 MB rule name to a bound with a marker and flags the record', () => {
    const huge = 'A'.repeat(1024 * 1024);
    const r = normalizeRecord({ ...base, Parameters: [{ Name: 'Name', Value: huge }] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = r.record.parameters[0].value;
    expect(v.length).toBe(LIMITS.maxString + TRUNCATION_MARK.length);
    expect(v.endsWith(TRUNCATION_MARK)).toBe(true);
    expect(r.record.truncated).toBe(true);
  });

  it('keeps raw JSON bounded for evidence', () => {
    const r = normalizeRecord({ ...base, Blob: 'x'.repeat(200_000) }, { keepRaw: true });
    expect(r.ok && r.record.raw!.length).toBeLessThanOrEqual(LIMITS.maxRawJson + TRUNCATION_MARK.length);
    const t = normalizeRecord(base, { rawText: '{"Id":"a1"}' });
    expect(t.ok && t.record.raw).toBe('{"Id":"a1"}');
  });

  it('serialises to the plain record shape with every list', () => {
    const r = normalizeRecord({ ...base, Parameters: [{ Name: 'A', Value: 'b' }] });
    const plain = JSON.parse(JSON.stringify(r.ok && r.record));
    expect(plain.parameters).toEqual([{ name: 'A', value: 'b' }]);
    expect(plain.operation).toBe('New-InboxRule');
    expect(plain.truncated).toBe(false);
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true }), (v) => {
        const r = normalizeRecord(v);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('Id', 'CreationTime', 'Operation', 'Parameters', 'ClientIP', 'ModifiedProperties', 'Actor', 'ResultStatus', 'UserId'), fc.anything()), (v) => {
        const r = normalizeRecord({ ...base, ...v });
        if (r.ok) {
          void r.record.parameters;
          void r.record.truncated;
          JSON.stringify(r.record);
        }
      }),
      { numRuns: 500 },
    );
  });
});
