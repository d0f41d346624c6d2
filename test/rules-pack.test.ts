// The built-in rule pack: every rule loads, covers the behaviours, and every case in rules/*.cases.yaml passes.
import { describe, expect, it } from 'vitest';
import { BEHAVIOURS } from '../src/model.ts';
import { runRuleCases } from '../src/detect/cases.ts';
import { createGeoLookup } from '../src/enrich/geo.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';

const { pack, problems } = loadRulePackFromDirs();
const results = runRuleCases(pack, { geo: createGeoLookup() });

describe('the built-in rule pack', () => {
  it('loads without a problem', () => {
    expect(problems).toEqual([]);
    expect(pack.rules.length).toBeGreaterThanOrEqual(10);
  });

  it('covers every behaviour of the fixed vocabulary', () => {
    const covered = new Set(pack.rules.map((r) => r.behaviour));
    expect(BEHAVIOURS.filter((b) => !covered.has(b))).toEqual([]);
  });

  it('gives every rule a cases file with positive and negative cases', () => {
    for (const r of pack.rules) {
      const file = pack.cases.find((c) => c.rule === r.id);
      expect(file, `cases for ${r.id}`).toBeDefined();
      expect(file!.cases.some((c) => c.expect === 'fire'), `${r.id} has a positive case`).toBe(true);
      expect(file!.cases.some((c) => c.expect === 'none'), `${r.id} has a negative case`).toBe(true);
    }
  });

  it.each(results.map((r) => [`${r.ruleId}: ${r.name}`, r] as const))('%s', (_name, r) => {
    expect(r.ok, r.message).toBe(true);
  });
});
