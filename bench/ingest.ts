// ingest.records_per_s (contracts §8): simulator → stored records, end to end — one `poll` cycle of the
// real poller over HTTPS against m365-sim (token, listing with paging, blob download, normalize,
// dedupe, store on SQLite) after the records were injected. States its input size; asserts no time.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchModule, BenchResult } from './run.ts';
import { createPoller } from '../src/ingest/poller.ts';
import { silentLogger } from '../src/log.ts';
import { buildIngest } from '../src/main.ts';
import { openStore } from '../src/store/db.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { startSim, type SimContentType } from '../test/helpers/sim.ts';
import { addTenants, ingestWorld, records, simConfig, tenantIds } from '../test/helpers/ingest-world.ts';

const TENANTS = 4;
const TYPES: SimContentType[] = ['Audit.Exchange', 'Audit.AzureActiveDirectory'];
const BLOBS_PER_TYPE = 25;
const RECORDS_PER_BLOB = 200;

async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-bench-ingest-'));
  const sim = await startSim({ world: ingestWorld({ tenants: TENANTS, types: TYPES, quirks: { duplicates: 0, outOfOrder: true, pageSize: 100 } }) });
  try {
    const url = `sqlite:${path.join(dir, 'tw.db')}`;
    const setup = await openStore(url);
    await migrateToLatest(setup.db);
    const tenants = tenantIds(TENANTS);
    await addTenants(setup.db, tenants);
    await setup.close();
    let injected = 0;
    for (const t of tenants)
      for (const ct of TYPES)
        for (let b = 0; b < BLOBS_PER_TYPE; b++) {
          const r = await sim.control.injectRecords(t, ct, records(t, ct, RECORDS_PER_BLOB));
          injected += r.accepted;
        }
    await new Promise((r) => setTimeout(r, 1100)); // content created this second becomes listable
    const config = simConfig(sim, url, { microsoft: { contentTypes: TYPES }, ingest: { concurrency: 8, perTenantConcurrency: 2 } });
    const parts = await buildIngest(config, silentLogger());
    const poller = createPoller({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger() });
    const started = process.hrtime.bigint();
    const report = await poller.pollOnce();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await parts.http.close();
    await parts.store.close();
    if (report.totals.records !== injected) throw new Error(`ingested ${report.totals.records} of ${injected} records (errors: ${report.totals.errors})`);
    return [
      {
        name: 'ingest.records_per_s',
        value: Math.round(report.totals.records / seconds),
        unit: 'records/s',
        records: report.totals.records,
        blobs: report.totals.blobs,
        tenants: TENANTS,
        contentTypes: TYPES.length,
        store: 'sqlite',
        seconds: Number(seconds.toFixed(2)),
      },
    ];
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ingest: BenchModule = { name: 'ingest', produces: ['ingest.records_per_s'], run };
export default ingest;
