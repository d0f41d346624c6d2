// Teams and Slack channels against a real local HTTP receiver, the memory channel, the example
// configuration, and `tenantwatch channels test` end to end.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannels, checkChannels } from '../src/notify/channels/index.ts';
import { renderTeams } from '../src/notify/channels/teams.ts';
import { renderSlack } from '../src/notify/channels/slack.ts';
import { memoryInbox, type MemoryChannel } from '../src/notify/channels/memory.ts';
import { sendNow } from '../src/notify/dispatcher.ts';
import { EXAMPLE_CONFIG } from '../src/config.ts';
import { verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../src/notify/channels/webhook.ts';
import { hostileMessage } from './fixtures/notify/hostile.ts';

const run = promisify(execFile);
const ROOT = path.join(import.meta.dirname, '..');
const SECRET = 'cli-test-secret-0123456789';

describe('HTTP channels', () => {
  const got: Array<{ path: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  let server: http.Server;
  let url = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        got.push({ path: req.url ?? '', headers: req.headers, body });
        if (req.url?.startsWith('/hook')) {
          const ok = verifyWebhookSignature({ secret: SECRET, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string, body });
          return res.writeHead(ok ? 200 : 401).end(ok ? 'ok' : 'bad signature');
        }
        res.writeHead(req.url === '/teams' ? 202 : 200).end('1');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('posts the Adaptive Card to Teams and the Block Kit message to Slack with the idempotency key', async () => {
    const chans = createChannels({ channels: [{ name: 't', type: 'teams', webhookUrl: `${url}/teams` }, { name: 's', type: 'slack', webhookUrl: `${url}/slack` }], routes: [] });
    expect(await sendNow(chans.get('t')!, hostileMessage)).toEqual({ ok: true, detail: 'HTTP 202' });
    expect(await sendNow(chans.get('s')!, hostileMessage)).toEqual({ ok: true, detail: 'HTTP 200' });
    const teams = got.find((g) => g.path === '/teams')!;
    const slack = got.find((g) => g.path === '/slack')!;
    expect(JSON.parse(teams.body)).toEqual(renderTeams(hostileMessage));
    expect(JSON.parse(slack.body)).toEqual(renderSlack(hostileMessage));
    expect(teams.headers['idempotency-key']).toBe(hostileMessage.key);
    expect(teams.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(slack.headers['idempotency-key']).toBe(hostileMessage.key);
  });

  it('sends a test message with `tenantwatch channels test` and prints the result', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-chan-'));
    try {
      const cfg = path.join(dir, 'tw.yaml');
      writeFileSync(
        cfg,
        YAML.stringify({
          store: { url: `sqlite:${path.join(dir, 'tw.db')}` },
          log: { level: 'silent' },
          notify: { channels: [{ name: 'hook', type: 'webhook', url: `${url}/hook`, secret: SECRET }, { name: 'wrong', type: 'webhook', url: `${url}/hook`, secret: 'not-the-receivers-secret' }] },
        }),
      );
      const bin = path.join(ROOT, 'bin', 'tenantwatch.js');
      const ok = await run(process.execPath, [bin, '--config', cfg, 'channels', 'test', 'hook'], { cwd: ROOT, timeout: 60_000 });
      expect(ok.stdout).toBe('ok hook (webhook): HTTP 200\n');
      const body = JSON.parse(got.filter((g) => g.path === '/hook').at(-1)!.body);
      expect(body).toMatchObject({ type: 'alert.test', alert: { severity: 'informational' } });
      const bad = await run(process.execPath, [bin, '--config', cfg, 'channels', 'test', 'wrong'], { cwd: ROOT, timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
      expect(bad).toMatchObject({ code: 1 });
      expect((bad as { stderr: string }).stderr).toContain('error TW_NOTIFY_SEND_FAILED: channel wrong did not accept the message: HTTP 401: bad signature');
      expect((bad as { stderr: string }).stderr).not.toContain('not-the-receivers-secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('memory channel', () => {
  it('keeps every rendering for the demo and counts what it drops', async () => {
    const chans = createChannels({ channels: [{ name: 'demo-inbox', type: 'memory', capacity: 2 }], routes: [] });
    const ch = chans.get('demo-inbox') as MemoryChannel;
    expect(memoryInbox('demo-inbox')).toBe(ch);
    ch.failNext(1);
    expect((await sendNow(ch, hostileMessage)).ok).toBe(false);
    for (let i = 0; i < 3; i++) await sendNow(ch, { ...hostileMessage, key: `k${i % 2}` });
    expect(ch.deliveries().map((d) => d.key)).toEqual(['k1', 'k0']);
    expect(ch.dropped()).toBe(1);
    const d = ch.deliveries()[0];
    expect(d.teams).toEqual(renderTeams({ ...hostileMessage, key: 'k1' }));
    expect(d.email.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('example configuration', () => {
  it('has notification channels and routes that pass validation', () => {
    const notify = (YAML.parse(EXAMPLE_CONFIG) as { notify: Parameters<typeof checkChannels>[0] }).notify;
    expect(checkChannels(notify)).toEqual([]);
  });
});
