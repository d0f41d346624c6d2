// `tenantwatch rules list | show <id> | test | explain <record.json>`: the rule pack as data.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { OperatorError } from '../errors.ts';
import type { TenantContext } from '../model.ts';
import { runRuleCases } from '../detect/cases.ts';
import { createDetector } from '../detect/detector.ts';
import { createMemoryHistory } from '../detect/history.ts';
import type { RulePack } from '../detect/rule-schema.ts';
import { normalizeRecord } from '../ingest/normalize.ts';
import { createGeoLookup } from '../enrich/geo.ts';
import { contextFromDomains, parseTenantContextFile } from '../tenants/context-file.ts';
import { loadRulePackFromDirs } from '../../rules/index.ts';
import { action, configFor } from './common.ts';

function loadPack(c: Command): { pack: RulePack; overrides: ReturnType<typeof configFor>['detect']['overrides'] } {
  const config = configFor(c);
  const { pack, problems } = loadRulePackFromDirs(config.detect.ruleDirs);
  if (problems.length) throw new OperatorError('TW_RULES_INVALID', { count: problems.length }, { details: problems });
  return { pack, overrides: config.detect.overrides };
}

const out = (s: string) => process.stdout.write(s);

export function registerRules(program: Command): void {
  const cmd = program.command('rules').description('the detection rule pack: list, show, test, explain');

  cmd
    .command('list')
    .description('list the loaded rules (built-in pack, then local rule directories)')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { json?: boolean }, c: Command) => {
        const { pack, overrides } = loadPack(c);
        if (o.json) {
          out(JSON.stringify(pack.rules.map((r) => ({ id: r.id, title: r.title, behaviour: r.behaviour, severity: r.severity, mitre: r.mitre, operations: r.operations, enabled: r.enabled, source: r.source }))) + '\n');
          return 0;
        }
        for (const r of pack.rules) {
          const ov = overrides.filter((x) => x.ruleId === r.id);
          out(`${r.id.padEnd(32)} ${r.severity.padEnd(8)} ${r.behaviour.padEnd(28)} ${r.title}${r.enabled ? '' : ' (disabled)'}${ov.length ? ` [${ov.length} override(s)]` : ''}\n`);
        }
        out(`${pack.rules.length} rule(s), ${pack.cases.reduce((n, f) => n + f.cases.length, 0)} case(s)\n`);
        return 0;
      }),
    );

  cmd
    .command('show <id>')
    .description('a rule in full: rationale, false positives, MITRE technique, runbook')
    .action(
      action(async (id: string, _o: unknown, c: Command) => {
        const { pack } = loadPack(c);
        const r = pack.rules.find((x) => x.id === id);
        if (!r) throw new OperatorError('TW_RULE_NOT_FOUND', { id });
        const { source, ...rest } = r;
        out(`# ${r.title}\n# ${source ?? ''}\n`);
        out(YAML.stringify(rest, { lineWidth: 110 }));
        return 0;
      }),
    );

  cmd
    .command('test')
    .description('run every rule\'s cases (rules/<id>.cases.yaml); exit 1 when one fails')
    .option('--rule <id>', 'only this rule\'s cases')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { rule?: string; json?: boolean }, c: Command) => {
        const { pack } = loadPack(c);
        const results = runRuleCases(pack, { only: o.rule, geo: createGeoLookup() });
        const failed = results.filter((r) => !r.ok);
        if (o.json) out(JSON.stringify(results) + '\n');
        else {
          for (const r of results) out(`${r.ok ? 'ok  ' : 'FAIL'} ${r.ruleId}: ${r.name} — ${r.message}\n`);
          const withoutCases = pack.rules.filter((r) => !pack.cases.some((cs) => cs.rule === r.id)).map((r) => r.id);
          if (withoutCases.length) out(`rules without cases: ${withoutCases.join(', ')}\n`);
          out(`${results.length - failed.length} passed, ${failed.length} failed\n`);
        }
        if (failed.length) throw new OperatorError('TW_RULE_CASES_FAILED', { failed: failed.length, total: results.length });
        return 0;
      }),
    );

  cmd
    .command('explain <record>')
    .description('which facts were derived from a record (a JSON file) and why each rule fired or not')
    .option('--context <file>', 'tenant context file')
    .option('--accepted-domains <list>', 'comma-separated accepted domains (when no context file)')
    .option('--json', 'print JSON')
    .action(
      action(async (file: string, o: { context?: string; acceptedDomains?: string; json?: boolean }, c: Command) => {
        const { pack, overrides } = loadPack(c);
        let raw: unknown;
        try {
          raw = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
        } catch (e) {
          throw new OperatorError('TW_RECORD_UNREADABLE', { path: file, reason: (e as Error).message.slice(0, 200) });
        }
        if (Array.isArray(raw)) raw = raw[0];
        const n = normalizeRecord(raw);
        if (!n.ok) throw new OperatorError('TW_RECORD_UNREADABLE', { path: file, reason: n.reason });
        let ctx: TenantContext | undefined;
        if (o.context) {
          const parsed = parseTenantContextFile(readFileSync(o.context, 'utf8'));
          if (parsed.problems.length) throw new OperatorError('TW_CONTEXT_FILE_INVALID', { path: o.context, count: parsed.problems.length }, { details: parsed.problems });
          ctx = parsed.tenants.find((t) => t.tenantId === n.record.tenantId);
        }
        ctx ??= contextFromDomains(n.record.tenantId, o.acceptedDomains ? o.acceptedDomains.split(',') : []);
        const detector = createDetector({ pack, overrides, geo: createGeoLookup() });
        const ex = detector.explain(n.record, ctx, createMemoryHistory());
        if (o.json) {
          out(JSON.stringify(ex, null, 2) + '\n');
          return 0;
        }
        out(`record ${ex.record.id}: ${ex.record.operation} by ${ex.record.userId} at ${ex.record.creationTime}${ex.record.clientIp ? ` from ${ex.record.clientIp}` : ''}${ex.record.succeeded ? '' : ' (failed: an attempt)'}\n`);
        out(`tenant ${ex.record.tenantId}: ${ctx.known ? `accepted domains ${ctx.acceptedDomains.map((d) => d.domain + (d.matchSubdomains ? ' (+subdomains)' : '')).join(', ')}` : 'no context (external-ness unknown)'}\n`);
        if (ex.rules.length === 0) out('no rule handles this operation\n');
        for (const r of ex.rules) {
          out(`\n${r.matched ? 'FIRED' : 'no   '} ${r.ruleId}${r.disabled ? ' (disabled by an override)' : ''}${r.severity ? ` → ${r.severity}` : ''}\n`);
          for (const cnd of r.conditions) out(`   ${cnd.held ? '✓' : '✗'} ${cnd.condition}   (value: ${cnd.value})\n`);
        }
        out('\nfacts derived:\n');
        for (const [k, v] of Object.entries(ex.facts)) out(`  ${k} = ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}\n`);
        for (const d of ex.detections) out(`\ndetection: ${d.severity} ${d.behaviour}: ${d.summary}\n`);
        return 0;
      }),
    );
}
