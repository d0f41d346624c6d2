// Scale-out figures (contracts §8, issue 11) with WORKERS `tenantwatch run --role worker` child processes
// sharing one PostgreSQL through pg-boss, against m365-sim's `generate` world:
//   poll.cycle_s  (tenants, contentTypes, workers): one steady-state poll cycle over every generated tenant
//                 × 3 content types, planned at once into pg-boss and run by the workers (the first cycle,
//                 which starts every subscription and fetches every token, is the warm-up);
//   rss.peak_mb   (records, per worker): the highest VmHWM of any worker while the workers ingest RECORDS
//                 injected records.
// Needs PostgreSQL: TW_BENCH_DATABASE_URL or TENANTWATCH_TEST_DATABASE_URL (a schema of its own is
// created and dropped). Sizes: TW_BENCH_SCALE_TENANTS (default 1000), TW_BENCH_SCALE_RECORDS (default 200000),
// TW_BENCH_SCALE_WORKERS (default 2), TW_BENCH_SCALE_NODE_OPTIONS (the workers' NODE_OPTIONS;
// default the recommended ones of docs/deployment.md, '' for V8's defaults). States its input sizes; asserts no time.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { BenchModule, BenchResult } from './run.ts';
import { silentLogger } from '../src/log.ts';
import { loadConfig } from '../src/config.ts';
import { openStore, type Store } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { startBossScheduler } from '../src/scale/scheduler.ts';
import { startSim, type SimContentType, type StartedSim } from '../test/helpers/sim.ts';
import { CLIENT, PARTNER, SECRET, records, simConfigInput, writeSimConfig } from '../test/helpers/ingest-world.ts';

const TENANTS = Number(process.env.TW_BENCH_SCALE_TENANTS ?? 1000);
const RECORDS = Number(process.env.TW_BENCH_SCALE_RECORDS ?? 200_000);
const WORKERS = Number(process.env.TW_BENCH_SCALE_WORKERS ?? 2);
/** The workers' NODE_OPTIONS as docs/deployment.md recommends them (a worker's memory); TW_BENCH_SCALE_NODE_OPTIONS='' for V8's defaults. */
export const RECOMMENDED_WORKER_NODE_OPTIONS = '--max-old-space-size=192 --max-semi-space-size=2';
const NODE_OPTIONS = process.env.TW_BENCH_SCALE_NODE_OPTIONS ?? RECOMMENDED_WORKER_NODE_OPTIONS;
/** Extra node arguments of the workers that NODE_OPTIONS refuses, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof. */
const NODE_ARGS = (process.env.TW_BENCH_SCALE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const TYPES: SimContentType[] = ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.General'];
const SEED = 7;
const RECORDS_PER_BLOB = 500;
const INGEST_TENANTS = 20;
const BIN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../bin/tenantwatch.js');

/** m365-sim's generated tenant ids (world.ts generatedTenantId): seed-derived prefix, index as the last 12 hex. */
function generatedIds(n: number): string[] {
  const prefix = createHash('sha256').update(['m365-sim-generated', SEED].join('\u0000')).digest().readUInt32BE(0).toString(16).padStart(8, '0');
  return Array.from({ length: n }, (_, i) => `${prefix}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
}

function hwmKb(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

let workersLeft = Infinity;

async function waitUntil(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (workersLeft === 0) throw new Error(`every worker exited: ${what}`);
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out: ${what}`);
}

async function count(store: Store, table: 'ingest_records'): Promise<number> {
  return Number((await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}

async function run(): Promise<BenchResult[]> {
  const base = process.env.TW_BENCH_DATABASE_URL ?? process.env.TENANTWATCH_TEST_DATABASE_URL;
  if (!base) {
    process.stderr.write('bench scale skipped: it needs PostgreSQL (set TW_BENCH_DATABASE_URL)\n');
    return [];
  }
  const schema = `tw_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const u = new URL(base);
  u.searchParams.set('schema', schema);
  const url = u.toString();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-bench-scale-'));
  const children: ChildProcess[] = [];
  let stopping = false;
  let sim: StartedSim | undefined;
  let store: Store | undefined;
  try {
    sim = await startSim({
      world: { app: { clientId: CLIENT, clientSecret: SECRET }, partner: { tenantId: PARTNER, domain: 'msp.example' }, generate: { tenants: TENANTS, usersPerTenant: 1 }, seed: SEED, quirks: { duplicates: 0, outOfOrder: false, lateBlobs: 0, pageSize: 100, throttlePerMinute: 1_000_000 } },
    });
    store = await openStore(url, { poolSize: 4 });
    const migrated = await migrateToLatest(store.db);
    if (!migrated.ok) throw new Error(`migration failed: ${JSON.stringify(migrated.steps.filter((x) => x.status === 'failed'))}`);
    const ids = generatedIds(TENANTS);
    const now = new Date().toISOString();
    for (let i = 0; i < ids.length; i += 500)
      await store.db
        .insertInto('tenants')
        .values(ids.slice(i, i + 500).map((id, k) => ({ tenant_id: id, name: `Generated Tenant ${i + k}`, default_domain: `gen${i + k}.example`, source: 'manual', enabled: 1, added_at: now })))
        .execute();
    const extra = { microsoft: { contentTypes: TYPES }, ingest: { concurrency: 16, perTenantConcurrency: 2, pollIntervalSeconds: 86_400 } };
    const cfg = path.join(dir, 'tw.yaml');
    writeSimConfig(cfg, sim, url, extra);

    // Warm-up: each worker plans a cycle at start; this first cycle starts every subscription (AF20022 → start).
    const warmStart = Date.now();
    workersLeft = WORKERS;
    for (let w = 0; w < WORKERS; w++) {
      const c = spawn(process.execPath, [...NODE_ARGS, BIN, '--config', cfg, 'run', '--role', 'worker'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: NODE_OPTIONS } });
      let err = '';
      c.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      c.once('exit', (code, signal) => {
        if (stopping) return;
        workersLeft--;
        process.stderr.write(`bench scale: worker ${w} exited early (${code ?? signal}): ${err}\n`);
      });
      children.push(c);
    }
    const cursorsDone = async (since: string): Promise<number> =>
      Number((await store!.db.selectFrom('ingest_cursors').select((eb) => eb.fn.countAll<number>().as('n')).where('last_success_at', '>=', since).executeTakeFirstOrThrow()).n);
    await waitUntil(async () => (await cursorsDone('0')) >= TENANTS * TYPES.length, 3_600_000, 'warm-up cycle');
    const warmSeconds = (Date.now() - warmStart) / 1000;

    // The measured cycle: every tenant × content type planned into pg-boss at once, run by the workers.
    const config = loadConfig({ env: {}, overrides: simConfigInput(sim, url, extra) });
    const sender = await startBossScheduler({ url, db: store.db, config, logger: silentLogger(), role: 'bench', plan: false });
    await new Promise((r) => setTimeout(r, 1100)); // last_success_at has ms; start on a clean second
    const t0 = new Date().toISOString();
    const started = process.hrtime.bigint();
    await sender.planNow();
    await waitUntil(async () => (await cursorsDone(t0)) >= TENANTS * TYPES.length, 3_600_000, 'measured cycle');
    const cycleSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cycleHwm = children.map((c) => hwmKb(c.pid!));

    // Memory while ingesting: RECORDS records in blobs of RECORDS_PER_BLOB over INGEST_TENANTS tenants.
    const blobs = Math.ceil(RECORDS / RECORDS_PER_BLOB);
    let injected = 0;
    for (let b = 0; b < blobs; b++) {
      const t = ids[b % Math.min(INGEST_TENANTS, ids.length)]!;
      const ct = TYPES[b % TYPES.length]!;
      injected += (await sim.control.injectRecords(t, ct, records(t, ct, Math.min(RECORDS_PER_BLOB, RECORDS - b * RECORDS_PER_BLOB)))).accepted;
    }
    await new Promise((r) => setTimeout(r, 1100));
    const before = await count(store, 'ingest_records');
    const ingestStart = process.hrtime.bigint();
    await sender.planNow();
    let peakKb = 0;
    const sampler = setInterval(() => {
      for (const c of children) peakKb = Math.max(peakKb, hwmKb(c.pid!));
    }, 100);
    await waitUntil(async () => (await count(store!, 'ingest_records')) - before >= injected, 7_200_000, 'ingest of the injected records');
    const ingestSeconds = Number(process.hrtime.bigint() - ingestStart) / 1e9;
    clearInterval(sampler);
    for (const c of children) peakKb = Math.max(peakKb, hwmKb(c.pid!));
    const perWorker = await store.db
      .selectFrom('ingest_blobs')
      .select(['claimed_by', (eb) => eb.fn.sum<number>('records').as('n')])
      .where('status', '=', 'done')
      .groupBy('claimed_by')
      .execute();
    await sender.stop();
    const recordsPerWorker = perWorker.map((p) => Number(p.n)).filter((n) => n > 0).sort((a, b) => b - a);
    return [
      {
        name: 'poll.cycle_s',
        value: Number(cycleSeconds.toFixed(1)),
        unit: 's',
        tenants: TENANTS,
        contentTypes: TYPES.length,
        jobs: TENANTS * TYPES.length,
        workers: WORKERS,
        store: 'postgres',
        scheduler: 'pg-boss',
        warmupCycleSeconds: Number(warmSeconds.toFixed(1)),
        workerPeakMbDuringCycle: cycleHwm.map((k) => Math.round(k / 1024)).join('/'),
      },
      {
        name: 'rss.peak_mb',
        value: Math.round(peakKb / 1024),
        unit: 'MB',
        records: injected,
        recordsPerWorker: recordsPerWorker.join('/'),
        blobs,
        recordsPerBlob: RECORDS_PER_BLOB,
        workers: WORKERS,
        process: 'tenantwatch run --role worker (highest VmHWM of any worker)',
        nodeOptions: NODE_OPTIONS,
        store: 'postgres',
        ingestSeconds: Number(ingestSeconds.toFixed(1)),
        recordsPerSecond: Math.round(injected / ingestSeconds),
      },
    ];
  } finally {
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => { const t = setTimeout(() => { c.kill('SIGKILL'); r(null); }, 20_000); c.once('exit', () => { clearTimeout(t); r(null); }); }))));
    await store?.close();
    await sim?.stop();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS ${schema}_boss CASCADE`).catch(() => {});
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

const scale: BenchModule = { name: 'scale', produces: ['poll.cycle_s', 'rss.peak_mb'], run };
export default scale;
