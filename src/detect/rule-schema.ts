// The rule schema: a rule is data (rules/<id>.yaml) — operations to match and conditions over named
// facts with simple comparisons. No expression language. Validated at load; every problem is listed.
import YAML from 'yaml';
import { z } from 'zod';
import { BEHAVIOURS, SEVERITIES, type Behaviour, type Severity } from '../model.ts';
import { FACT_INDEX, type FactType } from './facts/index.ts';

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | {
      fact: string;
      is?: boolean;
      eq?: string | number;
      ne?: string | number;
      in?: Array<string | number>;
      notIn?: Array<string | number>;
      contains?: string;
      gt?: number;
      gte?: number;
      lt?: number;
      lte?: number;
      nonEmpty?: boolean;
    };

const OPERATORS = ['is', 'eq', 'ne', 'in', 'notIn', 'contains', 'gt', 'gte', 'lt', 'lte', 'nonEmpty'] as const;

const scalar = z.union([z.string(), z.number()]);
const factCondition = z
  .object({
    fact: z.string().min(1),
    is: z.boolean().optional(),
    eq: scalar.optional(),
    ne: scalar.optional(),
    in: z.array(scalar).optional(),
    notIn: z.array(scalar).optional(),
    contains: z.string().optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    nonEmpty: z.boolean().optional(),
  })
  .strict();

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.object({ all: z.array(conditionSchema).min(1) }).strict(),
    z.object({ any: z.array(conditionSchema).min(1) }).strict(),
    z.object({ not: conditionSchema }).strict(),
    factCondition,
  ]),
) as z.ZodType<Condition>;

export const ruleSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,80}$/, 'lower-case letters, digits and -'),
    title: z.string().min(3).max(200),
    behaviour: z.enum(BEHAVIOURS),
    severity: z.enum(SEVERITIES),
    mitre: z.array(z.string().regex(/^T\d{4}(\.\d{3})?$/, 'a MITRE ATT&CK technique id such as T1114.003')).min(1),
    operations: z.array(z.string().min(1)).min(1),
    conditions: z.array(conditionSchema).default([]),
    severityWhen: z
      .array(z.object({ when: z.array(conditionSchema).min(1), severity: z.enum(SEVERITIES) }).strict())
      .default([]),
    /** A fact naming what the alert is about (rule name, destination, app …), for grouping. */
    target: z.string().optional(),
    /** One line; {factName} is replaced by the fact's value. */
    summary: z.string().min(3).max(500),
    description: z.string().min(10),
    falsePositives: z.array(z.string()).min(1),
    runbook: z.string().min(10),
    references: z.array(z.string()).default([]),
    /** Service actors (NT AUTHORITY\SYSTEM …) are capped at low unless the rule says they matter. */
    serviceActors: z.boolean().default(false),
    enabled: z.boolean().default(true),
  })
  .strict();

export type Rule = z.infer<typeof ruleSchema> & { source?: string };

export interface RuleCaseRaw {
  name: string;
  expect: 'fire' | 'none';
  severity?: Severity;
  attempt?: boolean;
  record: Record<string, unknown>;
  history?: Array<Record<string, unknown>>;
  context?: unknown;
  geo?: Record<string, { country?: string; asn?: number; asOrg?: string; hosting?: boolean }>;
}

const geoEntry = z.object({ country: z.string().optional(), asn: z.number().optional(), asOrg: z.string().optional(), hosting: z.boolean().optional() }).strict();

export const casesSchema = z
  .object({
    rule: z.string(),
    context: z.unknown().optional(),
    geo: z.record(z.string(), geoEntry).optional(),
    cases: z
      .array(
        z
          .object({
            name: z.string().min(3),
            expect: z.enum(['fire', 'none']),
            severity: z.enum(SEVERITIES).optional(),
            attempt: z.boolean().optional(),
            record: z.record(z.string(), z.unknown()),
            history: z.array(z.record(z.string(), z.unknown())).optional(),
            context: z.unknown().optional(),
            geo: z.record(z.string(), geoEntry).optional(),
          })
          .strict(),
      )
      .min(2),
  })
  .strict();

export type RuleCases = z.infer<typeof casesSchema> & { source?: string };

function typeOk(type: FactType, op: (typeof OPERATORS)[number], value: unknown): string | undefined {
  switch (op) {
    case 'is':
      return type === 'boolean' ? undefined : `'is' needs a boolean fact (this one is ${type})`;
    case 'nonEmpty':
      return type === 'string[]' || type === 'string' ? undefined : `'nonEmpty' needs a string or list fact (this one is ${type})`;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return type === 'number' ? undefined : `'${op}' needs a number fact (this one is ${type})`;
    case 'contains':
      return type === 'string[]' || type === 'string' ? undefined : `'contains' needs a string or list fact (this one is ${type})`;
    case 'eq':
    case 'ne':
      if (type === 'string[]') return `'${op}' does not apply to a list fact (use contains)`;
      if (type === 'number' && typeof value !== 'number') return `'${op}' on a number fact needs a number`;
      return undefined;
    default:
      return type === 'string[]' ? `'${op}' does not apply to a list fact` : undefined;
  }
}

/** Checks fact names and operator/fact types; returns problems with their paths. */
export function checkConditions(conds: readonly Condition[], path: string): string[] {
  const problems: string[] = [];
  conds.forEach((c, i) => {
    const p = `${path}[${i}]`;
    if ('all' in c) problems.push(...checkConditions(c.all, `${p}.all`));
    else if ('any' in c) problems.push(...checkConditions(c.any, `${p}.any`));
    else if ('not' in c) problems.push(...checkConditions([c.not], `${p}.not`));
    else {
      const def = FACT_INDEX.get(c.fact);
      if (!def) {
        problems.push(`${p}.fact: unknown fact '${c.fact}'`);
        return;
      }
      const ops = OPERATORS.filter((o) => (c as Record<string, unknown>)[o] !== undefined);
      if (ops.length !== 1) problems.push(`${p}: give exactly one operator (${OPERATORS.join(', ')}); found ${ops.length}`);
      for (const o of ops) {
        const t = typeOk(def.type, o, (c as Record<string, unknown>)[o]);
        if (t) problems.push(`${p}.${o}: ${t}`);
      }
    }
  });
  return problems;
}

function templateFields(template: string): string[] {
  const out: string[] = [];
  const re = /\{([A-Za-z][A-Za-z0-9]*)\}/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(template)) !== null) out.push(m[1]);
  return out;
}

function zodProblems(e: z.ZodError, source: string): string[] {
  return e.issues.map((i) => `${source}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

/** Parses and validates one rule file. */
export function parseRule(text: string, source: string): { rule?: Rule; problems: string[] } {
  let data: unknown;
  try {
    data = YAML.parse(text, { maxAliasCount: 100 });
  } catch (e) {
    return { problems: [`${source}: not YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
  const r = ruleSchema.safeParse(data);
  if (!r.success) return { problems: zodProblems(r.error, source) };
  const rule: Rule = { ...r.data, source };
  const problems: string[] = [];
  problems.push(...checkConditions(rule.conditions, 'conditions').map((p) => `${source}: ${p}`));
  rule.severityWhen.forEach((s, i) => problems.push(...checkConditions(s.when, `severityWhen[${i}].when`).map((p) => `${source}: ${p}`)));
  for (const ph of templateFields(rule.summary)) if (!FACT_INDEX.has(ph)) problems.push(`${source}: summary: unknown fact '{${ph}}'`);
  if (rule.target && !FACT_INDEX.has(rule.target)) problems.push(`${source}: target: unknown fact '${rule.target}'`);
  const base = source.replace(/\\/g, '/').split('/').pop() ?? '';
  if (base.endsWith('.yaml') && base !== `${rule.id}.yaml`) problems.push(`${source}: file name must be ${rule.id}.yaml`);
  return problems.length ? { problems } : { rule, problems };
}

/** Parses and validates one cases file. */
export function parseRuleCases(text: string, source: string): { cases?: RuleCases; problems: string[] } {
  let data: unknown;
  try {
    data = YAML.parse(text, { maxAliasCount: 100 });
  } catch (e) {
    return { problems: [`${source}: not YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
  const r = casesSchema.safeParse(data);
  if (!r.success) return { problems: zodProblems(r.error, source) };
  return { cases: { ...r.data, source }, problems: [] };
}

export interface RuleOverride {
  ruleId: string;
  tenantId?: string;
  enabled?: boolean;
  severity?: Severity;
}

export interface RulePack {
  rules: Rule[];
  cases: RuleCases[];
}

export interface RuleSource {
  path: string;
  text: string;
}

/**
 * Builds a pack from rule and cases files (built-in first, then local directories: a later rule with
 * the same id replaces the earlier one). Returns every problem found.
 */
export function buildRulePack(sources: readonly RuleSource[]): { pack: RulePack; problems: string[] } {
  const problems: string[] = [];
  const byId = new Map<string, Rule>();
  const cases: RuleCases[] = [];
  for (const s of sources) {
    if (s.path.endsWith('.cases.yaml')) {
      const r = parseRuleCases(s.text, s.path);
      problems.push(...r.problems);
      if (r.cases) cases.push(r.cases);
    } else if (s.path.endsWith('.yaml') || s.path.endsWith('.yml')) {
      const r = parseRule(s.text, s.path);
      problems.push(...r.problems);
      if (r.rule) byId.set(r.rule.id, r.rule);
    }
  }
  for (const c of cases) if (!byId.has(c.rule)) problems.push(`${c.source}: cases for unknown rule '${c.rule}'`);
  return { pack: { rules: [...byId.values()], cases }, problems };
}

export type { Behaviour, Severity };
