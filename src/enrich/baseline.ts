// The per-user sign-in baseline: which IPs, countries and ASNs a user has signed in from (fed from
// successful sign-in records by the pipeline). Alerts say whether their IP / country / ASN is new for the
// user; the signin-anomaly rule can ask the same.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { GeoInfo } from '../model.ts';

export interface SignIn {
  tenantId: string;
  userId: string;
  ip: string;
  geo?: GeoInfo;
  /** ISO-8601 UTC */
  at: string;
}

export interface BaselineVerdict {
  /** False when the user has no sign-in history yet: "new" is then unknown, never guessed. */
  known: boolean;
  newIp?: boolean;
  newCountry?: boolean;
  newAsn?: boolean;
}

function facts(s: { ip: string; geo?: GeoInfo }): Array<[string, string]> {
  const out: Array<[string, string]> = [['ip', s.ip.toLowerCase()]];
  if (s.geo?.country) out.push(['country', s.geo.country.toUpperCase()]);
  if (s.geo?.asn !== undefined) out.push(['asn', String(s.geo.asn)]);
  return out;
}

/** Records a sign-in into the baseline (an upsert per fact). */
export async function observeSignIn(db: Kysely<Database>, s: SignIn): Promise<void> {
  const user = s.userId.toLowerCase();
  for (const [kind, value] of facts(s)) {
    await db
      .insertInto('user_baseline')
      .values({ tenant_id: s.tenantId, user_id: user, kind, value, first_seen: s.at, last_seen: s.at, count: 1 })
      .onConflict((oc) =>
        oc.columns(['tenant_id', 'user_id', 'kind', 'value']).doUpdateSet((eb) => ({
          count: eb('user_baseline.count', '+', 1),
          last_seen: sql<string>`CASE WHEN excluded.last_seen > user_baseline.last_seen THEN excluded.last_seen ELSE user_baseline.last_seen END`,
          first_seen: sql<string>`CASE WHEN excluded.first_seen < user_baseline.first_seen THEN excluded.first_seen ELSE user_baseline.first_seen END`,
        })),
      )
      .execute();
  }
}

/** Whether this IP / country / ASN is new for the user (before any record at or after `before`). */
export async function baselineVerdict(db: Kysely<Database>, q: { tenantId: string; userId: string; ip?: string; geo?: GeoInfo; before?: string }): Promise<BaselineVerdict> {
  const user = q.userId.toLowerCase();
  const scoped = () => {
    let b = db.selectFrom('user_baseline').where('tenant_id', '=', q.tenantId).where('user_id', '=', user);
    if (q.before) b = b.where('first_seen', '<', q.before);
    return b;
  };
  const any = await scoped().select('kind').limit(1).executeTakeFirst();
  if (!any) return { known: false };
  const wanted = facts({ ip: q.ip ?? '', geo: q.geo }).filter(([k]) => k !== 'ip' || q.ip);
  const rows = wanted.length
    ? await scoped()
        .select(['kind', 'value'])
        .where((eb) => eb.or(wanted.map(([k, v]) => eb.and([eb('kind', '=', k), eb('value', '=', v)]))))
        .execute()
    : [];
  const has = (kind: string, value: string) => rows.some((r) => r.kind === kind && r.value === value);
  const v: BaselineVerdict = { known: true };
  if (q.ip) v.newIp = !has('ip', q.ip.toLowerCase());
  if (q.geo?.country) v.newCountry = !has('country', q.geo.country.toUpperCase());
  if (q.geo?.asn !== undefined) v.newAsn = !has('asn', String(q.geo.asn));
  return v;
}

/** Everything known about a user's sign-ins (alert detail, console). */
export async function userBaseline(db: Kysely<Database>, tenantId: string, userId: string): Promise<Array<{ kind: string; value: string; firstSeen: string; lastSeen: string; count: number }>> {
  const rows = await db
    .selectFrom('user_baseline')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId.toLowerCase())
    .orderBy('kind')
    .orderBy('last_seen', 'desc')
    .limit(500)
    .execute();
  return rows.map((r) => ({ kind: r.kind, value: r.value, firstSeen: r.first_seen, lastSeen: r.last_seen, count: r.count }));
}

/** The few fields of a normalized record the baseline reads (src/detect/record.ts NormalizedRecord). */
export interface SignInRecordLike {
  operation: string;
  succeeded: boolean;
  tenantId: string;
  userId: string;
  clientIp: string;
  creationTime: string;
}

/**
 * Feeds the baseline from a batch of records (the pipeline calls this in the blob's transaction, after
 * the alerts are recorded so a record is never "seen before" by its own alert): successful interactive
 * sign-ins only (UserLoggedIn with ResultStatus success). Returns how many sign-ins were observed.
 */
export async function observeSignInRecords(db: Kysely<Database>, records: readonly SignInRecordLike[], geo?: { lookup(ip: string): GeoInfo | undefined }): Promise<number> {
  let n = 0;
  for (const r of records) {
    if (r.operation !== 'UserLoggedIn' || !r.succeeded || !r.userId || !r.clientIp || !r.creationTime) continue;
    const ip = r.clientIp.trim().slice(0, 64);
    let g: GeoInfo | undefined;
    try {
      g = geo?.lookup(ip);
    } catch {
      g = undefined;
    }
    await observeSignIn(db, { tenantId: r.tenantId, userId: r.userId.slice(0, 320), ip, geo: g, at: r.creationTime });
    n++;
  }
  return n;
}
