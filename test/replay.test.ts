// `tenantwatch replay` over the shared audit fixtures (scored against their labels) and over every input format.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { detectFormat, formatSummary, runReplay } from '../src/cli/replay-cmd.ts';
import { severityRank, type Severity } from '../src/model.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const FIXTURES = path.resolve(ROOT, '../shared/fixtures/audit');
if (!existsSync(path.join(FIXTURES, 'labels.json'))) {
  throw new Error(`the shared audit fixtures are missing: expected ${FIXTURES} (shared/ beside the repository)`);
}

interface Label {
  tier: string;
  behaviours: string[];
  tolerated?: string[];
  attempt?: boolean;
}
interface Out {
  recordId: string;
  ruleId: string;
  behaviour: string;
  severity: Severity;
  tenantId: string;
  userId: string;
  summary: string;
  attempt: boolean;
}

async function replay(paths: string[], opts: Partial<Parameters<typeof runReplay>[0]> = {}) {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c) => chunks.push(c));
  const summary = await runReplay({ paths, output: 'jsonl', ...opts }, { stdout, stderr: new PassThrough() });
  const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean);
  return { summary, out: lines.map((l) => JSON.parse(l) as Out) };
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-replay-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('replay over the shared fixtures', async () => {
  const labels = JSON.parse(readFileSync(path.join(FIXTURES, 'labels.json'), 'utf8')) as Record<string, Label>;
  const { summary, out } = await replay([path.join(FIXTURES, 'records')], { contextFile: path.join(FIXTURES, 'context.yaml') });
  const byRecord = new Map<string, Out[]>();
  for (const d of out) byRecord.set(d.recordId, [...(byRecord.get(d.recordId) ?? []), d]);

  it('finds every labelled behaviour (100% on every tier)', () => {
    const missed: string[] = [];
    for (const [id, l] of Object.entries(labels)) {
      const got = new Set((byRecord.get(id) ?? []).map((d) => d.behaviour));
      for (const b of l.behaviours) if (!got.has(b)) missed.push(`${l.tier} ${id} ${b}`);
    }
    expect(missed).toEqual([]);
  });

  it('raises no detection of medium or above that is not labelled or tolerated', () => {
    const falseAlerts: string[] = [];
    for (const d of out) {
      const l = labels[d.recordId];
      const allowed = l ? [...l.behaviours, ...(l.tolerated ?? [])] : [];
      if (!allowed.includes(d.behaviour) && severityRank(d.severity) >= severityRank('medium')) falseAlerts.push(`${d.recordId} ${d.behaviour} ${d.severity}: ${d.summary}`);
    }
    expect(falseAlerts).toEqual([]);
  });

  it('flags failed operations as attempts at most low', () => {
    for (const [id, l] of Object.entries(labels)) {
      if (!l.attempt) continue;
      for (const d of (byRecord.get(id) ?? []).filter((x) => l.behaviours.includes(x.behaviour))) {
        expect(d.attempt).toBe(true);
        expect(severityRank(d.severity)).toBeLessThanOrEqual(severityRank('low'));
      }
    }
  });

  it('skips the malformed lines with their file and line and keeps the good records around them', () => {
    const robust = summary.malformed.filter((m) => m.file.endsWith('robustness.jsonl')).map((m) => m.line);
    expect(robust).toEqual([2, 3, 4, 5, 6]);
    expect(byRecord.get('5bad3124-4588-452b-9280-c52e92ef05d3')?.map((d) => d.behaviour)).toContain('mailbox-forwarding-external');
    expect(summary.noContextRecords).toBe(0);
    expect(summary.files).toBe(5);
    expect(formatSummary(summary)).toContain('robustness.jsonl:2');
  });

  it('prints detections in CreationTime order with the contract fields', () => {
    for (const d of out) expect(Object.keys(d).slice(0, 8)).toEqual(['recordId', 'ruleId', 'behaviour', 'severity', 'tenantId', 'userId', 'summary', 'attempt']);
  });
});

const rec = (id: string, time: string, to: string, extra: Record<string, unknown> = {}) => ({
  Id: id,
  CreationTime: time,
  Operation: 'New-InboxRule',
  OrganizationId: '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11',
  UserId: 'jane@contoso.com',
  ResultStatus: 'True',
  Parameters: [{ Name: 'Name', Value: 'a,b]}"\\' }, { Name: 'ForwardTo', Value: to }],
  ...extra,
});

describe('replay input formats', () => {
  it('streams a content-blob JSON array with tricky strings, reporting bad elements by line', async () => {
    const file = path.join(tmp, 'blob.json');
    writeFileSync(file, `[\n${JSON.stringify(rec('b1', '2026-01-02T00:00:00', 'x@out.example'))},\n{"Id": "broken", nope},\n 17,\n ${JSON.stringify(rec('b2', '2026-01-01T00:00:00', 'y@out.example'))}\n]`);
    expect(detectFormat(file)).toBe('json');
    const { summary, out } = await replay([file], { acceptedDomains: ['contoso.com'] });
    expect(out.map((d) => d.recordId)).toEqual(['b2', 'b1']);
    expect(summary.malformed.map((m) => [m.line, m.reason.split(':')[0]])).toEqual([[3, 'bad JSON'], [4, 'not a record (number)']]);
  });

  it('keeps the records before the cut of a truncated JSON array and says it is truncated', async () => {
    const file = path.join(tmp, 'cut.json');
    writeFileSync(file, `[${JSON.stringify(rec('t1', '2026-01-02T00:00:00', 'x@out.example'))},{"Id":"t2","Para`);
    const { summary, out } = await replay([file], { acceptedDomains: ['contoso.com'] });
    expect(out.map((d) => d.recordId)).toEqual(['t1']);
    expect(summary.malformed.map((m) => m.reason)).toContain('the JSON array is not closed (truncated file)');
  });

  it('reads a Purview CSV export with a BOM and the AuditData column', async () => {
    const file = path.join(tmp, 'export.csv');
    const row = (r: object) => `${(r as { Id: string }).Id},2026-01-01T00:00:00.0000000Z,ExchangeAdmin,New-InboxRule,jane@contoso.com,"${JSON.stringify(r).replace(/"/g, '""')}",,`;
    writeFileSync(file, '\uFEFFRecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n' + row(rec('c1', '2026-01-01T00:00:00', 'x@out.example')) + '\r\nc2,2026-01-01,ExchangeAdmin,New-InboxRule,jane,"{not json}",,\r\n');
    expect(detectFormat(file)).toBe('purview-csv');
    const { summary, out } = await replay([file], { acceptedDomains: ['contoso.com'] });
    expect(out.map((d) => d.recordId)).toEqual(['c1']);
    expect(summary.malformed.map((m) => m.line)).toEqual([3]);
  });

  it('judges external-ness as unknown without context and reports the tenant', async () => {
    const file = path.join(tmp, 'lines.jsonl');
    writeFileSync(file, JSON.stringify(rec('d1', '2026-01-01T00:00:00', 'x@out.example')) + '\n');
    const { summary, out } = await replay([file]);
    expect(out).toEqual([]);
    expect(summary.noContextRecords).toBe(1);
    expect(summary.noContextTenants).toEqual(['2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11']);
  });

  it('evaluates in CreationTime order across files even when it spills sorted runs to disk', async () => {
    const dir = path.join(tmp, 'many');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    // user b forwards first (later file), user a second: shared-destination must name a's record
    writeFileSync(path.join(dir, '1.jsonl'), JSON.stringify(rec('late', '2026-01-03T00:00:00', 'drop@out.example', { UserId: 'a@contoso.com' })) + '\n');
    const filler = Array.from({ length: 300 }, (_, i) => JSON.stringify({ Id: `f${i}`, CreationTime: '2026-01-02T00:00:00', Operation: 'UserLoggedIn', OrganizationId: 'x', UserId: `u${i}@x.org`, ClientIP: '90.24.113.8' })).join('\n');
    writeFileSync(path.join(dir, '2.jsonl'), JSON.stringify(rec('early', '2026-01-01T00:00:00', 'drop@out.example', { UserId: 'b@contoso.com' })) + '\n' + filler + '\n');
    const { out } = await replay([dir], { acceptedDomains: ['contoso.com'], memoryBudgetBytes: 20_000 });
    const shared = out.filter((d) => d.behaviour === 'shared-destination');
    expect(shared.map((d) => d.recordId)).toEqual(['late']);
    expect(out[0].recordId).toBe('early');
  });

  it('applies exclusions only with --apply-exclusions', async () => {
    const file = path.join(tmp, 'excl.jsonl');
    const ctxFile = path.join(tmp, 'ctx.yaml');
    writeFileSync(file, JSON.stringify(rec('e1', '2026-01-01T00:00:00', 'billing@partner.example')) + '\n');
    writeFileSync(ctxFile, 'tenants:\n  - id: 2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11\n    acceptedDomains: [contoso.com]\n    exclusions:\n      - { behaviour: inbox-rule-external-forward, destination: "*@partner.example" }\n');
    expect((await replay([file], { contextFile: ctxFile })).out.length).toBe(1);
    const excluded = await replay([file], { contextFile: ctxFile, applyExclusions: true });
    expect(excluded.out.length).toBe(0);
    expect(excluded.summary.excluded).toBe(1);
  });
});

describe('the replay command', () => {
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/tenantwatch.js'), 'replay', ...args], { cwd: ROOT, timeout: 60_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('prints JSON lines on a pipe, the summary on stderr, and exits 0 despite malformed records', async () => {
    const r = await run([path.join(FIXTURES, 'records/robustness.jsonl'), '--context', path.join(FIXTURES, 'context.yaml')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l: Out) => l.recordId)).toContain('5bad3124-4588-452b-9280-c52e92ef05d3');
    expect(r.stderr).toContain('malformed records: 5');
  });

  it('exits 1 with a coded error when no input can be read', async () => {
    const r = await run([path.join(tmp, 'does-not-exist.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TW_REPLAY_NO_INPUT');
    expect(r.stdout).toBe('');
  });

  it('exits 2 on a bad context file, listing its problems', async () => {
    const bad = path.join(tmp, 'bad.yaml');
    writeFileSync(bad, 'tenants: [{id: nope}]\n');
    const r = await run([path.join(FIXTURES, 'records'), '--context', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('TW_CONTEXT_FILE_INVALID');
  });
});
