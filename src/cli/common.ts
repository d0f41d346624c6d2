// Shared CLI plumbing: config loading from the global --config option, coded error output, exit codes.
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config.ts';
import { OperatorError, isOperatorError } from '../errors.ts';
import { createLogger, scrub, type Logger } from '../log.ts';
import { openStore, type Store } from '../store/db.ts';
import { migrateToLatest } from '../store/migrate.ts';

/** The global options every command sees (declared on the root program). */
export interface GlobalOptions {
  config?: string;
}

export function globalOpts(cmd: Command): GlobalOptions {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  return root.opts<GlobalOptions>();
}

export function configFor(cmd: Command, overrides?: Record<string, unknown>): Readonly<Config> {
  return loadConfig({ file: globalOpts(cmd).config, overrides });
}

export function loggerFor(config: Readonly<Config>): Logger {
  return createLogger({ level: config.log.level, pretty: config.log.pretty });
}

/** Opens the store and brings its schema up to date (every command that needs data calls this). */
export async function storeFor(config: Readonly<Config>): Promise<Store> {
  const store = await openStore(config.store.url);
  const report = await migrateToLatest(store.db);
  if (!report.ok) {
    await store.close();
    const failed = report.steps.find((s) => s.status === 'failed');
    throw new OperatorError('TW_MIGRATION_FAILED', { step: failed?.name ?? '?', reason: failed?.error ?? '?' });
  }
  return store;
}

/** Prints a coded error (never a stack trace for expected failures) and returns the exit code. */
export function reportError(e: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (isOperatorError(e)) {
    stderr.write(`error ${e.code}: ${scrub(e.message)}\n`);
    for (const d of e.details) stderr.write(`  - ${scrub(d)}\n`);
    if (e.upstreamCode) stderr.write(`  microsoft: ${e.upstreamCode}\n`);
    stderr.write(`  hint: ${e.hint}\n`);
    return e.exitCode;
  }
  const err = e as { code?: string; exitCode?: number; message?: string };
  if (typeof err?.code === 'string' && err.code.startsWith('commander.')) return err.exitCode === 0 ? 0 : 2;
  stderr.write(`error TW_INTERNAL: ${scrub(String(err?.message ?? e))}\n`);
  if (process.env.TENANTWATCH_DEBUG && e instanceof Error && e.stack) stderr.write(scrub(e.stack) + '\n');
  return 1;
}

/** Wraps an async action so its failures become coded errors and exit codes. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number' && code !== 0) process.exitCode = code;
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}

/** Parses durations like 90s, 15m, 2h, 7d. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(s.trim());
  if (!m) throw new OperatorError('TW_USAGE', { detail: `not a duration: ${s} (use e.g. 30m, 2h, 7d)` });
  const n = Number(m[1]);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n * mult;
}
