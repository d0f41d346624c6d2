// `tenantwatch users …` as an operator runs it, and the API token it prints working against the API.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { openStore, type Store } from '../src/store/db.ts';
import { buildServer } from '../src/web/server.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/tenantwatch.js');

describe('tenantwatch users', () => {
  let dir: string;
  let configFile: string;
  const cli = (...args: string[]) => run(process.execPath, [BIN, '--config', configFile, 'users', ...args], { timeout: 60_000 });

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tw-users-cli-'));
    configFile = path.join(dir, 'tenantwatch.yaml');
    writeFileSync(configFile, 'store:\n  url: sqlite:./tw.db\nlog:\n  level: silent\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds a user with a generated password printed once, lists it, and refuses a duplicate with exit 1', async () => {
    const added = await cli('add', 'alice', '--role', 'admin');
    expect(added.stdout).toMatch(/^user alice added with role admin\npassword \S{16,}\n$/);
    const list = JSON.parse((await cli('list', '--json')).stdout) as Array<{ username: string; role: string }>;
    expect(list).toEqual([expect.objectContaining({ username: 'alice', role: 'admin', disabled: false, tokens: [] })]);
    const again = await cli('add', 'alice').catch((e: { code: number; stderr: string }) => e);
    expect((again as { code: number }).code).toBe(1);
    expect((again as { stderr: string }).stderr).toContain('TW_WEB_CONFLICT');
  });

  it('rejects an unknown role with exit 2 and lists the allowed ones', async () => {
    const r = await cli('add', 'bob', '--role', 'root').catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(2);
    expect((r as { stderr: string }).stderr).toContain('admin, analyst, viewer');
  });

  it('prints an API token once that the API accepts without a CSRF token', async () => {
    const { stdout } = await cli('token', 'alice', '--name', 'ci');
    const token = /^token (twk_\S+)\n$/.exec(stdout)![1];
    let store: Store | undefined;
    try {
      store = await openStore(`sqlite:${path.join(dir, 'tw.db')}`);
      const app = await buildServer({ db: store.db, config: loadConfig({ env: {} }), consoleDir: false, remediation: false });
      const r = await app.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${token}` }, payload: { username: 'bob', password: 'a long password 2', role: 'viewer' } });
      expect(r.statusCode).toBe(201);
      await app.close();
    } finally {
      await store?.close();
    }
    const list = JSON.parse((await cli('list', '--json')).stdout) as Array<{ username: string; tokens: Array<{ name: string }> }>;
    expect(list.find((u) => u.username === 'alice')!.tokens.map((t) => t.name)).toEqual(['ci']);
    expect(JSON.stringify(list)).not.toContain(token);
  });
});
