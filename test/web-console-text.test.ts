// The console's rendering of attacker-controlled text: inert (bidi overrides and controls made visible),
// truncated, and never a link unless it is our own origin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inert, safeHref, truncate } from '../console/src/text.tsx';

describe('console text helpers', () => {
  const g = globalThis as unknown as { window?: unknown };
  beforeAll(() => {
    g.window = { location: { origin: 'https://tw.example' } };
  });
  afterAll(() => {
    delete g.window;
  });

  it('makes bidirectional overrides and control characters visible instead of active', () => {
    expect(inert('invoice\u202Efdp.exe')).toBe('invoice[U+202E]fdp.exe');
    expect(inert('a\u2066b\u2069c\u200Fd')).toBe('a[U+2066]b[U+2069]c[U+200F]d');
    expect(inert('bell\u0007')).toBe('bell\\x07');
    expect(inert('<img src=x onerror=alert(1)>')).toBe('<img src=x onerror=alert(1)>');
  });

  it('truncates a 100 kB string and says how much was cut', () => {
    const huge = 'A'.repeat(100_000);
    const t = truncate(inert(huge), 300);
    expect(t.text).toHaveLength(300);
    expect(t.cut).toBe(99_700);
  });

  it('turns only same-origin http(s) URLs into links', () => {
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(safeHref(' JaVaScRiPt:alert(1)')).toBeUndefined();
    expect(safeHref('data:text/html,<script>alert(1)</script>')).toBeUndefined();
    expect(safeHref('https://evil.example/x')).toBeUndefined();
    expect(safeHref('//evil.example/x')).toBeUndefined();
    expect(safeHref('https://tw.example/remediate/abc?sig=1')).toBe('/remediate/abc?sig=1');
    expect(safeHref('/alerts/a1')).toBe('/alerts/a1');
  });
});
