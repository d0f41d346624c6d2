// Migrations through Kysely's migrator, one step per transaction so that a failure half-way leaves the
// earlier steps applied and recorded, and reports which step failed.
import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import { isPostgres } from './portable.ts';
import type { Db } from './db.ts';
import { MIGRATIONS } from './migrations/index.ts';

export interface StepResult {
  name: string;
  status: 'applied' | 'failed' | 'pending' | 'already-applied';
  error?: string;
}

export interface MigrateReport {
  ok: boolean;
  steps: StepResult[];
  failedStep?: string;
}

function provider(migrations: Record<string, Migration>): MigrationProvider {
  return { getMigrations: async () => migrations };
}

// Kysely looks for its bookkeeping table across every schema it can see; on PostgreSQL pin it to the
// connection's own schema so that stores living in sibling schemas (one per test run, one per
// deployment) never mistake each other's table for their own.
async function migrator(db: Db, migrations: Record<string, Migration>): Promise<Migrator> {
  let migrationTableSchema: string | undefined;
  if (isPostgres(db)) {
    const r = await sql<{ s: string }>`select current_schema() as s`.execute(db);
    migrationTableSchema = r.rows[0]?.s;
  }
  return new Migrator({ db, provider: provider(migrations), ...(migrationTableSchema ? { migrationTableSchema } : {}) });
}

export async function migrationStatus(db: Db, migrations: Record<string, Migration> = MIGRATIONS): Promise<StepResult[]> {
  const infos = await (await migrator(db, migrations)).getMigrations();
  return infos.map((m) => ({ name: m.name, status: m.executedAt ? 'already-applied' : 'pending' }));
}

export async function migrateToLatest(db: Db, migrations: Record<string, Migration> = MIGRATIONS): Promise<MigrateReport> {
  const m = await migrator(db, migrations);
  const steps: StepResult[] = [];
  const before = await m.getMigrations();
  for (const info of before) if (info.executedAt) steps.push({ name: info.name, status: 'already-applied' });
  const pending = before.filter((i) => !i.executedAt).map((i) => i.name);
  for (const name of pending) {
    const { error, results } = await m.migrateUp();
    const r = results?.find((x) => x.migrationName === name) ?? results?.[0];
    if (error || r?.status === 'Error') {
      const msg = error instanceof Error ? error.message : String(error ?? 'unknown error');
      steps.push({ name: r?.migrationName ?? name, status: 'failed', error: msg });
      const rest = pending.slice(pending.indexOf(name) + 1);
      for (const p of rest) steps.push({ name: p, status: 'pending' });
      return { ok: false, steps, failedStep: r?.migrationName ?? name };
    }
    steps.push({ name, status: 'applied' });
  }
  return { ok: true, steps };
}
