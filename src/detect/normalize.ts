// Turns one raw audit record (attacker-influenced JSON) into a NormalizedRecord, or says why not.
// Never throws; bounds every string; does no I/O. Wire reference: design/m365-api.md §3.
import { ipToBigInt } from './facts/ip.ts';
import {
  LIMITS,
  TRUNCATION_MARK,
  type IdentityRef,
  type ModifiedProperty,
  type NameValue,
  type NormalizedRecord,
} from './record.ts';

export type { NormalizedRecord } from './record.ts';

export type RecordOutcome = { ok: true; record: NormalizedRecord } | { ok: false; id?: string; reason: string };

export interface NormalizeOptions {
  /** The record's source text, when the caller has it: kept (bounded) as `raw` for evidence. */
  rawText?: string;
  /** Serialise the record (bounded) into `raw` when no `rawText` is given. Default false. */
  keepRaw?: boolean;
}

const MAX_ID = 256;

interface Cut {
  truncated: boolean;
}

function bound(s: string, cut: Cut): string {
  if (s.length <= LIMITS.maxString) return s;
  cut.truncated = true;
  return s.slice(0, LIMITS.maxString) + TRUNCATION_MARK;
}

/** Any JSON value as a bounded string: strings as-is, scalars via String, arrays joined by ';'. */
function str(v: unknown, cut: Cut): string {
  if (typeof v === 'string') return v.length <= LIMITS.maxString ? v : bound(v, cut);
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const parts: string[] = [];
    let len = 0;
    for (let i = 0; i < v.length && i < LIMITS.maxEntries && len <= LIMITS.maxString; i++) {
      const p = str(v[i], cut);
      parts.push(p);
      len += p.length + 1;
    }
    return bound(parts.join(';'), cut);
  }
  try {
    return bound(JSON.stringify(v) ?? '', cut);
  } catch {
    return '';
  }
}

function optNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v !== '' && v.length < 20) {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return undefined;
}

/** `[{Name, Value}]` (or an object map) → NameValue[]; tolerant of nulls, wrong types and huge lists. */
export function nameValues(v: unknown, cut: Cut = { truncated: false }): NameValue[] {
  if (v === null || v === undefined) return [];
  if (typeof v === 'string') return parsePowerShellParameters(v);
  const out: NameValue[] = [];
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && out.length < LIMITS.maxEntries; i++) {
      const e = v[i] as Record<string, unknown> | null;
      if (!e || typeof e !== 'object') continue;
      const name = e.Name ?? e.name;
      if (typeof name !== 'string' || name === '') continue;
      out.push({ name: bound(name, cut), value: str(e.Value ?? e.value, cut) });
    }
    return out;
  }
  if (typeof v === 'object') {
    for (const k of Object.keys(v as object)) {
      if (out.length >= LIMITS.maxEntries) break;
      out.push({ name: bound(k, cut), value: str((v as Record<string, unknown>)[k], cut) });
    }
  }
  return out;
}

function modifiedProperties(v: unknown, cut: Cut): ModifiedProperty[] {
  if (!Array.isArray(v)) return [];
  const out: ModifiedProperty[] = [];
  for (let i = 0; i < v.length && out.length < LIMITS.maxEntries; i++) {
    const e = v[i] as Record<string, unknown> | null;
    if (!e || typeof e !== 'object') continue;
    const name = e.Name ?? e.name;
    if (typeof name !== 'string' || name === '') continue;
    out.push({ name: bound(name, cut), newValue: str(e.NewValue, cut), oldValue: str(e.OldValue, cut) });
  }
  return out;
}

function identities(v: unknown, cut: Cut): IdentityRef[] {
  if (!Array.isArray(v)) return [];
  const out: IdentityRef[] = [];
  for (let i = 0; i < v.length && out.length < 64; i++) {
    const e = v[i] as Record<string, unknown> | null;
    if (!e || typeof e !== 'object') continue;
    const id = e.ID ?? e.Id ?? e.id;
    if (typeof id !== 'string') continue;
    const t = e.Type;
    out.push({ id: bound(id, cut), type: typeof t === 'number' || typeof t === 'string' ? t : undefined });
  }
  return out;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;

/** CreationTime (zone-less = UTC; any fraction; Z or offset) → ISO-8601 UTC with ms and Z, or undefined. */
export function normalizeTimestamp(v: unknown): { iso: string; time: number } | undefined {
  if (typeof v !== 'string' || v.length > 40) return undefined;
  // Fast path: the usual zone-less "2025-03-04T10:02:41".
  let candidate: string;
  if (v.length === 19 && v.charCodeAt(10) === 84 /* T */ && v.charCodeAt(4) === 45 && v.charCodeAt(13) === 58) {
    candidate = v + '.000Z';
  } else {
    const m = ISO_RE.exec(v.trim());
    if (!m) return undefined;
    const ms = (m[7] ?? '').padEnd(3, '0').slice(0, 3);
    const zone = m[8] === undefined || m[8] === 'z' ? 'Z' : m[8];
    candidate = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${ms}${zone}`;
  }
  const time = Date.parse(candidate);
  if (!Number.isFinite(time)) return undefined;
  // Reject calendar nonsense that Date.parse rolls over (2025-02-31, 24:00).
  const year = Number(candidate.slice(0, 4));
  const month = Number(candidate.slice(5, 7));
  const day = Number(candidate.slice(8, 10));
  const hour = Number(candidate.slice(11, 13));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23) return undefined;
  if (candidate.charCodeAt(candidate.length - 1) === 90 /* Z */ && candidate.length === 24) return { iso: candidate, time };
  return { iso: new Date(time).toISOString(), time };
}

/**
 * An IP as logged (`1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, bare IPv6, `::ffff:1.2.3.4`, '')
 * → the bare address, or '' when it is not an IP.
 */
export function normalizeIp(v: unknown): string {
  if (typeof v !== 'string') return '';
  let s = v.trim();
  if (s === '' || s.length > 64) return '';
  if (s.charCodeAt(0) === 91 /* [ */) {
    const end = s.indexOf(']');
    if (end < 0) return '';
    s = s.slice(1, end);
  } else {
    const first = s.indexOf(':');
    if (first >= 0 && first === s.lastIndexOf(':')) {
      // exactly one colon: IPv4 with a port
      s = s.slice(0, first);
    }
  }
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const kind = isIP(s);
  if (kind === 4) return s;
  if (kind === 6) {
    s = s.toLowerCase();
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
    if (mapped && isIP(mapped[1]) === 4) return mapped[1];
    return s;
  }
  return '';
}

/** Fast dotted-quad check (no allocation beyond the loop). */
function isIpv4(s: string): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return false;
      parts++;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else return false;
  }
  return parts === 3 && digits > 0;
}

function isIP(s: string): 0 | 4 | 6 {
  if (isIpv4(s)) return 4;
  if (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s) && ipToBigInt(s)?.v === 6) return 6;
  return 0;
}

const FAILED = new Set(['false', 'failed', 'failure', 'fail', 'error']);

/** ResultStatus → succeeded flag: only an explicit failure is false (True/Succeeded/PartiallySucceeded/Success/'' are true). */
export function succeededFrom(resultStatus: string): boolean {
  return !FAILED.has(resultStatus.trim().toLowerCase());
}

/**
 * A PowerShell-style parameter string (`New-InboxRule -Name "f" -ForwardTo "x@y.z","a@b.c" -MarkAsRead:$true
 * -StopProcessingRules`) → NameValue[]. Lists join with ';'. Linear in the (bounded) input; never throws.
 */
export function parsePowerShellParameters(input: string): NameValue[] {
  const s = input.length > 65536 ? input.slice(0, 65536) : input;
  const out: NameValue[] = [];
  const n = s.length;
  let i = 0;
  let current: string | undefined;
  let values: string[] = [];
  const flush = () => {
    if (current !== undefined && out.length < LIMITS.maxEntries) {
      let value = values.join(';');
      if (values.length === 0) value = 'True';
      if (value.length > LIMITS.maxString) value = value.slice(0, LIMITS.maxString) + TRUNCATION_MARK;
      out.push({ name: current, value });
    }
    current = undefined;
    values = [];
  };
  const isNameStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  const isNameChar = (c: number) => isNameStart(c) || (c >= 48 && c <= 57) || c === 95;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 44 /* , */) {
      i++;
      continue;
    }
    if (c === 45 /* - */ && i + 1 < n && isNameStart(s.charCodeAt(i + 1)) && (i === 0 || /[\s,]/.test(s[i - 1]))) {
      flush();
      let j = i + 1;
      while (j < n && isNameChar(s.charCodeAt(j))) j++;
      current = s.slice(i + 1, j);
      i = j;
      if (i < n && s.charCodeAt(i) === 58 /* : */) i++; // -Switch:$true
      continue;
    }
    // a value token
    let value: string;
    if (c === 34 || c === 39 || c === 0x201c || c === 0x2018) {
      const close = c === 0x201c ? 0x201d : c === 0x2018 ? 0x2019 : c;
      let j = i + 1;
      let buf = '';
      while (j < n) {
        const d = s.charCodeAt(j);
        if (d === close || (close === 0x201d && d === 34) || (close === 0x2019 && d === 39)) {
          if (j + 1 < n && s.charCodeAt(j + 1) === d) {
            buf += s[j];
            j += 2;
            continue;
          }
          break;
        }
        if (d === 96 /* ` */ && c === 34 && j + 1 < n) {
          buf += s[j + 1];
          j += 2;
          continue;
        }
        buf += s[j];
        j++;
      }
      value = buf;
      i = j + 1;
    } else {
      let j = i;
      while (j < n) {
        const d = s.charCodeAt(j);
        if (d === 32 || d === 9 || d === 10 || d === 13 || d === 44) break;
        j++;
      }
      value = s.slice(i, j);
      i = j;
      const lower = value.toLowerCase();
      if (lower === '$true') value = 'True';
      else if (lower === '$false') value = 'False';
      else if (lower === '$null') value = '';
    }
    if (current !== undefined) values.push(value);
    // a bare leading token (the cmdlet name) is ignored
  }
  flush();
  return out;
}

function firstIp(r: Record<string, unknown>): string {
  return normalizeIp(r.ClientIP) || normalizeIp(r.ClientIPAddress) || normalizeIp(r.ActorIpAddress) || normalizeIp(r.ClientIp);
}

/** Bounded JSON of a record for evidence: long strings cut, total cut to LIMITS.maxRawJson. */
export function boundedJson(raw: unknown): string {
  let text: string;
  try {
    text =
      JSON.stringify(raw, (_k, v) =>
        typeof v === 'string' && v.length > LIMITS.maxString ? v.slice(0, LIMITS.maxString) + TRUNCATION_MARK : v,
      ) ?? '';
  } catch {
    return '';
  }
  return text.length > LIMITS.maxRawJson ? text.slice(0, LIMITS.maxRawJson) + TRUNCATION_MARK : text;
}

/**
 * The NormalizedRecord built by normalizeRecord: scalar fields are set at once; the lists (Parameters,
 * properties, Actor/Target) are parsed on first use, since most records never need them. Serialises
 * (JSON.stringify / toJSON) to the plain NormalizedRecord shape.
 */
class LazyRecord implements NormalizedRecord {
  // Assigned once by normalizeUnsafe, always in the same order (one hidden class, no double writes).
  declare id: string;
  declare creationTime: string;
  declare time: number;
  declare operation: string;
  declare recordType: number | string | undefined;
  declare workload: string;
  declare tenantId: string;
  declare userId: string;
  declare userType: number | undefined;
  declare objectId: string;
  declare resultStatus: string;
  declare succeeded: boolean;
  declare clientIp: string;
  declare appId: string;
  declare clientAppId: string;
  declare clientInfoString: string;
  declare mailboxOwnerUpn: string;
  declare logonType: number | undefined;
  declare externalAccess: boolean | undefined;
  declare errorNumber: string;
  declare logonError: string;
  declare raw?: string;
  #src: Record<string, unknown>;
  #cut: Cut;
  #parameters?: NameValue[];
  #operationProperties?: NameValue[];
  #extendedProperties?: NameValue[];
  #modifiedProperties?: ModifiedProperty[];
  #actor?: IdentityRef[];
  #target?: IdentityRef[];
  constructor(src: Record<string, unknown>, cut: Cut) {
    this.#src = src;
    this.#cut = cut;
  }
  get parameters(): NameValue[] {
    return (this.#parameters ??= nameValues(this.#src.Parameters, this.#cut));
  }
  get operationProperties(): NameValue[] {
    return (this.#operationProperties ??= nameValues(this.#src.OperationProperties, this.#cut));
  }
  get extendedProperties(): NameValue[] {
    return (this.#extendedProperties ??= nameValues(this.#src.ExtendedProperties, this.#cut));
  }
  get modifiedProperties(): ModifiedProperty[] {
    return (this.#modifiedProperties ??= modifiedProperties(this.#src.ModifiedProperties, this.#cut));
  }
  get actor(): IdentityRef[] {
    return (this.#actor ??= identities(this.#src.Actor, this.#cut));
  }
  get target(): IdentityRef[] {
    return (this.#target ??= identities(this.#src.Target, this.#cut));
  }
  get truncated(): boolean {
    for (const list of [this.parameters, this.operationProperties, this.extendedProperties, this.modifiedProperties, this.actor, this.target]) void list;
    return this.#cut.truncated;
  }
  /** The plain NormalizedRecord (every list parsed). */
  toJSON(): NormalizedRecord {
    return {
      id: this.id, creationTime: this.creationTime, time: this.time, operation: this.operation, recordType: this.recordType,
      workload: this.workload, tenantId: this.tenantId, userId: this.userId, userType: this.userType, objectId: this.objectId,
      resultStatus: this.resultStatus, succeeded: this.succeeded, clientIp: this.clientIp, parameters: this.parameters,
      operationProperties: this.operationProperties, extendedProperties: this.extendedProperties, modifiedProperties: this.modifiedProperties,
      actor: this.actor, target: this.target, appId: this.appId, clientAppId: this.clientAppId, clientInfoString: this.clientInfoString,
      mailboxOwnerUpn: this.mailboxOwnerUpn, logonType: this.logonType, externalAccess: this.externalAccess, errorNumber: this.errorNumber,
      logonError: this.logonError, truncated: this.truncated, ...(this.raw !== undefined ? { raw: this.raw } : {}),
    };
  }
}

/** Normalizes one raw audit record. Never throws. */
export function normalizeRecord(raw: unknown, opts: NormalizeOptions = {}): RecordOutcome {
  try {
    return normalizeUnsafe(raw, opts);
  } catch (e) {
    const id = raw && typeof raw === 'object' && typeof (raw as { Id?: unknown }).Id === 'string' ? (raw as { Id: string }).Id : undefined;
    return { ok: false, id: id && id.length <= MAX_ID ? id : undefined, reason: `unreadable record: ${String((e as Error)?.message ?? e).slice(0, 200)}` };
  }
}

function normalizeUnsafe(raw: unknown, opts: NormalizeOptions): RecordOutcome {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, reason: `not a record (${raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw})` };
  }
  const r = raw as Record<string, unknown>;
  const id = r.Id;
  if (typeof id !== 'string' || id === '') return { ok: false, reason: 'missing Id' };
  if (id.length > MAX_ID) return { ok: false, reason: 'Id too long' };
  const ts = normalizeTimestamp(r.CreationTime);
  if (!ts) return { ok: false, id, reason: r.CreationTime === undefined ? 'missing CreationTime' : 'CreationTime is not a timestamp' };
  const op = r.Operation;
  if (typeof op !== 'string' || op.trim() === '') return { ok: false, id, reason: op === undefined ? 'missing Operation' : 'Operation is not a string' };
  if (op.length > 256) return { ok: false, id, reason: 'Operation too long' };
  const cut: Cut = { truncated: false };
  const org = r.OrganizationId;
  const resultStatus = typeof r.ResultStatus === 'string' ? bound(r.ResultStatus, cut) : r.ResultStatus === undefined || r.ResultStatus === null ? '' : str(r.ResultStatus, cut);
  const record = new LazyRecord(r, cut);
  record.id = id;
  record.creationTime = ts.iso;
  record.time = ts.time;
  record.operation = op.trim();
  record.recordType = typeof r.RecordType === 'number' || typeof r.RecordType === 'string' ? r.RecordType : undefined;
  record.workload = typeof r.Workload === 'string' ? bound(r.Workload, cut) : '';
  record.tenantId = typeof org === 'string' && org.length <= MAX_ID ? org.trim().toLowerCase() : '';
  record.userId = str(r.UserId, cut).trim();
  record.userType = optNumber(r.UserType);
  record.objectId = str(r.ObjectId, cut);
  record.resultStatus = resultStatus;
  // UserLoginFailed is a failure whatever ResultStatus says (on sign-ins it reflects the HTTP step).
  record.succeeded = succeededFrom(resultStatus) && record.operation !== 'UserLoginFailed';
  record.clientIp = firstIp(r);
  record.appId = str(r.AppId, cut);
  record.clientAppId = str(r.ClientAppId, cut);
  record.clientInfoString = str(r.ClientInfoString, cut);
  record.mailboxOwnerUpn = str(r.MailboxOwnerUPN, cut);
  record.logonType = optNumber(r.LogonType);
  record.externalAccess = typeof r.ExternalAccess === 'boolean' ? r.ExternalAccess : typeof r.ExternalAccess === 'string' ? r.ExternalAccess.toLowerCase() === 'true' : undefined;
  record.errorNumber = str(r.ErrorNumber, cut);
  record.logonError = str(r.LogonError, cut);
  if (opts.rawText !== undefined) {
    record.raw = opts.rawText.length > LIMITS.maxRawJson ? opts.rawText.slice(0, LIMITS.maxRawJson) + TRUNCATION_MARK : opts.rawText;
  } else if (opts.keepRaw) {
    record.raw = boundedJson(raw);
  }
  return { ok: true, record };
}
