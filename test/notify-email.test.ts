// E-mail delivered to a real SMTP server started by the test: HTML and plain-text parts, escaping, the
// idempotency key as a header, authentication, and SMTP failures mapped to "retry?".
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailChannel, emailConfig } from '../src/notify/channels/email.ts';
import { sendNow } from '../src/notify/dispatcher.ts';
import { hostileMessage } from './fixtures/notify/hostile.ts';

interface Mail {
  from: string;
  to: string[];
  raw: string;
  user?: string;
}

function decodeQP(s: string): string {
  const bytes: number[] = [];
  const t = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '=' && /^[0-9A-F]{2}$/i.test(t.slice(i + 1, i + 3))) {
      bytes.push(parseInt(t.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(t[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The decoded body of the MIME part with this content type. */
function part(raw: string, type: string): string {
  const boundary = /boundary="?([^";\r\n]+)"?/.exec(raw)?.[1];
  if (!boundary) throw new Error('not multipart');
  for (const p of raw.split(`--${boundary}`)) {
    const [head, ...rest] = p.split(/\r?\n\r?\n/);
    if (!new RegExp(`content-type:\\s*${type}`, 'i').test(head)) continue;
    const body = rest.join('\r\n\r\n').replace(/\r?\n$/, '');
    if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) return decodeQP(body);
    if (/content-transfer-encoding:\s*base64/i.test(head)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    return body;
  }
  throw new Error(`no ${type} part`);
}

describe('e-mail channel', () => {
  const mails: Mail[] = [];
  let server: SMTPServer;
  let port = 0;
  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: false,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === 'tw' && auth.password === 'smtp-pass-1') return cb(null, { user: 'tw' });
        return cb(new Error('Invalid username or password'));
      },
      onRcptTo(address, _session, cb) {
        if (address.address.endsWith('@refused.example')) return cb(Object.assign(new Error('no such user'), { responseCode: 550 }));
        cb();
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8'), user: session.user as string | undefined });
          cb();
        });
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  const cfg = (over: Record<string, unknown> = {}) =>
    emailConfig.parse({ name: 'mail', type: 'email', host: '127.0.0.1', port, security: 'none', user: 'tw', password: 'smtp-pass-1', from: 'tenantwatch@msp.example', to: ['soc@msp.example'], timeoutMs: 5000, ...over });

  it('delivers an HTML part and a plain-text part, with attacker text escaped in HTML', async () => {
    const ch = createEmailChannel(cfg());
    const r = await sendNow(ch, hostileMessage);
    await ch.close?.();
    expect(r.ok).toBe(true);
    expect(mails).toHaveLength(1);
    const m = mails[0];
    expect(m.user).toBe('tw');
    expect(m.from).toBe('tenantwatch@msp.example');
    expect(m.to).toEqual(['soc@msp.example']);
    expect(m.raw).toMatch(/^X-Tenantwatch-Idempotency-Key: al_0000000001\.created\.ops\r?$/m);
    expect(m.raw).toMatch(/^Message-ID: <al_0000000001\.created\.ops@msp\.example>\r?$/im);
    const html = part(m.raw, 'text/html');
    const text = part(m.raw, 'text/plain');
    expect(html).toContain('created inbox rule &quot;&lt;img src=x onerror=alert(1)&gt;&quot;');
    expect(html).not.toContain('<img');
    expect(html).toContain('<a href="https://tenantwatch.example.com/remediate/eyJhbGVydCI6ImFsXzEifQ.c2ln?x=1&amp;y=&quot;2&quot;">Secure and Remediate</a>');
    expect(text).toContain('created inbox rule "<img src=x onerror=alert(1)>" that forwards all mail to x@evil.example');
    expect(text).toContain('Secure and Remediate: https://tenantwatch.example.com/remediate/');
    expect(text).toContain('From: 198.51.100.7 (Amsterdam, Netherlands) AS64500 Example <Hosting> & Co; new IP for this user, new country for this user');
  });

  it('answers retry: false for a refused recipient and never puts the password in the error', async () => {
    const ch = createEmailChannel(cfg({ to: ['nobody@refused.example'] }));
    const r = await sendNow(ch, hostileMessage);
    await ch.close?.();
    expect(r).toMatchObject({ ok: false, retry: false });
    expect(JSON.stringify(r)).not.toContain('smtp-pass-1');
  });

  it('answers retry: false when authentication is refused, retry: true when the server is unreachable', async () => {
    const bad = createEmailChannel(cfg({ password: 'wrong-password' }));
    const r1 = await sendNow(bad, hostileMessage);
    await bad.close?.();
    expect(r1).toMatchObject({ ok: false, retry: false });
    expect(JSON.stringify(r1)).not.toContain('wrong-password');
    const gone = createEmailChannel(cfg({ port: 1, timeoutMs: 2000 }));
    const r2 = await sendNow(gone, hostileMessage);
    await gone.close?.();
    expect(r2).toMatchObject({ ok: false, retry: true });
  });
});
