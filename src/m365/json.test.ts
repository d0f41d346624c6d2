import { describe, expect, it } from 'vitest';
import { parseJsonLossless, tryParseJson } from './json.ts';

describe('lossless JSON', () => {
  it('keeps a RuleIdentity above 2^53 as its exact decimal string', () => {
    const v = parseJsonLossless('{"RuleIdentity":18446744073709551615,"Priority":1}') as Record<string, unknown>;
    expect(v.RuleIdentity).toBe('18446744073709551615');
    expect(v.Priority).toBe(1);
  });

  it('keeps safe integers and fractions as numbers', () => {
    expect(parseJsonLossless('[9007199254740991, 1.5, -3]')).toEqual([9007199254740991, 1.5, -3]);
  });

  it('keeps explicit nulls', () => {
    expect(parseJsonLossless('{"ForwardingSmtpAddress":null}')).toEqual({ ForwardingSmtpAddress: null });
  });

  it('returns undefined for malformed or empty text instead of throwing', () => {
    expect(tryParseJson('{"value":[')).toBeUndefined();
    expect(tryParseJson('')).toBeUndefined();
    expect(tryParseJson('<html>502</html>')).toBeUndefined();
  });
});
