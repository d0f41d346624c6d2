// Runs a suite against every dialect: SQLite (a temp file) and PostgreSQL (a schema of its own per
// store, dropped afterwards), so runs never see each other's rows.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openStore, type Store, type DialectName } from '../../src/store/db.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';

export const DIALECTS: DialectName[] = ['sqlite', 'postgres'];

export function postgresUrl(): string {
  return inject('databaseUrl');
}

export interface TestStore extends Store {
  /** The URL another process can open to reach the same data (PostgreSQL carries ?schema=). */
  url: string;
  dispose(): Promise<void>;
}

/** A fresh, empty store of the given dialect. `migrate: false` leaves the schema empty. */
export async function freshStore(dialect: DialectName, opts: { migrate?: boolean } = {}): Promise<TestStore> {
  let store: Store;
  let url: string;
  let cleanup: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-sqlite-'));
    url = `sqlite:${path.join(dir, 'tw.db')}`;
    store = await openStore(url);
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const base = postgresUrl();
    const schema = `tw_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const u = new URL(base);
    u.searchParams.set('schema', schema);
    url = u.toString();
    store = await openStore(url, { poolSize: 4 });
    cleanup = async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    };
  }
  if (opts.migrate !== false) {
    const r = await migrateToLatest(store.db);
    if (!r.ok) throw new Error(`migration failed: ${JSON.stringify(r.steps)}`);
  }
  return {
    ...store,
    url,
    dispose: async () => {
      await store.close();
      await cleanup();
    },
  };
}
