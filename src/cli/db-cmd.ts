import type { Command } from 'commander';
import { openStore } from '../store/db.ts';
import { migrateToLatest, migrationStatus } from '../store/migrate.ts';
import { action, configFor } from './common.ts';

export function registerDb(program: Command): void {
  const cmd = program.command('db').description('the store: migrations and status');
  cmd
    .command('migrate')
    .description('apply pending migrations; prints a result per step')
    .action(
      action(async (_o: unknown, c: Command) => {
        const config = configFor(c);
        const store = await openStore(config.store.url);
        try {
          const report = await migrateToLatest(store.db);
          process.stdout.write(`store ${store.displayUrl} (${store.dialect})\n`);
          for (const s of report.steps) process.stdout.write(`  ${s.status.padEnd(15)} ${s.name}${s.error ? `: ${s.error}` : ''}\n`);
          if (!report.ok) {
            process.stderr.write(`error TW_MIGRATION_FAILED: migration ${report.failedStep} failed; earlier steps stay applied\n`);
            return 1;
          }
          return 0;
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('status')
    .description('list migrations and whether each is applied')
    .action(
      action(async (_o: unknown, c: Command) => {
        const config = configFor(c);
        const store = await openStore(config.store.url);
        try {
          const steps = await migrationStatus(store.db);
          process.stdout.write(`store ${store.displayUrl} (${store.dialect})\n`);
          for (const s of steps) process.stdout.write(`  ${s.status.padEnd(15)} ${s.name}\n`);
          return 0;
        } finally {
          await store.close();
        }
      }),
    );
}
