// `tenantwatch demo` as a user runs it: the four first lines, an alert and its notification from the
// played attack, and Ctrl-C stopping everything (simulator included) with exit code 0.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { request } from 'undici';

const BIN = path.resolve('bin/tenantwatch.js');

function lines(stream: NodeJS.ReadableStream): { all: string[]; waitFor(re: RegExp, ms: number): Promise<string> } {
  const all: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      all.push(l);
      for (const w of [...waiters]) if (w.re.test(l)) w.resolve(l);
    }
  });
  return {
    all,
    waitFor: (re, ms) =>
      new Promise((resolve, reject) => {
        const hit = all.find((l) => re.test(l));
        if (hit) return resolve(hit);
        const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; got:\n${all.join('\n')}`)), ms);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
      }),
  };
}

describe('tenantwatch demo', () => {
  it('prints console, user, password and simulator first, shows the attack as an alert and stops cleanly on Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'demo', '--port', '0', '--delay', '1', '--keep'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = lines(child.stdout!);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    try {
      await out.waitFor(/^simulator /, 90_000);
      expect(out.all[0]).toMatch(/^console http:\/\/127\.0\.0\.1:\d+$/);
      expect(out.all[1]).toBe('user admin');
      expect(out.all[2]).toMatch(/^password \S{16,}$/);
      expect(out.all[3]).toMatch(/^simulator https:\/\/127\.0\.0\.1:\d+$/);
      const consoleUrl = out.all[0].slice('console '.length);
      const password = out.all[2].slice('password '.length);
      await out.waitFor(/^attack played: takeover$/, 30_000);

      const login = await request(`${consoleUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
      expect(login.statusCode).toBe(200);
      const cookie = String(login.headers['set-cookie']).split(';')[0];
      await login.body.text();
      let alerts: Array<{ behaviour: string; userId: string }> = [];
      let notifications: unknown[] = [];
      // Each content type is its own poll job: the sign-in alerts may come before the inbox rule's.
      const forwarded = () => alerts.some((a) => a.behaviour === 'inbox-rule-external-forward' && a.userId === 'jane@contoso.com');
      for (let i = 0; i < 60 && (!forwarded() || notifications.length === 0); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        alerts = ((await (await request(`${consoleUrl}/api/alerts?status=open`, { headers: { cookie } })).body.json()) as { items: typeof alerts }).items;
        notifications = ((await (await request(`${consoleUrl}/api/notifications`, { headers: { cookie } })).body.json()) as { items: unknown[] }).items;
      }
      expect(forwarded()).toBe(true);
      expect(notifications.length).toBeGreaterThan(0);

      const simUrl = out.all[3].slice('simulator '.length);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(0);
      const kept = out.all.find((l) => l.startsWith('demo stopped; data kept in '))!;
      const dir = kept.slice('demo stopped; data kept in '.length);
      expect(existsSync(path.join(dir, 'tenantwatch.db'))).toBe(true);
      rmSync(dir, { recursive: true, force: true });
      // The simulator went with it.
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(Number(new URL(simUrl).port), '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(false)));
        s.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);
      await expect(request(`${consoleUrl}/healthz`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (stderr) console.error(stderr.slice(0, 2000));
    }
  }, 180_000);
});
