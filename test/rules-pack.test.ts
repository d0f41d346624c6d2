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

describe('the rules command', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const root = path.resolve(import.meta.dirname, '..');
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, [path.join(root, 'bin/tenantwatch.js'), 'rules', ...args], { cwd: root, timeout: 60_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('lists the rules as JSON and shows one with its runbook and MITRE technique', async () => {
    const list = await run(['list', '--json']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((r) => r.id)).toContain('inbox-rule-external-forward');
    const show = await run(['show', 'inbox-rule-delete-all']);
    expect(show.stdout).toContain('runbook:');
    expect(show.stdout).toContain('T1564.008');
    expect((await run(['show', 'no-such-rule'])).code).toBe(2);
  });

  it('explains why rules fired on a record', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-explain-'));
    try {
      const file = path.join(dir, 'r.json');
      writeFileSync(file, JSON.stringify({ Id: 'e1', CreationTime: '2026-01-01T00:00:00', Operation: 'New-InboxRule', OrganizationId: 't', UserId: 'jane@contoso.com', ResultStatus: 'True', Parameters: [{ Name: 'Name', Value: '.' }, { Name: 'ForwardTo', Value: 'x@evilcontoso.com' }] }));
      const r = await run(['explain', file, '--accepted-domains', 'contoso.com', '--json']);
      expect(r.code).toBe(0);
      const ex = JSON.parse(r.stdout) as { rules: Array<{ ruleId: string; matched: boolean }>; facts: Record<string, unknown> };
      expect(ex.rules.find((x) => x.ruleId === 'inbox-rule-external-forward')?.matched).toBe(true);
      expect(ex.facts.inboxRuleExternalRecipients).toEqual(['x@evilcontoso.com']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
