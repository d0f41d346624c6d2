import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allErrors, errorsMarkdown, OperatorError } from './errors.ts';

describe('error table', () => {
  it('docs/errors.md lists exactly the codes in the error tables (run `npm run docs:errors` to regenerate)', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    expect(doc).toBe(errorsMarkdown());
  });

  it('every code has a message, a hint and exit code 1 or 2', () => {
    for (const [code, spec] of Object.entries(allErrors())) {
      expect(code).toMatch(/^TW_[A-Z0-9_]+$/);
      expect(spec.message.length).toBeGreaterThan(0);
      expect(spec.hint.length).toBeGreaterThan(0);
      expect([1, 2]).toContain(spec.exit);
    }
  });

  it('renders its message template and carries exit code and HTTP status', () => {
    const e = new OperatorError('TW_STORE_UNREACHABLE', { host: 'db.example:5432', reason: 'ECONNREFUSED' });
    expect(e.message).toBe('cannot connect to the store at db.example:5432: ECONNREFUSED');
    expect(e.exitCode).toBe(1);
    expect(e.httpStatus).toBe(503);
    expect(e.toJSON()).toMatchObject({ code: 'TW_STORE_UNREACHABLE' });
  });
});
