// poll.cycle_s (contracts §8): one steady-state poll cycle over N simulated tenants × 3 content types
// (tokens cached, cursors set by a first cycle), with one new blob per tenant to fetch. States its input
// size; asserts no time. Phase 1 figure on one process and SQLite (issue 11 scales it out).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchModule, BenchResult } from './run.ts';
import { createPoller } from '../src/ingest/poller.ts';
import { silentLogger } from '../src/log.ts';
import { buildIngest } from '../src/main.ts';
import { startSim, type SimContentType } from '../test/helpers/sim.ts';
import { addTenants, ingestWorld, records, simConfig, tenantIds } from '../test/helpers/ingest-world.ts';

const TENANTS = Number(process.env.TW_BENCH_POLL_TENANTS ?? 200);
const TYPES: SimContentType[] = ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.General'];

async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-bench-poll-'));
  const sim = await startSim({ world: ingestWorld({ tenants: TENANTS, types: TYPES, quirks: { throttlePerMinute: 100_000 } }) });
  try {
    const url = `sqlite:${path.join(dir, 'tw.db')}`;
    const config = simConfig(sim, url, { microsoft: { contentTypes: TYPES }, ingest: { concurrency: 16, perTenantConcurrency: 2 } });
    const parts = await buildIngest(config, silentLogger());
    const tenants = tenantIds(TENANTS);
    await addTenants(parts.store.db, tenants);
    const poller = createPoller({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger() });
    await poller.pollOnce(); // tokens and cursors
    for (const t of tenants) await sim.control.injectRecords(t, 'Audit.Exchange', records(t, 'Audit.Exchange', 10));
    await new Promise((r) => setTimeout(r, 1100));
    const started = process.hrtime.bigint();
    const report = await poller.pollOnce();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await parts.http.close();
    await parts.store.close();
    return [
      {
        name: 'poll.cycle_s',
        value: Number(seconds.toFixed(2)),
        unit: 's',
        tenants: TENANTS,
        contentTypes: TYPES.length,
        blobs: report.totals.blobs,
        records: report.totals.records,
        errors: report.totals.errors,
        workers: 1,
        store: 'sqlite',
      },
    ];
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const poll: BenchModule = { name: 'poll', produces: ['poll.cycle_s'], run };
export default poll;
