// The store: Kysely over better-sqlite3 (embedded default) or pg (several workers). The dialect is the
// adapter; query functions take a `Kysely<Database>` and work on both.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { OperatorError } from '../errors.ts';
import { redactUrlCredentials } from '../config.ts';
import type { Database as Schema } from './schema.ts';

export type Db = Kysely<Schema>;
export type DialectName = 'sqlite' | 'postgres';

export interface Store {
  db: Db;
  dialect: DialectName;
  /** The URL with any password removed (safe to print). */
  displayUrl: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** PostgreSQL only: run every connection with this search_path (tests use one schema per run). */
  schema?: string;
  poolSize?: number;
}

// pg returns int8 (COUNT(*), BIGINT) as strings; our counts fit in a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

export async function openStore(url: string, opts: OpenOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return openPostgres(url, opts);
  throw new OperatorError('TW_STORE_URL_INVALID', { url: redactUrlCredentials(url) });
}

function openSqlite(file: string): Store {
  const memory = file === ':memory:' || file === '';
  if (!memory) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let sqlite: Database.Database;
  try {
    sqlite = new Database(memory ? ':memory:' : file);
  } catch (e) {
    throw new OperatorError('TW_STORE_UNREACHABLE', { host: file, reason: (e as Error).message }, { cause: e });
  }
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    dialect: 'sqlite',
    displayUrl: `sqlite:${file}`,
    close: () => db.destroy(),
  };
}

async function openPostgres(url: string, opts: OpenOptions): Promise<Store> {
  const u = new URL(url);
  const schema = opts.schema ?? u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  const pool = new pg.Pool({
    connectionString: u.toString(),
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // A pool error on an idle client (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Nor one on a client checked out by Kysely (a query or transaction in flight when the server goes away):
  // pg emits 'error' on the client, which the pool only listens to while the client is idle. The failed query
  // rejects on its own; the pool drops the broken client when Kysely releases it.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  try {
    const client = await pool.connect();
    client.release();
  } catch (e) {
    await pool.end().catch(() => {});
    throw new OperatorError('TW_STORE_UNREACHABLE', { host: `${u.hostname}:${u.port || 5432}`, reason: (e as Error).message }, { cause: e });
  }
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    displayUrl: redactUrlCredentials(url),
    close: () => db.destroy(),
  };
}

/** Now as the ISO-8601 UTC text every timestamp column holds (sorts lexicographically). */
export function nowIso(date: Date = new Date()): string {
  return date.toISOString();
}

export { sql };
