// Exactly-once as a receiver sees it: a child process running the dispatcher is SIGKILLed at random points
// 20 times; afterwards every notification has reached the receiver, and deduplicating by the
// Idempotency-Key leaves exactly one delivery per outbox row (at-least-once + a stable key).
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { recordDetections } from '../src/alerts/record.ts';
import { verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../src/notify/channels/webhook.ts';
import type { Detection } from '../src/model.ts';

const SECRET = 'crash-test-secret-0123456789abcdef';
const CHILD = path.join(import.meta.dirname, 'notify-crash-child.ts');
const ROOT = path.join(import.meta.dirname, '..');

/** A small seeded generator, so a failing run can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function spawnChild(storeUrl: string, rxUrl: string): { child: ChildProcess; ready: Promise<void>; done: Promise<boolean> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, storeUrl, rxUrl, SECRET], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('ready')) onReady();
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<boolean>((resolve) =>
    child.on('exit', (code, signal) => {
      onReady();
      if (code !== 0 && signal !== 'SIGKILL') process.stderr.write(`child exited ${code} ${signal}: ${err.slice(0, 2000)}\n`);
      resolve(out.includes('done'));
    }),
  );
  return { child, ready, done };
}

describe.each(DIALECTS)('dispatcher crashes on %s', (dialect) => {
  let s: TestStore;
  let server: http.Server;
  let rxUrl = '';
  const received: Array<{ key: string; verified: boolean }> = [];
  beforeAll(async () => {
    s = await freshStore(dialect);
    const rand = rng(7);
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const verified = verifyWebhookSignature({ secret: SECRET, timestamp: req.headers[TIMESTAMP_HEADER] as string, signature: req.headers[SIGNATURE_HEADER] as string, body });
        received.push({ key: String(req.headers['idempotency-key']), verified });
        // Answer a little later, so kills land between "received" and "marked sent" too.
        setTimeout(() => res.writeHead(verified ? 200 : 401).end(), 5 + Math.floor(rand() * 40));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    rxUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
    await s?.dispose();
  });

  it('delivers every notification exactly once by idempotency key across 20 SIGKILLs', { timeout: 240_000 }, async () => {
    const notify = { channels: [{ name: 'hook-a' }, { name: 'hook-b' }], routes: [] };
    const detections: Detection[] = Array.from({ length: 60 }, (_, i) => ({
      recordId: `crash-${i}`,
      ruleId: 'inbox-rule-delete-all',
      behaviour: 'inbox-rule-delete-all',
      severity: 'high',
      tenantId: '33333333-0000-4000-8000-000000000003',
      userId: `user${i}@contoso.com`,
      summary: `user${i}@contoso.com created inbox rule "." that deletes all mail`,
      attempt: false,
      occurredAt: '2026-11-20T10:00:00.000Z',
      target: '.',
    }));
    await s.db.transaction().execute((trx) => recordDetections(trx, detections, { config: { alerts: { groupWindowMinutes: 60 }, notify } }));
    const expected = (await s.db.selectFrom('notify_outbox').select('id').execute()).map((r) => r.id).sort();
    expect(expected).toHaveLength(120);

    const rand = rng(2026);
    let killsWithWorkLeft = 0;
    for (let i = 0; i < 20; i++) {
      const c = spawnChild(s.url, rxUrl);
      await c.ready;
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 250)));
      c.child.kill('SIGKILL');
      const finished = await c.done;
      const left = await s.db.selectFrom('notify_outbox').select('id').where('status', '!=', 'sent').execute();
      if (!finished && left.length > 0) killsWithWorkLeft++;
    }
    // The kills interrupted real work (not a run that had already finished).
    expect(killsWithWorkLeft).toBeGreaterThanOrEqual(10);
    const last = spawnChild(s.url, rxUrl);
    expect(await last.done).toBe(true);

    const rows = await s.db.selectFrom('notify_outbox').select(['id', 'status']).execute();
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(received.every((r) => r.verified)).toBe(true);
    const uniqueKeys = [...new Set(received.map((r) => r.key))].sort();
    // Every notification arrived, and nothing else did: one logical delivery per key.
    expect(uniqueKeys).toEqual(expected);
    process.stdout.write(`[${dialect}] ${received.length} HTTP deliveries for ${expected.length} notifications (${received.length - expected.length} redeliveries deduplicated by key)\n`);
  });
});
