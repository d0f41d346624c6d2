// The benchmark runner (contracts §8): `npm run bench -- --json [prefix...]` prints one JSON object per
// line, {"name","value","unit",...}, for the benchmarks whose names start with a given prefix (all when
// none is given). Without --json it prints a readable table. Each benchmark states its input size; none
// asserts a time. Add a module: export `{ name, run(): Promise<BenchResult[]> }` and list it below.

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  [extra: string]: unknown;
}

export interface BenchModule {
  /** Prefix of the results it produces (used to skip modules the prefixes exclude). */
  name: string;
  /** The result names it produces (for prefix filtering before running). */
  produces?: string[];
  run(): Promise<BenchResult[]>;
}

import detect from './detect.ts';
import ingest from './ingest.ts';
import poll from './poll.ts';
import rss from './rss.ts';
import scale from './scale.ts';
import notify from './notify.ts';

/** One explicit list of benchmark modules. */
export const MODULES: BenchModule[] = [detect, ingest, poll, rss, scale, { ...notify, produces: ['notify.p95_ms'] }];

function wanted(name: string, prefixes: string[]): boolean {
  return prefixes.length === 0 || prefixes.some((p) => name.startsWith(p) || p.startsWith(name + '.'));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const prefixes = args.filter((a) => !a.startsWith('--'));
  for (const m of MODULES) {
    const names = m.produces ?? [m.name];
    if (!names.some((n) => wanted(n, prefixes)) && !wanted(m.name, prefixes)) continue;
    let results: BenchResult[];
    try {
      results = await m.run();
    } catch (e) {
      process.stderr.write(`bench ${m.name} failed: ${(e as Error).message}\n`);
      process.exitCode = 1;
      continue;
    }
    // A prefix naming the module (`scale`) prints all its results; other prefixes only theirs.
    const wholeModule = prefixes.some((p) => p === m.name);
    for (const r of results) {
      if (prefixes.length && !wholeModule && !prefixes.some((p) => r.name.startsWith(p))) continue;
      if (json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        const { name, value, unit, ...rest } = r;
        process.stdout.write(`${name.padEnd(28)} ${String(value).padStart(12)} ${unit.padEnd(10)} ${Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
      }
    }
  }
}

if (process.argv[1] && /bench[\\/]run\.ts$/.test(process.argv[1])) await main();
