#!/usr/bin/env node
// Runs the m365-sim CLI. For a fast start it uses a bundle of src/ (dist/cli.mjs, made with esbuild on
// the first run and again whenever a source file is newer); without esbuild, or with
// M365_SIM_NO_BUNDLE=1, it runs the TypeScript sources through tsx.
import { readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const src = join(root, 'src');
const out = join(root, 'dist', 'cli.mjs');

function newestSource() {
  let newest = 0;
  for (const f of readdirSync(src)) {
    if (f.endsWith('.ts') && !f.endsWith('.test.ts')) newest = Math.max(newest, statSync(join(src, f)).mtimeMs);
  }
  return newest;
}

async function bundle() {
  if (process.env.M365_SIM_NO_BUNDLE === '1') return false;
  try {
    if (statSync(out).mtimeMs >= newestSource()) return true;
  } catch {
    // no bundle yet
  }
  try {
    const esbuild = await import('esbuild');
    const tmp = `${out}.${process.pid}.tmp`;
    await esbuild.build({ entryPoints: [join(src, 'cli.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: tmp, logLevel: 'silent' });
    renameSync(tmp, out);
    return true;
  } catch {
    return false;
  }
}

if (await bundle()) {
  await import(pathToFileURL(out).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
