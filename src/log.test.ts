import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.ts';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('logging', () => {
  it('never writes secrets, tokens, passwords or Authorization headers', () => {
    const out = capture();
    const log = createLogger({ level: 'debug', destination: out.stream as never });
    const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4eHh4eHh4eCJ9.c2lnbmF0dXJlc2lnbmF0dXJl';
    log.info({ clientSecret: 'cs-AAAA1111', config: { microsoft: { clientSecret: 'nested-secret-2222' } } }, 'loaded');
    log.info({ req: { headers: { authorization: `Bearer ${jwt}` } } }, 'request');
    log.info({ password: 'P@ssw0rd-new!', newPassword: 'Another-Pass-3333' }, 'reset');
    log.warn(`token endpoint said no for client_secret=abc123def456 and Bearer ${jwt}`);
    log.error({ err: new Error(`failed with Authorization: Bearer ${jwt}`), url: 'postgres://tw:hunter2@db/tw' }, 'boom');
    const text = out.text();
    for (const s of ['cs-AAAA1111', 'nested-secret-2222', jwt, 'P@ssw0rd-new!', 'Another-Pass-3333', 'abc123def456', 'hunter2']) {
      expect(text).not.toContain(s);
    }
    expect(text).toContain('[redacted]');
    expect(text.split('\n').filter(Boolean)).toHaveLength(5);
  });
});
