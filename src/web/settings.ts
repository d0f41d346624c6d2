// Notification channels and routes edited from the console. They are validated with the configuration
// file's own schema (configSchema.notify) and kept in the `settings` table; the file's values are the
// starting point until the first save. Secret fields come back "[redacted]" and a "[redacted]" sent
// back keeps the stored value.
import type { Kysely } from 'kysely';
import { configSchema, redact, SECRET_KEYS, type Config } from '../config.ts';
import type { Database } from '../store/schema.ts';
import { nowIso } from '../store/db.ts';
import { OperatorError } from '../errors.ts';

export type Channel = Config['notify']['channels'][number];
export type Route = Config['notify']['routes'][number];

const KEY = 'notify.settings';
const REDACTED = '[redacted]';

export async function readNotifySettings(db: Kysely<Database>, config: Readonly<Config>): Promise<{ channels: Channel[]; routes: Route[] }> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', KEY).executeTakeFirst();
  if (row) {
    const parsed = JSON.parse(row.value) as { channels: Channel[]; routes: Route[] };
    return { channels: parsed.channels ?? [], routes: parsed.routes ?? [] };
  }
  return { channels: structuredClone(config.notify.channels) as Channel[], routes: structuredClone(config.notify.routes) as Route[] };
}

export function problemsOf(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>, prefix: string): string[] {
  return issues.map((i) => `${[prefix, ...i.path.map(String)].join('.')}: ${i.message}`);
}

function restoreSecrets(next: Record<string, unknown>, prev: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) {
    if (v === REDACTED && SECRET_KEYS.has(k)) out[k] = prev?.[k];
    else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = restoreSecrets(v as Record<string, unknown>, prev?.[k] as Record<string, unknown> | undefined);
    else out[k] = v;
  }
  return out;
}

/** Validates (same schema as the config file) and saves; throws TW_WEB_BAD_REQUEST listing every problem. */
export async function saveNotifySettings(
  db: Kysely<Database>,
  config: Readonly<Config>,
  patch: { channels?: unknown; routes?: unknown },
  validateChannel?: (channel: Record<string, unknown>) => string[],
): Promise<{ channels: Channel[]; routes: Route[] }> {
  const current = await readNotifySettings(db, config);
  let channels: unknown = patch.channels ?? current.channels;
  if (Array.isArray(channels)) {
    channels = channels.map((c) => {
      if (!c || typeof c !== 'object') return c;
      const prev = current.channels.find((p) => p.name === (c as { name?: unknown }).name) as Record<string, unknown> | undefined;
      return restoreSecrets(c as Record<string, unknown>, prev);
    });
  }
  const candidate = { channels, routes: patch.routes ?? current.routes, maxAttempts: config.notify.maxAttempts };
  const parsed = configSchema.shape.notify.safeParse(candidate);
  const problems: string[] = parsed.success ? [] : problemsOf(parsed.error.issues, 'notify');
  if (parsed.success) {
    const names = new Set<string>();
    parsed.data.channels.forEach((c, i) => {
      if (names.has(c.name)) problems.push(`notify.channels.${i}.name: duplicate channel name ${c.name}`);
      names.add(c.name);
      for (const p of validateChannel?.(c as Record<string, unknown>) ?? []) problems.push(`notify.channels.${i}: ${p}`);
    });
    parsed.data.routes.forEach((r, i) => {
      for (const n of r.channels) if (!names.has(n)) problems.push(`notify.routes.${i}.channels: no channel named ${n}`);
    });
  }
  if (problems.length || !parsed.success) {
    throw new OperatorError('TW_WEB_BAD_REQUEST', { detail: `${problems.length} problem(s)` }, { details: problems });
  }
  const value = { channels: parsed.data.channels as Channel[], routes: parsed.data.routes as Route[] };
  const now = nowIso();
  const text = JSON.stringify(value);
  const exists = await db.selectFrom('settings').select('key').where('key', '=', KEY).executeTakeFirst();
  if (exists) await db.updateTable('settings').set({ value: text, updated_at: now }).where('key', '=', KEY).execute();
  else await db.insertInto('settings').values({ key: KEY, value: text, updated_at: now }).execute();
  return value;
}

export function redactedSettings(s: { channels: Channel[]; routes: Route[] }): { channels: Channel[]; routes: Route[] } {
  return redact(s);
}

/**
 * The configuration with the channels and routes saved from the console in place of the file's (when any
 * were saved). main.ts calls this once at start, before building the dispatcher and the alert router.
 */
export async function withStoredNotifySettings(db: Kysely<Database>, config: Readonly<Config>): Promise<Readonly<Config>> {
  const row = await db.selectFrom('settings').select('key').where('key', '=', KEY).executeTakeFirst();
  if (!row) return config;
  const s = await readNotifySettings(db, config);
  return Object.freeze({ ...config, notify: Object.freeze({ ...config.notify, channels: s.channels, routes: s.routes }) }) as Readonly<Config>;
}
