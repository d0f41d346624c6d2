#!/usr/bin/env node
// Runs the tenantwatch CLI. The sources are TypeScript (src/, rules/*.ts); for a small, fast process they run
// from an esbuild bundle (dist/cli/<stamp>/tenantwatch.js, npm packages left external, the web server in a
// chunk of its own so workers never load it), made on the first run and again whenever a source changes:
// <stamp> names the sources' paths, sizes and times, so a stale bundle is never used and processes started
// together never overwrite each other's. Running the sources through tsx instead costs every process tsx's
// loader thread and in-memory transforms (~40 MB RSS). Without esbuild, or with TENANTWATCH_NO_BUNDLE=1,
// it runs the sources through tsx.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const SOURCE_DIRS = ['src', 'rules'];
const ENTRY = join(root, 'src', 'cli', 'main.ts');
const OUT = join(root, 'dist', 'cli');
/** Bundles of earlier sources older than this are removed (a process still running one may load its chunks). */
const KEEP_OLD_MS = 24 * 3600 * 1000;

function stamp() {
  const h = createHash('sha256');
  h.update(statSync(fileURLToPath(import.meta.url)).mtimeMs.toString());
  for (const dir of SOURCE_DIRS) {
    const files = readdirSync(join(root, dir), { recursive: true })
      .map(String)
      .filter((f) => /\.tsx?$/.test(f) && !/\.test\.tsx?$/.test(f))
      .sort();
    for (const f of files) {
      const s = statSync(join(root, dir, f));
      h.update(`${dir}/${f}\0${s.size}\0${s.mtimeMs}\n`);
    }
  }
  return h.digest('hex').slice(0, 16);
}

function pruneOld(keep) {
  const now = Date.now();
  for (const name of readdirSync(OUT)) {
    if (name === keep) continue;
    const p = join(OUT, name);
    try {
      if (now - statSync(p).mtimeMs > KEEP_OLD_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      // another process pruned it first
    }
  }
}

async function bundle() {
  if (process.env.TENANTWATCH_NO_BUNDLE === '1') return undefined;
  try {
    const key = stamp();
    const dir = join(OUT, key);
    const entry = join(dir, 'tenantwatch.js');
    if (existsSync(entry)) return entry;
    const esbuild = await import('esbuild');
    const tmp = join(OUT, `.${key}.${process.pid}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await esbuild.build({
      entryPoints: { tenantwatch: ENTRY },
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outdir: tmp,
      outExtension: { '.js': '.js' },
      chunkNames: 'chunks/[name]-[hash]',
      logLevel: 'silent',
    });
    try {
      renameSync(tmp, dir);
    } catch {
      // Another process made the same bundle at the same time: use theirs.
      rmSync(tmp, { recursive: true, force: true });
    }
    pruneOld(key);
    return existsSync(entry) ? entry : undefined;
  } catch (e) {
    // A read-only install whose bundle was not made at `npm ci` (scripts/prepare.js makes it), or no esbuild.
    process.stderr.write(`tenantwatch: running the sources through tsx (no bundle: ${String(e?.message ?? e).split('\n')[0]})\n`);
    return undefined;
  }
}

const entry = await bundle();
if (entry) {
  await import(pathToFileURL(entry).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
