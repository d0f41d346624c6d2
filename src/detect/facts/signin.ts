// Sign-in context against the user's own history: new country / ASN, hosting or anonymizer networks,
// trusted IPs, whether an IP was seen before. Reads history before the record updates it.
import type { GeoInfo, TenantContext } from '../../model.ts';
import {
  CROSS_TENANT,
  MAX_ASNS,
  MAX_COUNTRIES,
  MAX_DEST_ENTRIES,
  MAX_IPS,
  SHARED_WINDOW_MS,
  contactKey,
  destinationKey,
  pruneMap,
  signinKey,
  type DestinationState,
  type History,
  type SigninState,
} from '../history.ts';
import type { NormalizedRecord } from '../record.ts';
import { ipInRanges } from './ip.ts';

/** Offline geo/ASN lookup (src/enrich/geo.ts implements it). */
export interface GeoLookup {
  lookup(ip: string): GeoInfo | undefined;
}

export interface SigninFacts {
  ip: string;
  country: string;
  asn: number | undefined;
  asOrg: string;
  hosting: boolean;
  trusted: boolean;
  /** Successful sign-ins of this user seen before this record. */
  historyCount: number;
  newCountry: boolean;
  newAsn: boolean;
  /** The ASN appears in the user's history. */
  asnSeenBefore: boolean;
  ipSeenBefore: boolean;
  /** The user's baseline as read before this record (undefined without history). */
  history: SigninState | undefined;
}

/** Countries the user signed in from before this record. */
export function knownCountries(f: SigninFacts): string[] {
  return f.history ? Object.keys(f.history.c) : [];
}

function readSignin(h: History | undefined, rec: NormalizedRecord): SigninState | undefined {
  if (!h || !rec.userId) return undefined;
  const v = h.get(rec.tenantId, signinKey(rec.userId));
  if (!v || typeof v !== 'object') return undefined;
  const s = v as Partial<SigninState>;
  if (typeof s.n === 'number' && s.c && s.a && s.i && typeof s.c === 'object' && typeof s.a === 'object' && typeof s.i === 'object') return s as SigninState;
  return { n: typeof s.n === 'number' ? s.n : 0, c: s.c && typeof s.c === 'object' ? s.c : {}, a: s.a && typeof s.a === 'object' ? s.a : {}, i: s.i && typeof s.i === 'object' ? s.i : {} };
}

/** Sign-in facts for a record with a client IP (history read, not updated). */
export function signinFacts(rec: NormalizedRecord, ctx: TenantContext | undefined, history: History | undefined, geo: GeoLookup | undefined): SigninFacts {
  const ip = rec.clientIp;
  // the GeoLookup answers nothing for private/reserved addresses (and caches per IP)
  const info = ip && geo ? geo.lookup(ip) : undefined;
  const state = readSignin(history, rec);
  const n = state?.n ?? 0;
  const country = info?.country ?? '';
  const asn = info?.asn;
  return {
    ip,
    country,
    asn,
    asOrg: info?.asOrg ?? '',
    hosting: !!info?.hosting,
    trusted: !!ip && !!ctx && ipInRanges(ip, ctx.trustedIps),
    historyCount: n,
    newCountry: n > 0 && country !== '' && state !== undefined && !(country in state.c),
    newAsn: n > 0 && asn !== undefined && state !== undefined && !(String(asn) in state.a),
    asnSeenBefore: asn !== undefined && state !== undefined && String(asn) in state.a,
    ipSeenBefore: !!ip && state !== undefined && ip in state.i,
    history: state,
  };
}

/** Updates the user's sign-in baseline with a successful sign-in. */
export function recordSignin(rec: NormalizedRecord, f: SigninFacts, history: History): void {
  if (!rec.userId || !f.ip) return;
  const prev = readSignin(history, rec);
  const s: SigninState = prev ?? { n: 0, c: {}, a: {}, i: {} };
  s.n += 1;
  if (f.country) {
    const fresh = !(f.country in s.c);
    s.c[f.country] = rec.time;
    if (fresh) pruneMap(s.c, MAX_COUNTRIES);
  }
  if (f.asn !== undefined) {
    const k = String(f.asn);
    const fresh = !(k in s.a);
    s.a[k] = rec.time;
    if (fresh) pruneMap(s.a, MAX_ASNS);
  }
  const freshIp = !(f.ip in s.i);
  s.i[f.ip] = rec.time;
  if (freshIp) pruneMap(s.i, MAX_IPS);
  history.set(rec.tenantId, signinKey(rec.userId), s);
}

function readDest(h: History, address: string): DestinationState {
  const v = h.get(CROSS_TENANT, destinationKey(address));
  if (!v || typeof v !== 'object' || !Array.isArray((v as DestinationState).e)) return { e: [] };
  return { e: (v as DestinationState).e.filter((x) => x && typeof x.u === 'string' && typeof x.at === 'number') };
}

/** Other users (in any tenant) that forwarded to one of these addresses within 7 days before this record. */
export function sharedDestinationUsers(rec: NormalizedRecord, addresses: readonly string[], history: History | undefined): string[] {
  if (!history || addresses.length === 0) return [];
  const me = rec.userId.toLowerCase();
  const out: string[] = [];
  for (const a of addresses) {
    for (const e of readDest(history, a).e) {
      if (rec.time - e.at > SHARED_WINDOW_MS || e.at - rec.time > SHARED_WINDOW_MS) continue;
      if (e.t === rec.tenantId && e.u === me) continue;
      const label = e.t === rec.tenantId ? e.u : `${e.u} (tenant ${e.t})`;
      if (!out.includes(label)) out.push(label);
    }
  }
  return out;
}

/** Remembers that this record's user forwards to these external addresses. */
export function recordDestinations(rec: NormalizedRecord, addresses: readonly string[], history: History): void {
  const me = rec.userId.toLowerCase();
  for (const a of addresses.slice(0, 32)) {
    const s = readDest(history, a);
    const kept = s.e.filter((e) => rec.time - e.at <= 4 * SHARED_WINDOW_MS && !(e.t === rec.tenantId && e.u === me));
    kept.push({ t: rec.tenantId, u: me, at: rec.time });
    history.set(CROSS_TENANT, destinationKey(a), { e: kept.slice(-MAX_DEST_ENTRIES) });
  }
}

const CONTACT_OPS = new Set(['new-mailcontact', 'set-mailcontact', 'new-mailuser', 'set-mailuser']);
export function isContactOperation(op: string): boolean {
  return CONTACT_OPS.has(op.toLowerCase());
}

/** The names (Name, Alias, DisplayName, Identity) and external address of a New-/Set-MailContact record. */
export function contactFromRecord(rec: NormalizedRecord): { names: string[]; address: string } | undefined {
  if (!isContactOperation(rec.operation) || !rec.succeeded) return undefined;
  let address = '';
  const names: string[] = [];
  for (const p of rec.parameters) {
    const n = p.name.toLowerCase();
    const v = p.value.trim();
    if (!v) continue;
    if (n === 'externalemailaddress') address = v.replace(/^smtp:/i, '').toLowerCase();
    else if ((n === 'name' || n === 'alias' || n === 'displayname' || n === 'identity') && v.length <= 256 && names.length < 8) names.push(v);
  }
  if (!address || !address.includes('@') || names.length === 0) return undefined;
  return { names, address: address.slice(0, 320) };
}

/** Remembers a contact's names → its external address. */
export function recordContact(rec: NormalizedRecord, history: History): void {
  const c = contactFromRecord(rec);
  if (!c) return;
  for (const n of c.names) history.set(rec.tenantId, contactKey(n), c.address);
}

/** A contact address remembered from the audit log for a name, if any. */
export function contactAddress(rec: NormalizedRecord, name: string, history: History | undefined): string | undefined {
  if (!history) return undefined;
  const v = history.get(rec.tenantId, contactKey(name));
  return typeof v === 'string' ? v : undefined;
}
