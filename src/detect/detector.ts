// The evaluator: rules indexed by operation, so a record only meets the rules that can match it;
// facts derived lazily once per record; history (sign-in baselines, shared destinations) read before
// and updated after the record. Pure and synchronous.
import { SEVERITIES, severityRank, type Detection, type Severity, type TenantContext } from '../model.ts';
import { FACT_INDEX, externalDestinations, factValue, forwarding, inboxRule, signin, type FactEnv, type FactValue } from './facts/index.ts';
import { contactFromRecord, isContactOperation, recordContact, recordDestinations, recordSignin, type GeoLookup } from './facts/signin.ts';
import { CROSS_TENANT, contactKey, destinationKey, signinKey, type History, type HistoryKey } from './history.ts';
import type { NormalizedRecord } from './record.ts';
import type { Condition, Rule, RuleOverride, RulePack } from './rule-schema.ts';

export interface DetectorOptions {
  pack: RulePack;
  geo?: GeoLookup;
  /** config detect.overrides: disable a rule or change its severity, for every tenant or one. */
  overrides?: readonly RuleOverride[];
}

export interface RuleTrace {
  ruleId: string;
  matched: boolean;
  /** One line per condition: the fact, its value and whether it held. */
  conditions: Array<{ condition: string; value: string; held: boolean }>;
  severity?: Severity;
  disabled?: boolean;
}

export interface Explanation {
  record: { id: string; operation: string; tenantId: string; userId: string; creationTime: string; clientIp: string; succeeded: boolean };
  facts: Record<string, unknown>;
  rules: RuleTrace[];
  detections: Detection[];
}

export interface Detector {
  readonly rules: readonly Rule[];
  /** Detections for one record (history is read, then updated with this record). */
  evaluate(rec: NormalizedRecord, ctx: TenantContext | undefined, history?: History): Detection[];
  /** Which facts were derived and why each candidate rule fired or not. Does not update history. */
  explain(rec: NormalizedRecord, ctx: TenantContext | undefined, history?: History): Explanation;
  /** History keys the evaluation of this record may read or write (for the pipeline to preload). */
  historyKeys(rec: NormalizedRecord, ctx: TenantContext | undefined): HistoryKey[];
  /**
   * Cheap pre-filter on a raw record's Operation: false when no rule handles it and it feeds no history,
   * so the caller may skip evaluating it (most benign records: mail access, file access, sends).
   */
  handles(operation: unknown): boolean;
}

const EMPTY: Detection[] = [];

const FORWARDING_OPS = new Set(['new-inboxrule', 'set-inboxrule', 'updateinboxrules', 'set-mailbox', 'set-remotemailbox', 'set-mailuser']);
const SIGNIN_SUCCESS = 'userloggedin';

function isEmpty(v: FactValue): boolean {
  return v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
}

function evalCondition(c: Condition, env: FactEnv, trace?: RuleTrace['conditions']): boolean {
  if ('all' in c) return c.all.every((x) => evalCondition(x, env, trace));
  if ('any' in c) return c.any.some((x) => evalCondition(x, env, trace));
  if ('not' in c) return !evalCondition(c.not, env, undefined);
  const v = factValue(env, c.fact);
  const held = holds(c, v);
  // The description is only built for a trace (rules explain): the hot path allocates nothing here.
  if (trace) trace.push({ condition: describe(c), value: show(v), held });
  return held;
}

/** Case-insensitive equality of strings, else ===. */
function same(v: FactValue, x: unknown): boolean {
  if (typeof v === 'string' && typeof x === 'string') return v === x || v.toLowerCase() === x.toLowerCase();
  return v === x;
}

type LeafCondition = Exclude<Condition, { all: Condition[] } | { any: Condition[] } | { not: Condition }>;

function holds(c: LeafCondition, v: FactValue): boolean {
  if (c.is !== undefined) return (v === true) === c.is;
  if (c.nonEmpty !== undefined) return !isEmpty(v) === c.nonEmpty;
  if (c.eq !== undefined) return same(v, c.eq);
  if (c.ne !== undefined) return !same(v, c.ne);
  if (c.in !== undefined) return c.in.some((x) => same(v, x));
  if (c.notIn !== undefined) return !c.notIn.some((x) => same(v, x));
  if (c.contains !== undefined) {
    const needle = c.contains.toLowerCase();
    return Array.isArray(v) ? v.some((x) => x.toLowerCase() === needle) : typeof v === 'string' && v.toLowerCase().includes(needle);
  }
  const n = typeof v === 'number' ? v : NaN;
  if (c.gt !== undefined) return n > c.gt;
  if (c.gte !== undefined) return n >= c.gte;
  if (c.lt !== undefined) return n < c.lt;
  if (c.lte !== undefined) return n <= c.lte;
  return false;
}

function describe(c: LeafCondition): string {
  if (c.is !== undefined) return `${c.fact} is ${c.is}`;
  if (c.nonEmpty !== undefined) return `${c.fact} ${c.nonEmpty ? 'is not empty' : 'is empty'}`;
  if (c.eq !== undefined) return `${c.fact} = ${c.eq}`;
  if (c.ne !== undefined) return `${c.fact} ≠ ${c.ne}`;
  if (c.in !== undefined) return `${c.fact} in [${c.in.join(', ')}]`;
  if (c.notIn !== undefined) return `${c.fact} not in [${c.notIn.join(', ')}]`;
  if (c.contains !== undefined) return `${c.fact} contains ${c.contains}`;
  if (c.gt !== undefined) return `${c.fact} > ${c.gt}`;
  if (c.gte !== undefined) return `${c.fact} ≥ ${c.gte}`;
  if (c.lt !== undefined) return `${c.fact} < ${c.lt}`;
  if (c.lte !== undefined) return `${c.fact} ≤ ${c.lte}`;
  return `${c.fact} (no operator)`;
}

function show(v: FactValue): string {
  if (v === undefined) return '(none)';
  if (Array.isArray(v)) return `[${v.slice(0, 10).join(', ')}${v.length > 10 ? ', …' : ''}]`;
  return String(v);
}

/** Removes control characters and bounds a value placed in a one-line summary. */
export function oneLine(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  return t.length > max ? t.slice(0, max) + '…' : t;
}

function render(template: string, env: FactEnv): string {
  const out = template.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, (_m, name: string) => {
    const v = factValue(env, name);
    if (Array.isArray(v)) return oneLine(v.slice(0, 5).join(', ') + (v.length > 5 ? ` (+${v.length - 5} more)` : ''));
    return v === undefined || v === '' ? '(none)' : oneLine(String(v));
  });
  return oneLine(out, 500);
}

function factsOf(c: Condition, into: Set<string>): void {
  if ('all' in c) c.all.forEach((x) => factsOf(x, into));
  else if ('any' in c) c.any.forEach((x) => factsOf(x, into));
  else if ('not' in c) factsOf(c.not, into);
  else into.add(c.fact);
}

interface CompiledRule {
  rule: Rule;
  facts: string[];
}

function minSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) <= severityRank(b) ? a : b;
}

export function createDetector(opts: DetectorOptions): Detector {
  const overrides = opts.overrides ?? [];
  const index = new Map<string, CompiledRule[]>();
  const compiled: CompiledRule[] = [];
  for (const rule of opts.pack.rules) {
    if (!rule.enabled) continue;
    const facts = new Set<string>();
    rule.conditions.forEach((c) => factsOf(c, facts));
    rule.severityWhen.forEach((s) => s.when.forEach((c) => factsOf(c, facts)));
    for (const m of rule.summary.matchAll(/\{([A-Za-z][A-Za-z0-9]*)\}/g)) if (FACT_INDEX.has(m[1])) facts.add(m[1]);
    if (rule.target) facts.add(rule.target);
    const cr = { rule, facts: [...facts] };
    compiled.push(cr);
    for (const op of rule.operations) {
      for (const key of new Set([op, op.toLowerCase()])) {
        const list = index.get(key) ?? [];
        if (!list.includes(cr)) list.push(cr);
        index.set(key, list);
      }
    }
  }

  // Operations seen that no rule handles (bounded), so the common benign record costs one lookup.
  const misses = new Set<string>();
  function candidates(rec: NormalizedRecord): CompiledRule[] | undefined {
    const op = rec.operation;
    const hit = index.get(op);
    if (hit || misses.has(op)) return hit;
    const lower = index.get(op.toLowerCase());
    if (!lower && misses.size < 4096) misses.add(op);
    return lower;
  }

  function override(ruleId: string, tenantId: string): { enabled: boolean; severity?: Severity } {
    let enabled = true;
    let severity: Severity | undefined;
    // tenant-wide first, then tenant-specific (more specific wins)
    for (const pass of [false, true]) {
      for (const o of overrides) {
        if (o.ruleId !== ruleId) continue;
        if (pass ? o.tenantId?.toLowerCase() !== tenantId : o.tenantId !== undefined) continue;
        if (o.enabled !== undefined) enabled = o.enabled;
        if (o.severity !== undefined) severity = o.severity;
      }
    }
    return { enabled, severity };
  }

  function detect(cr: CompiledRule, env: FactEnv, trace?: RuleTrace): Detection | undefined {
    const { rule } = cr;
    const rec = env.rec;
    const ov = override(rule.id, rec.tenantId);
    if (!ov.enabled) {
      if (trace) trace.disabled = true;
      return undefined;
    }
    const conds = trace?.conditions;
    let matched = true;
    for (const c of rule.conditions) {
      if (!evalCondition(c, env, conds)) {
        matched = false;
        if (!trace) break;
      }
    }
    if (trace) trace.matched = matched;
    if (!matched) return undefined;
    let severity: Severity = rule.severity;
    for (const s of rule.severityWhen) {
      if (s.when.every((c) => evalCondition(c, env, undefined))) {
        severity = s.severity;
        break;
      }
    }
    if (ov.severity) severity = ov.severity;
    const attempt = !rec.succeeded;
    if (attempt) severity = minSeverity(severity, 'low');
    if (!rule.serviceActors && factValue(env, 'actorIsService') === true) severity = minSeverity(severity, 'low');
    if (trace) trace.severity = severity;
    const facts: Record<string, unknown> = {};
    for (const f of cr.facts) {
      const v = factValue(env, f);
      if (v !== undefined) facts[f] = v;
    }
    let target: string | undefined;
    if (rule.target) {
      const t = factValue(env, rule.target);
      target = Array.isArray(t) ? t.slice().sort().join(',') : t === undefined || t === '' ? undefined : String(t);
      if (target) target = target.slice(0, 512);
    }
    const d: Detection = {
      recordId: rec.id,
      ruleId: rule.id,
      behaviour: rule.behaviour,
      severity,
      tenantId: rec.tenantId,
      userId: rec.userId,
      summary: render(rule.summary, env),
      attempt,
      occurredAt: rec.creationTime,
      facts,
    };
    if (target) d.target = target;
    if (rec.clientIp) d.clientIp = rec.clientIp;
    if (rec.clientIp && env.history && !('ipSeenBefore' in facts) && rule.behaviour !== 'signin-anomaly') {
      facts.ipSeenBefore = signin(env).ipSeenBefore;
    }
    return d;
  }

  function update(env: FactEnv, history: History): void {
    const rec = env.rec;
    const op = rec.operation.toLowerCase();
    // only completed sign-ins teach the baseline (ErrorNumber 0; an interrupted one may be the attacker's)
    if (op === SIGNIN_SUCCESS && rec.succeeded && (rec.errorNumber === '' || rec.errorNumber === '0')) {
      recordSignin(rec, signin(env), history);
    } else if (FORWARDING_OPS.has(op)) {
      const dests = externalDestinations(env);
      if (dests.length > 0) recordDestinations(rec, dests, history);
    }
    if (isContactOperation(op)) recordContact(rec, history);
  }

  function newEnv(rec: NormalizedRecord, ctx: TenantContext | undefined, history: History | undefined): FactEnv {
    return { rec, ctx, history, geo: opts.geo, memo: new Map() };
  }

  // One reusable environment for evaluate() (synchronous, never re-entered): no per-record Map.
  const shared: FactEnv = { rec: undefined as unknown as NormalizedRecord, ctx: undefined, history: undefined, geo: opts.geo, memo: new Map() };
  const reuse = (rec: NormalizedRecord, ctx: TenantContext | undefined, history: History | undefined): FactEnv => {
    shared.rec = rec;
    shared.ctx = ctx;
    shared.history = history;
    shared.memo.clear();
    return shared;
  };
  const handled = new Map<string, boolean>();

  return {
    rules: compiled.map((c) => c.rule),
    handles(operation) {
      if (typeof operation !== 'string') return true; // let normalization report it
      let h = handled.get(operation);
      if (h === undefined) {
        const op = operation.trim();
        h = index.has(op) || index.has(op.toLowerCase()) || op.toLowerCase() === SIGNIN_SUCCESS || FORWARDING_OPS.has(op.toLowerCase()) || isContactOperation(op);
        if (handled.size < 4096) handled.set(operation, h);
      }
      return h;
    },
    evaluate(rec, ctx, history) {
      const list = candidates(rec);
      if (!list) {
        // No rule can match; history may still learn from a sign-in or a new mail contact.
        if (history && rec.succeeded) {
          const op = rec.operation.toLowerCase();
          if (op === SIGNIN_SUCCESS || isContactOperation(op)) update(reuse(rec, ctx, history), history);
        }
        return EMPTY;
      }
      const env = reuse(rec, ctx, history);
      let out: Detection[] | undefined;
      for (const cr of list) {
        const d = detect(cr, env);
        if (d) (out ??= []).push(d);
      }
      if (history) update(env, history);
      return out ?? EMPTY;
    },
    explain(rec, ctx, history) {
      const env = newEnv(rec, ctx, history);
      const list = candidates(rec) ?? [];
      const rules: RuleTrace[] = [];
      const detections: Detection[] = [];
      for (const cr of list) {
        const trace: RuleTrace = { ruleId: cr.rule.id, matched: false, conditions: [] };
        const d = detect(cr, env, trace);
        rules.push(trace);
        if (d) detections.push(d);
      }
      const facts: Record<string, unknown> = {};
      for (const [k, v] of env.memo) if (!k.startsWith('#') && v !== undefined) facts[k] = v;
      return {
        record: { id: rec.id, operation: rec.operation, tenantId: rec.tenantId, userId: rec.userId, creationTime: rec.creationTime, clientIp: rec.clientIp, succeeded: rec.succeeded },
        facts,
        rules,
        detections,
      };
    },
    historyKeys(rec, ctx) {
      const keys: HistoryKey[] = [];
      if (rec.userId && rec.clientIp) keys.push({ tenantId: rec.tenantId, key: signinKey(rec.userId) });
      const op = rec.operation.toLowerCase();
      if (FORWARDING_OPS.has(op)) {
        const env = newEnv(rec, ctx, undefined);
        const ir = inboxRule(env);
        const fw = forwarding(env);
        const addrs = new Set<string>();
        for (const r of [...(ir?.recipients ?? []), ...(fw?.targets ?? [])]) {
          if (r.address) addrs.add(r.address);
          else if (r.kind === 'name') keys.push({ tenantId: rec.tenantId, key: contactKey(r.raw) });
        }
        for (const a of addrs) keys.push({ tenantId: CROSS_TENANT, key: destinationKey(a) });
      }
      const contact = contactFromRecord(rec);
      if (contact) for (const n of contact.names) keys.push({ tenantId: rec.tenantId, key: contactKey(n) });
      return keys;
    },
  };
}

export { SEVERITIES };
