// bin/tenantwatch.js runs the CLI from an esbuild bundle of the sources that follows every source change, and
// from the sources through tsx when asked to. Run on a copy of the project (symlinked node_modules) so that
// changing a source here never disturbs other tests.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');

describe('bin/tenantwatch.js', () => {
  let copy: string;
  beforeAll(() => {
    copy = mkdtempSync(path.join(os.tmpdir(), 'tw-bin-'));
    for (const d of ['bin', 'src', 'rules', 'console']) cpSync(path.join(ROOT, d), path.join(copy, d), { recursive: true, filter: (p) => !p.includes(`${path.sep}node_modules`) });
    cpSync(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [path.join(copy, 'bin/tenantwatch.js'), ...args], { env: { ...process.env, ...env }, cwd: copy });
  const bundles = () => readdirSync(path.join(copy, 'dist/cli')).filter((n) => !n.startsWith('.'));

  it('bundles the sources once, keeps the web server in a chunk of its own, and finds the built-in rules from the bundle', { timeout: 60_000 }, async () => {
    const first = await cli(['rules', 'list']);
    expect(first.stdout).toMatch(/^inbox-rule-external-forward\s/m);
    expect(bundles()).toHaveLength(1);
    const dir = path.join(copy, 'dist/cli', bundles()[0]!);
    const entry = readFileSync(path.join(dir, 'tenantwatch.js'), 'utf8');
    expect(entry).not.toMatch(/from "fastify"/);
    const chunks = readdirSync(path.join(dir, 'chunks'));
    expect(chunks.some((c) => readFileSync(path.join(dir, 'chunks', c), 'utf8').includes('from "fastify"'))).toBe(true);
    const again = await cli(['rules', 'list']);
    expect(again.stdout).toBe(first.stdout);
    expect(bundles()).toHaveLength(1);
  });

  it('makes a new bundle when a source changes, and runs the sources through tsx with TENANTWATCH_NO_BUNDLE=1', { timeout: 60_000 }, async () => {
    const main = path.join(copy, 'src/cli/main.ts');
    const text = readFileSync(main, 'utf8');
    const marker = 'Changed-description-for-the-bundle-test.';
    writeFileSync(main, text.replace(/\.description\('[^']*'\)/, `.description('${marker}')`));
    const before = new Set(bundles());
    const changed = await cli(['--help']);
    expect(changed.stdout).toContain(marker);
    expect(bundles().filter((b) => !before.has(b))).toHaveLength(1);

    writeFileSync(main, text.replace(/\.description\('[^']*'\)/, `.description('${marker} From tsx.')`));
    const count = bundles().length;
    const fromSources = await cli(['--help'], { TENANTWATCH_NO_BUNDLE: '1' });
    expect(fromSources.stdout).toContain('From tsx.');
    // The launcher's switch is not taken for a configuration key by commands that load the configuration.
    const rules = await cli(['rules', 'list'], { TENANTWATCH_NO_BUNDLE: '1' });
    expect(rules.stdout).toMatch(/^inbox-rule-hide\s/m);
    expect(bundles()).toHaveLength(count);
  });
});
