// Suppression: exclusions (tenant context + operator-defined rows) and trusted IPs. A suppressed alert is
// kept, with the reason, and not notified.
import { BlockList, isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Detection, Exclusion } from '../model.ts';
import { OperatorError } from '../errors.ts';

/** `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `2001:db8::1` → the bare address (or undefined). */
export function bareIp(s: string | undefined): string | undefined {
  if (!s) return undefined;
  let t = s.trim().slice(0, 64);
  const bracket = /^\[([0-9a-fA-F:.]+)\](?::\d+)?$/.exec(t);
  if (bracket) t = bracket[1];
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(t)) t = t.slice(0, t.lastIndexOf(':'));
  return isIP(t) ? t : undefined;
}

/** A CIDR (or single address) as a BlockList; undefined when malformed. */
export function rangeList(ranges: readonly string[]): { list: BlockList; bad: string[] } {
  const list = new BlockList();
  const bad: string[] = [];
  for (const r of ranges) {
    const [addr, prefix] = r.trim().split('/');
    const fam = isIP(addr ?? '');
    if (!fam) {
      bad.push(r);
      continue;
    }
    const type = fam === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr, type);
    else {
      const n = Number(prefix);
      if (!/^\d{1,3}$/.test(prefix) || n > (fam === 6 ? 128 : 32)) {
        bad.push(r);
        continue;
      }
      list.addSubnet(addr, n, type);
    }
  }
  return { list, bad };
}

export function ipInRanges(ip: string | undefined, ranges: readonly string[]): boolean {
  const bare = bareIp(ip);
  if (!bare || ranges.length === 0) return false;
  return rangeList(ranges).list.check(bare, isIP(bare) === 6 ? 'ipv6' : 'ipv4');
}

const EMAIL = /^[^\s@<>"]{1,200}@[A-Za-z0-9.-]{1,253}$/;

/** Destination addresses a detection points at (its target and address-like facts), lower-cased, bounded. */
export function destinationsOf(d: Detection): string[] {
  const out = new Set<string>();
  const consider = (v: unknown) => {
    if (out.size >= 50) return;
    if (typeof v === 'string') {
      for (const part of v.slice(0, 2000).split(/[;,\s]+/)) {
        const p = part.replace(/^smtp:/i, '').replace(/^<|>$/g, '');
        if (EMAIL.test(p)) out.add(p.toLowerCase());
      }
    } else if (Array.isArray(v)) v.slice(0, 50).forEach(consider);
  };
  consider(d.target);
  if (d.facts) for (const [k, v] of Object.entries(d.facts)) if (/recipient|destination|forward|redirect|address|copy|to$/i.test(k)) consider(v);
  return [...out];
}

function destinationMatches(pattern: string, address: string): boolean {
  const p = pattern.trim().toLowerCase();
  if (p.startsWith('*@')) return address.split('@')[1] === p.slice(2);
  return address === p;
}

/** The first exclusion that covers the detection, or undefined. Expired exclusions never match. */
export function matchExclusion(d: Detection, exclusions: readonly Exclusion[], now: string): Exclusion | undefined {
  for (const x of exclusions) {
    if (x.expiresAt && x.expiresAt <= now) continue;
    if (x.behaviour && x.behaviour !== d.behaviour) continue;
    if (x.ruleId && x.ruleId !== d.ruleId) continue;
    if (x.user && x.user.toLowerCase() !== d.userId.toLowerCase()) continue;
    if (x.ipRange && !ipInRanges(d.clientIp, [x.ipRange])) continue;
    if (x.destination) {
      const dests = destinationsOf(d);
      // Every destination must be excluded: one excluded address among several external ones still alerts.
      if (dests.length === 0 || !dests.every((a) => destinationMatches(x.destination!, a))) continue;
    }
    return x;
  }
  return undefined;
}

export interface Suppression {
  reason: string;
  exclusionId?: string;
}

export function suppressionFor(d: Detection, ctx: { exclusions?: readonly Exclusion[]; trustedIps?: readonly string[] } | undefined, stored: readonly Exclusion[], now: string): Suppression | undefined {
  const x = matchExclusion(d, [...(ctx?.exclusions ?? []), ...stored], now);
  if (x) return { reason: `exclusion${x.id ? ` ${x.id}` : ''}: ${x.reason ?? 'no reason given'}`, exclusionId: x.id };
  if (ipInRanges(d.clientIp, ctx?.trustedIps ?? [])) return { reason: `trusted IP ${bareIp(d.clientIp)}` };
  return undefined;
}

export interface NewExclusion extends Exclusion {
  tenantId?: string;
  reason: string;
  createdBy: string;
}

/** Problems with an exclusion before it is stored (empty = fine). */
export function checkExclusion(x: Partial<NewExclusion>, now: string): string[] {
  const p: string[] = [];
  if (!x.reason || !x.reason.trim()) p.push('reason: required');
  if (x.ipRange && rangeList([x.ipRange]).bad.length) p.push(`ipRange: not an IP address or CIDR range: ${x.ipRange}`);
  if (x.destination && !/^(\*@[A-Za-z0-9.-]{1,253}|[^\s@]{1,200}@[A-Za-z0-9.-]{1,253})$/.test(x.destination)) p.push('destination: expected an address or *@domain');
  if (x.expiresAt && (Number.isNaN(Date.parse(x.expiresAt)) || new Date(x.expiresAt).toISOString() !== x.expiresAt)) p.push('expiresAt: expected ISO-8601 UTC, e.g. 2026-12-31T00:00:00.000Z');
  else if (x.expiresAt && x.expiresAt <= now) p.push('expiresAt: already in the past');
  if (!x.tenantId && !x.user && !x.behaviour && !x.ruleId && !x.destination && !x.ipRange) p.push('an exclusion needs at least one of tenant, user, behaviour, rule, destination, ipRange');
  return p;
}

/** Stores an exclusion; throws TW_USAGE listing every problem. */
export async function addExclusion(db: Kysely<Database>, x: NewExclusion, now: string): Promise<string> {
  const problems = checkExclusion(x, now);
  if (problems.length) throw new OperatorError('TW_USAGE', { detail: `invalid exclusion: ${problems.join('; ')}` });
  const id = `ex_${randomBytes(6).toString('hex')}`;
  await db
    .insertInto('alert_exclusions')
    .values({
      id,
      tenant_id: x.tenantId ?? null,
      user_id: x.user ?? null,
      behaviour: x.behaviour ?? null,
      rule_id: x.ruleId ?? null,
      destination: x.destination ?? null,
      ip_range: x.ipRange ?? null,
      reason: x.reason,
      expires_at: x.expiresAt ?? null,
      created_at: now,
      created_by: x.createdBy,
    })
    .execute();
  return id;
}

export async function removeExclusion(db: Kysely<Database>, id: string): Promise<boolean> {
  const r = await db.deleteFrom('alert_exclusions').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export interface StoredExclusion extends Exclusion {
  id: string;
  tenantId: string | null;
  createdAt: string;
  createdBy: string;
}

/** Stored exclusions (for one tenant: its own plus the global ones); expired ones only when asked. */
export async function listExclusions(db: Kysely<Database>, opts: { tenantId?: string; now?: string; includeExpired?: boolean } = {}): Promise<StoredExclusion[]> {
  let q = db.selectFrom('alert_exclusions').selectAll();
  if (opts.tenantId) q = q.where((eb) => eb.or([eb('tenant_id', 'is', null), eb('tenant_id', '=', opts.tenantId!)]));
  if (!opts.includeExpired && opts.now) q = q.where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', opts.now!)]));
  const rows = await q.orderBy('created_at').limit(10_000).execute();
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    user: r.user_id ?? undefined,
    behaviour: r.behaviour ?? undefined,
    ruleId: r.rule_id ?? undefined,
    destination: r.destination ?? undefined,
    ipRange: r.ip_range ?? undefined,
    reason: r.reason,
    expiresAt: r.expires_at ?? undefined,
    createdAt: r.created_at,
    createdBy: r.created_by,
  }));
}
