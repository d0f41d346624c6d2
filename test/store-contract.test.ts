// The store contract suite: every test here runs on SQLite and on PostgreSQL.
import { describe, expect, it } from 'vitest';
import type { Kysely, Migration } from 'kysely';
import { DIALECTS, freshStore } from './helpers/stores.ts';
import { migrateToLatest, migrationStatus } from '../src/store/migrate.ts';
import { MIGRATIONS } from '../src/store/migrations/index.ts';
import { openStore, nowIso } from '../src/store/db.ts';
import { OperatorError } from '../src/errors.ts';

describe.each(DIALECTS)('store on %s', (dialect) => {
  it('applies every migration and reports a result per step', async () => {
    const s = await freshStore(dialect, { migrate: false });
    try {
      const r = await migrateToLatest(s.db);
      expect(r.ok).toBe(true);
      expect(r.steps.map((x) => x.name)).toEqual(Object.keys(MIGRATIONS));
      expect(r.steps.every((x) => x.status === 'applied')).toBe(true);
      const again = await migrateToLatest(s.db);
      expect(again.steps.every((x) => x.status === 'already-applied')).toBe(true);
      expect((await migrationStatus(s.db)).every((x) => x.status === 'already-applied')).toBe(true);
    } finally {
      await s.dispose();
    }
  });

  it('reports the failing step and keeps the earlier steps recorded', async () => {
    const s = await freshStore(dialect, { migrate: false });
    try {
      const broken: Record<string, Migration> = {
        '0001_ok': {
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          up: async (db: Kysely<any>) => {
            await db.schema.createTable('t_ok').addColumn('id', 'integer', (c) => c.primaryKey()).execute();
          },
        },
        '0002_broken': {
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          up: async (db: Kysely<any>) => {
            await db.schema.createTable('t_ok').addColumn('id', 'integer').execute(); // already exists
          },
        },
        '0003_never': { up: async () => {} },
      };
      const r = await migrateToLatest(s.db, broken);
      expect(r.ok).toBe(false);
      expect(r.failedStep).toBe('0002_broken');
      expect(r.steps.map((x) => [x.name, x.status])).toEqual([
        ['0001_ok', 'applied'],
        ['0002_broken', 'failed'],
        ['0003_never', 'pending'],
      ]);
      const status = await migrationStatus(s.db, broken);
      expect(status.map((x) => x.status)).toEqual(['already-applied', 'pending', 'pending']);
    } finally {
      await s.dispose();
    }
  });

  it('stores and reads a tenant row with the portable column types', async () => {
    const s = await freshStore(dialect);
    try {
      await s.db
        .insertInto('tenants')
        .values({ tenant_id: 't-1', name: 'Contoso <Ltd>', default_domain: 'contoso.com', source: 'manual', enabled: 1, added_at: nowIso(), context_json: null, context_loaded_at: null, health_json: null, health_checked_at: null })
        .execute();
      const row = await s.db.selectFrom('tenants').selectAll().where('tenant_id', '=', 't-1').executeTakeFirstOrThrow();
      expect(row.name).toBe('Contoso <Ltd>');
      expect(row.enabled).toBe(1);
      const count = await s.db.selectFrom('tenants').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(1);
      await s.db.insertInto('audit_trail').values({ at: nowIso(), actor: 'test', action: 'x', subject: null, detail_json: null }).execute();
      await s.db.insertInto('audit_trail').values({ at: nowIso(), actor: 'test', action: 'y', subject: null, detail_json: null }).execute();
      const ids = (await s.db.selectFrom('audit_trail').select('id').orderBy('id').execute()).map((r) => r.id);
      expect(ids).toEqual([1, 2]);
    } finally {
      await s.dispose();
    }
  });
});

describe('store connection errors', () => {
  it('names the host and never the password when PostgreSQL cannot be reached', async () => {
    const err = await openStore('postgres://tw:hunter2@127.0.0.1:1/tw').catch((e) => e);
    expect(err).toBeInstanceOf(OperatorError);
    expect(err.code).toBe('TW_STORE_UNREACHABLE');
    expect(err.message).toContain('127.0.0.1:1');
    expect(err.message).not.toContain('hunter2');
  });

  it('rejects a URL that is neither sqlite: nor postgres://', async () => {
    const err = await openStore('mysql://root@localhost/x').catch((e) => e);
    expect(err.code).toBe('TW_STORE_URL_INVALID');
  });
});
