import { describe, expect, it } from 'vitest';
import { checkLinkCsrf, linkCsrfToken, signRemediationLink, verifyRemediationLink } from './links.ts';

const config = { remediate: { linkSecret: 'k'.repeat(40), linkTtlHours: 24 }, web: { publicUrl: 'https://tw.example' } };
const other = { remediate: { linkSecret: 'z'.repeat(40), linkTtlHours: 24 } };
const t0 = new Date('2026-03-04T10:00:00.000Z');

describe('signed remediation links', () => {
  it('round-trips the alert and the steps, in catalogue order, with a public URL', () => {
    const l = signRemediationLink(config, { alertId: 'al_1', steps: ['clear-forwarding', 'block-sign-in'] }, { now: t0 });
    expect(l.url).toBe(`https://tw.example/remediate/${l.token}`);
    expect(l.expiresAt).toBe('2026-03-05T10:00:00.000Z');
    const v = verifyRemediationLink(config, l.token, { now: new Date(t0.getTime() + 3600_000) });
    expect(v).toMatchObject({ ok: true, claims: { alertId: 'al_1', steps: ['block-sign-in', 'clear-forwarding'], nonce: l.nonce } });
  });

  it('refuses a link after its lifetime', () => {
    const l = signRemediationLink(config, { alertId: 'al_1', steps: ['block-sign-in'] }, { now: t0, ttlHours: 1 });
    expect(verifyRemediationLink(config, l.token, { now: new Date(t0.getTime() + 3600_000) })).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a link whose payload or signature was changed', () => {
    const l = signRemediationLink(config, { alertId: 'al_1', steps: ['block-sign-in'] }, { now: t0 });
    const [v, body, sig] = l.token.split('.');
    const forged = Buffer.from(Buffer.from(body, 'base64url').toString().replace('al_1', 'al_2')).toString('base64url');
    expect(verifyRemediationLink(config, `${v}.${forged}.${sig}`, { now: t0 })).toEqual({ ok: false, reason: 'bad-signature' });
    const flipped = sig.slice(0, -2) + (sig.at(-2) === 'A' ? 'B' : 'A') + sig.at(-1);
    expect(verifyRemediationLink(config, `${v}.${body}.${flipped}`, { now: t0 })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a link signed with another installation key', () => {
    const l = signRemediationLink(other, { alertId: 'al_1', steps: ['block-sign-in'] }, { now: t0 });
    expect(verifyRemediationLink(config, l.token, { now: t0 })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('calls garbage, oversized and truncated tokens malformed without throwing', () => {
    for (const t of ['', 'x', 'v1..', 'v2.a.b', 'v1.a.b.c', 'v1.%%%.abc', 'v1.' + 'a'.repeat(5000) + '.b']) {
      expect(verifyRemediationLink(config, t, { now: t0 })).toEqual({ ok: false, reason: expect.stringMatching(/malformed|bad-signature/) });
    }
  });

  it('binds the confirmation CSRF token to the link nonce and the browser cookie', () => {
    const tok = linkCsrfToken(config, 'nonce-1', 'cookie-1');
    expect(checkLinkCsrf(config, 'nonce-1', 'cookie-1', tok)).toBe(true);
    expect(checkLinkCsrf(config, 'nonce-2', 'cookie-1', tok)).toBe(false);
    expect(checkLinkCsrf(config, 'nonce-1', 'cookie-2', tok)).toBe(false);
    expect(checkLinkCsrf(config, 'nonce-1', undefined, tok)).toBe(false);
    expect(checkLinkCsrf(config, 'nonce-1', 'cookie-1', undefined)).toBe(false);
  });

  it('refuses to sign without a configured secret', () => {
    expect(() => signRemediationLink({ remediate: { linkTtlHours: 24 } }, { alertId: 'a', steps: ['block-sign-in'] })).toThrow(/linkSecret/);
  });
});
