// rss.peak_mb (contracts §8): peak resident memory of a `tenantwatch poll` process while it ingests
// RECORDS records from the simulator (sampled from /proc every 50 ms, and the kernel's VmHWM high-water
// mark). States its input size; asserts no figure. TW_BENCH_RSS_NODE_OPTIONS (e.g. --max-old-space-size=96)
// shows the working set is flat: V8 otherwise grows its heap lazily before collecting.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchModule, BenchResult } from './run.ts';
import { openStore } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { startSim, type SimContentType } from '../test/helpers/sim.ts';
import { addTenants, ingestWorld, records, tenantIds, writeSimConfig } from '../test/helpers/ingest-world.ts';

const TENANTS = 4;
const TYPES: SimContentType[] = ['Audit.Exchange', 'Audit.AzureActiveDirectory'];
const BLOBS_PER_TYPE = Number(process.env.TW_BENCH_RSS_BLOBS ?? 25);
const RECORDS_PER_BLOB = 500;
const BIN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../bin/tenantwatch.js');

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-bench-rss-'));
  const sim = await startSim({ world: ingestWorld({ tenants: TENANTS, types: TYPES }) });
  try {
    const url = `sqlite:${path.join(dir, 'tw.db')}`;
    const store = await openStore(url);
    await migrateToLatest(store.db);
    const tenants = tenantIds(TENANTS);
    await addTenants(store.db, tenants);
    await store.close();
    let injected = 0;
    for (const t of tenants)
      for (const ct of TYPES)
        for (let b = 0; b < BLOBS_PER_TYPE; b++) injected += (await sim.control.injectRecords(t, ct, records(t, ct, RECORDS_PER_BLOB))).accepted;
    await new Promise((r) => setTimeout(r, 1100));
    const cfg = path.join(dir, 'tw.yaml');
    writeSimConfig(cfg, sim, url, { microsoft: { contentTypes: TYPES } });
    const child = spawn(process.execPath, [BIN, '--config', cfg, 'poll', '--json'], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_OPTIONS: process.env.TW_BENCH_RSS_NODE_OPTIONS ?? '' } });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    let peakKb = 0;
    let hwmKb = 0;
    const timer = setInterval(() => {
      peakKb = Math.max(peakKb, statusKb(child.pid!, 'VmRSS') ?? 0);
      hwmKb = Math.max(hwmKb, statusKb(child.pid!, 'VmHWM') ?? 0);
    }, 50);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearInterval(timer);
    const report = JSON.parse(out || '{}') as { totals?: { records?: number } };
    if (report.totals?.records !== injected) throw new Error(`poll exited ${code} after ${report.totals?.records ?? 0} of ${injected} records`);
    return [{ name: 'rss.peak_mb', value: Math.round(Math.max(peakKb, hwmKb) / 1024), unit: 'MB', records: injected, blobs: TENANTS * TYPES.length * BLOBS_PER_TYPE, recordsPerBlob: RECORDS_PER_BLOB, process: 'tenantwatch poll', store: 'sqlite', nodeOptions: process.env.TW_BENCH_RSS_NODE_OPTIONS ?? '' }];
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rss: BenchModule = { name: 'rss', produces: ['rss.peak_mb'], run };
export default rss;
