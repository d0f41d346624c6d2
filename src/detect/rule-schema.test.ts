import { describe, expect, it } from 'vitest';
import { buildRulePack, parseRule } from './rule-schema.ts';

const good = `id: my-rule
title: A rule for tests
behaviour: inbox-rule-hide
severity: medium
mitre: [T1564.008]
operations: [New-InboxRule]
conditions:
  - { fact: inboxRuleHidingScore, gte: 2 }
  - any:
      - { fact: inboxRuleName, eq: "." }
      - { not: { fact: inboxRuleEnabled, is: false } }
summary: '{userId} made {inboxRuleName}'
description: A test rule with enough text.
falsePositives: [none]
runbook: Look at it carefully.
`;

describe('rule schema', () => {
  it('accepts a valid rule and fills defaults', () => {
    const r = parseRule(good, 'rules/my-rule.yaml');
    expect(r.problems).toEqual([]);
    expect(r.rule).toMatchObject({ id: 'my-rule', enabled: true, severityWhen: [], serviceActors: false });
  });

  it('lists every problem at once, with its place', () => {
    const bad = `id: Bad_Id
title: x
behaviour: not-a-behaviour
severity: urgent
mitre: [1114]
operations: []
summary: s
`;
    const r = parseRule(bad, 'rules/bad.yaml');
    expect(r.rule).toBeUndefined();
    const text = r.problems.join('\n');
    for (const field of ['id', 'title', 'behaviour', 'severity', 'mitre.0', 'operations', 'summary', 'description', 'falsePositives', 'runbook']) {
      expect(text).toContain(`rules/bad.yaml: ${field}`);
    }
  });

  it('rejects unknown facts, operator/type mismatches and unknown summary fields', () => {
    const r = parseRule(
      good
        .replace('inboxRuleHidingScore, gte: 2', 'noSuchFact, is: true')
        .replace('inboxRuleName, eq: "."', 'inboxRuleRecipients, eq: "x"')
        .replace('{inboxRuleName}', '{bogus}'),
      'rules/my-rule.yaml',
    );
    expect(r.problems.some((p) => p.includes("unknown fact 'noSuchFact'"))).toBe(true);
    expect(r.problems.some((p) => p.includes('does not apply to a list fact'))).toBe(true);
    expect(r.problems.some((p) => p.includes("summary: unknown fact '{bogus}'"))).toBe(true);
  });

  it('rejects a condition with two operators and a file named after another id', () => {
    const r = parseRule(good.replace('gte: 2', 'gte: 2, lte: 9'), 'rules/other.yaml');
    expect(r.problems.some((p) => p.includes('exactly one operator'))).toBe(true);
    expect(r.problems.some((p) => p.includes('file name must be my-rule.yaml'))).toBe(true);
  });

  it('is not YAML-bomb or code: anchors are bounded and tags stay data', () => {
    const bomb = 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n';
    expect(parseRule(bomb, 'x.yaml').problems.length).toBeGreaterThan(0);
  });

  it('lets a later rule with the same id replace an earlier one and checks cases refer to rules', () => {
    const { pack, problems } = buildRulePack([
      { path: 'builtin/my-rule.yaml', text: good },
      { path: 'local/my-rule.yaml', text: good.replace('severity: medium', 'severity: high') },
      { path: 'local/ghost.cases.yaml', text: 'rule: ghost\ncases:\n  - {name: one case, expect: none, record: {}}\n  - {name: two case, expect: none, record: {}}\n' },
    ]);
    expect(pack.rules).toHaveLength(1);
    expect(pack.rules[0].severity).toBe('high');
    expect(problems).toEqual(["local/ghost.cases.yaml: cases for unknown rule 'ghost'"]);
  });
});
