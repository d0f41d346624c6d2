import { describe, expect, it } from 'vitest';
import { parseUpstreamError, retryAfterMs } from './http.ts';

describe('Microsoft error bodies', () => {
  it('reads the Management Activity API code and message', () => {
    const up = parseUpstreamError('{"error":{"code":"AF429","message":"Too many requests. Method=GetBlob, PublisherId=00000000-0000-0000-0000-000000000000"}}');
    expect(up.code).toBe('AF429');
    expect(up.message).toMatch(/^Too many requests/);
  });

  it('reads the Graph code', () => {
    const up = parseUpstreamError('{"error":{"code":"Request_ResourceNotFound","message":"Resource x does not exist.","innerError":{"date":"2025-03-04T10:40:02","request-id":"r"}}}');
    expect(up).toMatchObject({ code: 'Request_ResourceNotFound', message: 'Resource x does not exist.' });
  });

  it('splits the Exchange details[].message triplet into error id, exception type and text', () => {
    const up = parseUpstreamError(
      '{"error":{"code":"InternalServerError","message":"Error executing cmdlet","details":[{"code":"Client","target":"","message":"Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn\'t be performed because object \'x@northwind.example\' couldn\'t be found."}]}}',
    );
    expect(up.exchange).toEqual({
      errorId: 'Ex6F9304',
      exceptionType: 'Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException',
      text: "The operation couldn't be performed because object 'x@northwind.example' couldn't be found.",
    });
  });

  it('falls back to innererror.internalException for Exchange errors without details', () => {
    const up = parseUpstreamError('{"error":{"code":"InternalServerError","message":"Error executing cmdlet","innererror":{"internalException":{"message":"A parameter cannot be found"}}}}');
    expect(up.message).toBe('A parameter cannot be found');
  });

  it('takes the AADSTS code out of an identity platform error', () => {
    const up = parseUpstreamError('{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier x was not found in the directory y.","error_codes":[700016]}');
    expect(up.code).toBe('AADSTS700016');
  });

  it('bounds an HTML error page to a short message', () => {
    const up = parseUpstreamError(`<html><body>${'x'.repeat(5000)}</body></html>`);
    expect(up.code).toBeUndefined();
    expect((up.message ?? '').length).toBeLessThanOrEqual(201);
  });
});

describe('Retry-After', () => {
  it('reads seconds', () => {
    expect(retryAfterMs('2', 0)).toBe(2000);
  });
  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2025-03-04T10:00:00Z');
    expect(retryAfterMs('Tue, 04 Mar 2025 10:00:07 GMT', now)).toBe(7000);
  });
  it('ignores absent or unreadable values', () => {
    expect(retryAfterMs(undefined, 0)).toBeUndefined();
    expect(retryAfterMs('soon', 0)).toBeUndefined();
  });
});
