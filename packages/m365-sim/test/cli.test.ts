// The `m365-sim` program as a user runs it: a child process, its two start lines, --help, exit 2 on a
// world file with mistakes, and a clean stop on SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { APP_ID, CONTOSO, SECRET } from './helpers.ts';

const BIN = resolve(import.meta.dirname, '../bin/m365-sim.js');

async function startLines(child: ReturnType<typeof spawn>): Promise<string[]> {
  return new Promise<string[]>((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error('no start lines')), 30_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      const l = out.split('\n');
      if (l.length >= 3) {
        clearTimeout(timer);
        res(l.slice(0, 2));
      }
    });
  });
}

describe('m365-sim CLI', () => {
  it('serves plain HTTP with --http and says so on the CA line', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--http'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines = await startLines(child);
      expect(lines[1]).toBe('m365-sim ca none');
      const url = /^m365-sim listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0]!)![1]!;
      const res = await request(`${url}/${CONTOSO}/v2.0/.well-known/openid-configuration`);
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { token_endpoint: string }).token_endpoint).toBe(`${url}/${CONTOSO}/oauth2/v2.0/token`);
    } finally {
      const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exit).toBe(0);
    }
  });

  it('documents the world file and the control API in --help', () => {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    for (const s of ['--world', '--latency', '--http', '--seed', 'clientId', 'generate:', '/_sim/tenants/{id}/records', '/_sim/faults', '/_sim/requests', 'dropConnection']) expect(r.stdout).toContain(s);
  });

  it('lists every mistake of a world file and exits with status 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'm365-sim-cli-'));
    const file = join(dir, 'world.yaml');
    writeFileSync(file, 'app: { clientId: nope }\npartner: { tenantId: 9a9a9a9a-0000-4000-8000-000000000001, domain: msp.example }\ntenants:\n  - { id: x, name: A, domains: [a.example] }\n');
    const r = spawnSync(process.execPath, [BIN, 'serve', '--world', file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('app.clientId');
    expect(r.stderr).toContain('tenants.0.id');
    expect(r.stdout).toBe('');
  });

  it('prints the URL and CA lines, serves HTTPS that trusts only its CA, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--world', 'demo', '--latency', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines = await new Promise<string[]>((res, rej) => {
        let out = '';
        const timer = setTimeout(() => rej(new Error('no start lines')), 30_000);
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (d: string) => {
          out += d;
          const l = out.split('\n');
          if (l.length >= 3) {
            clearTimeout(timer);
            res(l.slice(0, 2));
          }
        });
      });
      const url = /^m365-sim listening on (https:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0]!)![1]!;
      const caPath = /^m365-sim ca (\S+)$/.exec(lines[1]!)![1]!;
      const ca = readFileSync(caPath, 'utf8');
      const agent = new Agent({ connect: { ca } });
      const res = await request(`${url}/${CONTOSO}/oauth2/v2.0/token`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: APP_ID, client_secret: SECRET, grant_type: 'client_credentials', scope: 'https://manage.office.com/.default' }).toString(),
      });
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { access_token: string }).access_token).toMatch(/^ey/);
      await agent.close();
      await expect(request(`${url}/_sim/health`)).rejects.toThrow();
    } finally {
      const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    }
  });
});
