// JSON from Microsoft, parsed without losing digits: Exchange's RuleIdentity is an unsigned 64-bit number above 2^53,
// which JSON.parse silently rounds (m365-api.md §5.2). Integers that do not fit a double stay decimal strings.
// https://learn.microsoft.com/powershell/module/exchangepowershell/get-inboxrule
import { isInteger, isSafeNumber, parse } from 'lossless-json';

function parseNumber(value: string): number | string {
  if (isInteger(value) && !isSafeNumber(value)) return value;
  // Non-integers: a double is what Microsoft means (and what every other client reads).
  return Number(value);
}

/** Parses JSON; unsafe integers become decimal strings. Throws SyntaxError on malformed text. */
export function parseJsonLossless(text: string): unknown {
  return parse(text, null, parseNumber);
}

/** The same, but returns undefined instead of throwing (for error bodies that may be HTML or empty). */
export function tryParseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return parseJsonLossless(text);
  } catch {
    return undefined;
  }
}
