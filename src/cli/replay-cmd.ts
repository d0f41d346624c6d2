// `tenantwatch replay` (contracts §4): runs the normalisation and the rule pack of the live service over
// audit records on disk (a content-blob JSON array, JSON lines, or a Purview audit CSV export) and prints
// one JSON object per detection. Streams its input; records are evaluated in CreationTime order
// (an external merge sort spills to temporary files when the input is larger than memory allows).
import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { parse as parseCsv } from 'csv-parse';
import { OperatorError } from '../errors.ts';
import { BEHAVIOURS, type Detection, type TenantContext } from '../model.ts';
import { normalizeRecord } from '../ingest/normalize.ts';
import type { NormalizedRecord } from '../detect/record.ts';
import { createDetector, type Detector } from '../detect/detector.ts';
import { createMemoryHistory } from '../detect/history.ts';
import { matchingExclusion } from '../detect/exclusions.ts';
import { createGeoLookup } from '../enrich/geo.ts';
import { contextFromDomains, parseTenantContextFile } from '../tenants/context-file.ts';
import { loadRulePackFromDirs } from '../../rules/index.ts';
import { action, configFor } from './common.ts';

export type InputFormat = 'auto' | 'json' | 'jsonl' | 'purview-csv';

export interface ReplayOptions {
  paths: string[];
  contextFile?: string;
  acceptedDomains?: string[];
  format?: InputFormat;
  output?: 'jsonl' | 'table';
  applyExclusions?: boolean;
  ruleDirs?: string[];
  overrides?: Parameters<typeof createDetector>[0]['overrides'];
  geo?: boolean;
  /** In-memory budget (approximate bytes of records) before spilling sorted runs to disk. */
  memoryBudgetBytes?: number;
}

export interface ReplayIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Show a progress bar on stderr (a terminal). */
  progress?: boolean;
}

export interface MalformedEntry {
  file: string;
  line: number;
  reason: string;
  id?: string;
}

export interface ReplaySummary {
  files: number;
  unreadableFiles: Array<{ file: string; reason: string }>;
  recordsRead: number;
  recordsEvaluated: number;
  malformed: MalformedEntry[];
  malformedCount: number;
  noContextRecords: number;
  noContextTenants: string[];
  detectionsByBehaviour: Record<string, number>;
  detections: number;
  excluded: number;
}

const MAX_ELEMENT_BYTES = 16 * 1024 * 1024;
const MAX_MALFORMED_LISTED = 200;

interface RawItem {
  line: number;
  text?: string;
  value?: unknown;
  error?: string;
}

/** Files to read: files as given, directories walked (.json/.jsonl/.csv), each group in sorted path order. */
export function listInputFiles(paths: readonly string[]): { files: string[]; unreadable: Array<{ file: string; reason: string }> } {
  const files: string[] = [];
  const unreadable: Array<{ file: string; reason: string }> = [];
  const walk = (dir: string, out: string[]) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      unreadable.push({ file: dir, reason: (e as NodeJS.ErrnoException).code ?? 'unreadable' });
      return;
    }
    for (const n of names) {
      const p = path.join(dir, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, out);
      else if (/\.(json|jsonl|ndjson|csv)$/i.test(n)) out.push(p);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      unreadable.push({ file: p, reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : ((e as NodeJS.ErrnoException).code ?? 'unreadable') });
      continue;
    }
    if (st.isDirectory()) {
      const found: string[] = [];
      walk(p, found);
      files.push(...found.sort());
    } else files.push(p);
  }
  return { files, unreadable };
}

function sniff(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8').replace(/^\uFEFF/, '');
  } finally {
    closeSync(fd);
  }
}

/** Decides the format of one file (auto): CSV by header/extension, '[' = content blob, else JSON lines. */
export function detectFormat(file: string): Exclude<InputFormat, 'auto'> {
  const head = sniff(file);
  const firstLine = head.split(/\r?\n/, 1)[0] ?? '';
  if (/\.csv$/i.test(file) || (/(^|,)"?AuditData"?(,|$)/.test(firstLine) && !firstLine.trimStart().startsWith('{'))) return 'purview-csv';
  const t = head.trimStart();
  if (t.startsWith('[')) return 'json';
  if (t.startsWith('{')) {
    // A pretty-printed single object is "json"; one object per line is "jsonl".
    try {
      JSON.parse(firstLine);
      return 'jsonl';
    } catch {
      return 'json';
    }
  }
  return /\.jsonl$|\.ndjson$/i.test(file) ? 'jsonl' : 'json';
}

/** Lines of a stream with their numbers; lines longer than `max` are reported, not buffered. */
async function* streamLines(file: string, max: number): AsyncGenerator<{ line: number; text?: string; tooLong?: boolean }> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let buf = '';
  let lineNo = 1;
  let skipping = false;
  let first = true;
  for await (const chunk0 of stream) {
    let chunk = chunk0 as string;
    if (first) {
      chunk = chunk.replace(/^\uFEFF/, '');
      first = false;
    }
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) {
        if (!skipping) {
          buf += chunk.slice(start);
          if (buf.length > max) {
            skipping = true;
            buf = '';
          }
        }
        break;
      }
      if (skipping) {
        yield { line: lineNo, tooLong: true };
        skipping = false;
      } else {
        const text = buf + chunk.slice(start, nl);
        buf = '';
        if (text.length > max) yield { line: lineNo, tooLong: true };
        else yield { line: lineNo, text: text.endsWith('\r') ? text.slice(0, -1) : text };
      }
      lineNo++;
      start = nl + 1;
    }
  }
  if (skipping) yield { line: lineNo, tooLong: true };
  else if (buf.length > 0) yield { line: lineNo, text: buf.endsWith('\r') ? buf.slice(0, -1) : buf };
}

async function* readJsonl(file: string): AsyncGenerator<RawItem> {
  for await (const l of streamLines(file, MAX_ELEMENT_BYTES)) {
    if (l.tooLong) {
      yield { line: l.line, error: `line longer than ${MAX_ELEMENT_BYTES} characters` };
      continue;
    }
    const t = l.text!.trim();
    if (!t) continue;
    try {
      yield { line: l.line, text: t, value: JSON.parse(t) };
    } catch (e) {
      yield { line: l.line, error: `bad JSON: ${(e as Error).message.slice(0, 120)}` };
    }
  }
}

/**
 * A JSON array of records (a content blob), streamed: top-level elements are cut out by a small
 * scanner (strings, escapes, nesting) so the whole array never sits in memory. A top-level object is
 * read whole (one record, or {value|records|Records: [...]}) within a size bound.
 */
async function* readJsonArray(file: string): AsyncGenerator<RawItem> {
  const head = sniff(file).trimStart();
  if (head.startsWith('{')) {
    const size = statSync(file).size;
    if (size > 256 * 1024 * 1024) {
      yield { line: 1, error: 'a single JSON object larger than 256 MB' };
      return;
    }
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
    } catch (e) {
      yield { line: 1, error: `bad JSON: ${(e as Error).message.slice(0, 120)}` };
      return;
    }
    const list = v && typeof v === 'object' ? ((v as Record<string, unknown>).value ?? (v as Record<string, unknown>).records ?? (v as Record<string, unknown>).Records) : undefined;
    if (Array.isArray(list)) for (const x of list) yield { line: 1, value: x };
    else yield { line: 1, value: v };
    return;
  }
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let depth = 0;
  let inString = false;
  let escape = false;
  let started = false;
  let elem = '';
  let elemLine = 1;
  let elemTooBig = false;
  let elemStarted = false;
  let line = 1;
  let first = true;
  let ended = false;
  const finishElem = function* (): Generator<RawItem> {
    const t = elem.trim();
    if (elemTooBig) yield { line: elemLine, error: `record larger than ${MAX_ELEMENT_BYTES} characters` };
    else if (t) {
      try {
        yield { line: elemLine, text: t, value: JSON.parse(t) };
      } catch (e) {
        yield { line: elemLine, error: `bad JSON: ${(e as Error).message.slice(0, 120)}` };
      }
    }
    elem = '';
    elemTooBig = false;
  };
  for await (const chunk0 of stream) {
    let chunk = chunk0 as string;
    if (first) {
      chunk = chunk.replace(/^\uFEFF/, '');
      first = false;
    }
    let segStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 10) line++;
      if (ended) continue;
      if (!started) {
        if (c === 91) {
          started = true;
          segStart = i + 1;
        }
        continue;
      }
      if (!inString && depth === 0 && !elemStarted && c !== 32 && c !== 10 && c !== 13 && c !== 9 && c !== 44 && c !== 93) {
        elemStarted = true;
        elemLine = line;
      }
      if (inString) {
        if (escape) escape = false;
        else if (c === 92) escape = true;
        else if (c === 34) inString = false;
        continue;
      }
      if (c === 34) {
        inString = true;
      } else if (c === 123 || c === 91) {
        depth++;
      } else if (c === 125 || c === 93) {
        if (depth === 0 && c === 93) {
          if (!elemTooBig) elem += chunk.slice(segStart, i);
          yield* finishElem();
          ended = true;
          continue;
        }
        depth = Math.max(0, depth - 1);
      } else if (c === 44 && depth === 0) {
        if (!elemTooBig) elem += chunk.slice(segStart, i);
        yield* finishElem();
        segStart = i + 1;
        elemStarted = false;
      }
    }
    if (started && !ended && !elemTooBig) {
      elem += chunk.slice(segStart);
      if (elem.length > MAX_ELEMENT_BYTES) {
        elemTooBig = true;
        elem = '';
      }
    }
  }
  if (!started) yield { line: 1, error: 'not a JSON array' };
  else if (!ended) {
    if (elem.trim() || elemTooBig) yield* finishElem();
    yield { line, error: 'the JSON array is not closed (truncated file)' };
  }
}

/** A Purview audit search export: the AuditData column holds the record; without it the columns make a minimal record. */
async function* readPurviewCsv(file: string): AsyncGenerator<RawItem> {
  const parser = createReadStream(file).pipe(
    parseCsv({ bom: true, columns: (h: string[]) => h.map((x) => x.trim()), relax_column_count: true, relax_quotes: true, skip_empty_lines: true, info: true, max_record_size: MAX_ELEMENT_BYTES, skip_records_with_error: true }),
  );
  const skipped: RawItem[] = [];
  parser.on('skip', (err: { lines?: number; message?: string }) => {
    skipped.push({ line: err?.lines ?? 0, error: `bad CSV row: ${String(err?.message ?? 'unparseable').slice(0, 120)}` });
  });
  try {
    for await (const row of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      while (skipped.length) yield skipped.shift()!;
      const r = row.record;
      const line = row.info.lines;
      const audit = r.AuditData ?? r.auditData ?? r.AuditDataJson;
      if (audit !== undefined && audit.trim() !== '') {
        try {
          yield { line, text: audit, value: JSON.parse(audit) };
        } catch (e) {
          yield { line, error: `AuditData is not JSON: ${(e as Error).message.slice(0, 120)}` };
        }
      } else if (r.RecordId && r.Operation) {
        yield { line, value: { Id: r.RecordId, CreationTime: r.CreationDate, Operation: r.Operation, UserId: r.UserId, RecordType: r.RecordType } };
      } else yield { line, error: 'row has no AuditData' };
    }
  } catch (e) {
    yield { line: 0, error: `CSV unreadable: ${(e as Error).message.slice(0, 160)}` };
  }
  while (skipped.length) yield skipped.shift()!;
}

function readFile(file: string, format: Exclude<InputFormat, 'auto'>): AsyncGenerator<RawItem> {
  return format === 'jsonl' ? readJsonl(file) : format === 'purview-csv' ? readPurviewCsv(file) : readJsonArray(file);
}

interface Entry {
  t: number;
  s: number;
  r: NormalizedRecord;
}

/** The record as plain data (lists parsed; the raw source no longer referenced). */
function plainRecord(r: NormalizedRecord): NormalizedRecord {
  const j = (r as { toJSON?: () => NormalizedRecord }).toJSON;
  return j ? j.call(r) : r;
}

function compareEntries(a: Entry, b: Entry): number {
  return a.t - b.t || a.s - b.s;
}

/** Sorted runs of records: in memory, spilling to temporary JSON-lines files past the budget. */
class SortBuffer {
  private mem: Entry[] = [];
  private bytes = 0;
  private runs: string[] = [];
  private dir: string | undefined;
  constructor(private readonly budget: number) {}
  add(e: Entry, approxBytes: number): void {
    this.mem.push(e);
    this.bytes += approxBytes * 3 + 200;
    if (this.bytes > this.budget) this.spill();
  }
  private spill(): void {
    this.mem.sort(compareEntries);
    this.dir ??= mkdtempSync(path.join(os.tmpdir(), 'tw-replay-'));
    const p = path.join(this.dir, `run-${this.runs.length}.jsonl`);
    const parts: string[] = [];
    for (const e of this.mem) parts.push(JSON.stringify(e));
    writeFileSync(p, parts.join('\n') + '\n');
    this.runs.push(p);
    this.mem = [];
    this.bytes = 0;
  }
  async *drain(): AsyncGenerator<Entry> {
    this.mem.sort(compareEntries);
    if (this.runs.length === 0) {
      yield* this.mem;
      this.mem = [];
      return;
    }
    const iters: Array<AsyncIterator<string> | Iterator<Entry>> = [];
    const heads: Array<Entry | undefined> = [];
    for (const r of this.runs) {
      const it = createInterface({ input: createReadStream(r, { encoding: 'utf8' }), crlfDelay: Infinity })[Symbol.asyncIterator]();
      iters.push(it);
      const n = await it.next();
      heads.push(n.done ? undefined : (JSON.parse(n.value) as Entry));
    }
    const memIt = this.mem[Symbol.iterator]();
    iters.push(memIt);
    const m0 = memIt.next();
    heads.push(m0.done ? undefined : m0.value);
    try {
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i];
          if (h && (best < 0 || compareEntries(h, heads[best]!) < 0)) best = i;
        }
        if (best < 0) break;
        yield heads[best]!;
        const it = iters[best];
        if (best === iters.length - 1) {
          const n = (it as Iterator<Entry>).next();
          heads[best] = n.done ? undefined : n.value;
        } else {
          let n = await (it as AsyncIterator<string>).next();
          while (!n.done && !n.value.trim()) n = await (it as AsyncIterator<string>).next();
          heads[best] = n.done ? undefined : (JSON.parse(n.value) as Entry);
        }
      }
    } finally {
      this.mem = [];
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function contextsFrom(file: string | undefined): Map<string, TenantContext> {
  const map = new Map<string, TenantContext>();
  if (!file) return map;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new OperatorError('TW_CONTEXT_FILE_INVALID', { path: file, count: 1 }, { details: [`cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`] });
  }
  const parsed = parseTenantContextFile(text);
  if (parsed.problems.length) throw new OperatorError('TW_CONTEXT_FILE_INVALID', { path: file, count: parsed.problems.length }, { details: parsed.problems });
  for (const t of parsed.tenants) map.set(t.tenantId, t);
  return map;
}

/** The replay output object of a detection (contracts §4 fields first). */
export function detectionLine(d: Detection): string {
  return JSON.stringify({
    recordId: d.recordId,
    ruleId: d.ruleId,
    behaviour: d.behaviour,
    severity: d.severity,
    tenantId: d.tenantId,
    userId: d.userId,
    summary: d.summary,
    attempt: d.attempt,
    occurredAt: d.occurredAt,
    ...(d.target ? { target: d.target } : {}),
  });
}

const SEV_PAD: Record<string, string> = { informational: 'info', low: 'low', medium: 'MED', high: 'HIGH', critical: 'CRIT' };

function tableRow(d: Detection, width: number): string {
  const summary = d.summary.length > width ? d.summary.slice(0, width - 1) + '…' : d.summary;
  const sev = `${SEV_PAD[d.severity] ?? d.severity}${d.attempt ? ' try' : ''}`;
  return `${d.occurredAt.slice(0, 19).replace('T', ' ')}  ${sev.padEnd(9)} ${d.behaviour.padEnd(28)} ${summary}\n`;
}

/** Runs a replay; returns its summary (the caller prints it and picks the exit code). */
export async function runReplay(opts: ReplayOptions, io: ReplayIo): Promise<ReplaySummary> {
  const { pack, problems } = loadRulePackFromDirs(opts.ruleDirs ?? []);
  if (problems.length) throw new OperatorError('TW_RULES_INVALID', { count: problems.length }, { details: problems });
  const contexts = contextsFrom(opts.contextFile);
  const detector: Detector = createDetector({ pack, overrides: opts.overrides, geo: opts.geo === false ? undefined : createGeoLookup() });
  const history = createMemoryHistory();
  const { files, unreadable } = listInputFiles(opts.paths);
  const summary: ReplaySummary = {
    files: files.length,
    unreadableFiles: unreadable,
    recordsRead: 0,
    recordsEvaluated: 0,
    malformed: [],
    malformedCount: 0,
    noContextRecords: 0,
    noContextTenants: [],
    detectionsByBehaviour: Object.fromEntries(BEHAVIOURS.map((b) => [b, 0])),
    detections: 0,
    excluded: 0,
  };
  const malformed = (m: MalformedEntry) => {
    summary.malformedCount++;
    if (summary.malformed.length < MAX_MALFORMED_LISTED) summary.malformed.push(m);
  };
  const totalBytes = files.reduce((n, f) => {
    try {
      return n + statSync(f).size;
    } catch {
      return n;
    }
  }, 0);
  let doneBytes = 0;
  const progress = (label: string) => {
    if (!io.progress) return;
    const frac = totalBytes ? Math.min(1, doneBytes / totalBytes) : 1;
    const w = 30;
    const filled = Math.round(frac * w);
    io.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${Math.round(frac * 100)}% ${summary.recordsRead} records ${label.slice(-40).padEnd(40)}`);
  };
  const fallbackContexts = new Map<string, TenantContext>();
  const noContext = new Set<string>();
  const contextFor = (rec: NormalizedRecord): TenantContext => {
    let ctx = contexts.get(rec.tenantId);
    if (!ctx) {
      ctx = fallbackContexts.get(rec.tenantId);
      if (!ctx) {
        ctx = contextFromDomains(rec.tenantId, opts.acceptedDomains ?? []);
        fallbackContexts.set(rec.tenantId, ctx);
      }
      if (!ctx.known) {
        summary.noContextRecords++;
        noContext.add(rec.tenantId || '(no OrganizationId)');
      }
    }
    return ctx;
  };
  const buffer = new SortBuffer(opts.memoryBudgetBytes ?? 192 * 1024 * 1024);
  let seq = 0;
  let anyRead = false;
  for (const file of files) {
    const rel = path.relative(process.cwd(), file) || file;
    let format: Exclude<InputFormat, 'auto'>;
    try {
      format = !opts.format || opts.format === 'auto' ? detectFormat(file) : opts.format;
    } catch (e) {
      summary.unreadableFiles.push({ file: rel, reason: (e as NodeJS.ErrnoException).code ?? 'unreadable' });
      continue;
    }
    progress(rel);
    try {
      for await (const item of readFile(file, format)) {
        anyRead = true;
        if (item.error) {
          malformed({ file: rel, line: item.line, reason: item.error });
          continue;
        }
        summary.recordsRead++;
        const out = normalizeRecord(item.value);
        if (!out.ok) {
          malformed({ file: rel, line: item.line, reason: out.reason, id: out.id });
          continue;
        }
        if (!detector.handles(out.record.operation)) {
          // no rule and no history needs it: counted, never buffered (most of a real export)
          contextFor(out.record);
          summary.recordsEvaluated++;
          continue;
        }
        // keep only the normalized fields (the parsed source object is dropped)
        buffer.add({ t: out.record.time, s: seq++, r: plainRecord(out.record) }, item.text?.length ?? 2000);
        if (io.progress && summary.recordsRead % 5000 === 0) progress(rel);
      }
    } catch (e) {
      summary.unreadableFiles.push({ file: rel, reason: (e as NodeJS.ErrnoException).code ?? (e as Error).message.slice(0, 120) });
    }
    try {
      doneBytes += statSync(file).size;
    } catch {
      // vanished while reading: counted above
    }
  }
  if (io.progress) {
    progress('');
    io.stderr.write('\n');
  }
  if (!anyRead) {
    throw new OperatorError('TW_REPLAY_NO_INPUT', { paths: opts.paths.join(', ') }, { details: summary.unreadableFiles.map((u) => `${u.file}: ${u.reason}`) });
  }
  const width = Math.max(40, ((io.stdout as NodeJS.WriteStream).columns ?? 160) - 60);
  if (opts.output === 'table') io.stdout.write(`${'time (UTC)'.padEnd(21)}${'severity'.padEnd(10)}${'behaviour'.padEnd(29)}summary\n`);
  for await (const e of buffer.drain()) {
    const rec = e.r;
    const ctx = contextFor(rec);
    summary.recordsEvaluated++;
    const ds = detector.evaluate(rec, ctx, history);
    for (const d of ds) {
      if (opts.applyExclusions && matchingExclusion(ctx.exclusions, d)) {
        summary.excluded++;
        continue;
      }
      summary.detections++;
      summary.detectionsByBehaviour[d.behaviour] = (summary.detectionsByBehaviour[d.behaviour] ?? 0) + 1;
      io.stdout.write(opts.output === 'table' ? tableRow(d, width) : detectionLine(d) + '\n');
    }
  }
  summary.noContextTenants = [...noContext].sort();
  return summary;
}

/** The human summary printed to stderr. */
export function formatSummary(s: ReplaySummary): string {
  const lines: string[] = [];
  lines.push(`replay: ${s.files} file(s), ${s.recordsRead} record(s) read, ${s.recordsEvaluated} evaluated, ${s.detections} detection(s)${s.excluded ? `, ${s.excluded} excluded` : ''}`);
  for (const u of s.unreadableFiles) lines.push(`  unreadable: ${u.file}: ${u.reason}`);
  lines.push(`malformed records: ${s.malformedCount}`);
  for (const m of s.malformed) lines.push(`  ${m.file}:${m.line}: ${m.reason}${m.id ? ` (Id ${m.id})` : ''}`);
  if (s.malformedCount > s.malformed.length) lines.push(`  … and ${s.malformedCount - s.malformed.length} more`);
  lines.push(`records with no tenant context: ${s.noContextRecords}${s.noContextTenants.length ? ` (tenants: ${s.noContextTenants.slice(0, 20).join(', ')}${s.noContextTenants.length > 20 ? ', …' : ''}) — external-ness unknown, give --context or --accepted-domains` : ''}`);
  lines.push('detections by behaviour:');
  for (const [b, n] of Object.entries(s.detectionsByBehaviour)) lines.push(`  ${b.padEnd(30)} ${n}`);
  return lines.join('\n') + '\n';
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('run the rule pack over audit records on disk (content-blob JSON, JSON lines, Purview CSV export) and print detections')
    .argument('<paths...>', 'files or directories (.json, .jsonl, .csv; directories walked in sorted order)')
    .option('--context <file>', 'tenant context file (YAML: accepted domains, recipients, trusted IPs, exclusions)')
    .option('--accepted-domains <list>', 'comma-separated accepted domains for records whose tenant has no context entry')
    .option('--format <format>', 'auto | json | jsonl | purview-csv', 'auto')
    .option('--output <format>', 'jsonl | table (default: table on a terminal, jsonl otherwise)')
    .option('--apply-exclusions', 'drop detections covered by the tenants\' exclusions')
    .option('--no-geo', 'skip the offline geo/ASN lookup (sign-in rules then only see IPs)')
    .action(
      action(async (paths: string[], o: { context?: string; acceptedDomains?: string; format: string; output?: string; applyExclusions?: boolean; geo: boolean }, c: Command) => {
        const formats = ['auto', 'json', 'jsonl', 'purview-csv'];
        const problems: string[] = [];
        if (!formats.includes(o.format)) problems.push(`--format must be one of ${formats.join(', ')}`);
        if (o.output && o.output !== 'jsonl' && o.output !== 'table') problems.push('--output must be jsonl or table');
        if (problems.length) throw new OperatorError('TW_USAGE', { detail: problems.join('; ') });
        const config = configFor(c);
        const tty = !!process.stdout.isTTY;
        const output = (o.output as 'jsonl' | 'table' | undefined) ?? (tty ? 'table' : 'jsonl');
        const summary = await runReplay(
          {
            paths,
            contextFile: o.context,
            acceptedDomains: o.acceptedDomains ? o.acceptedDomains.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
            format: o.format as InputFormat,
            output,
            applyExclusions: o.applyExclusions,
            ruleDirs: config.detect.ruleDirs,
            overrides: config.detect.overrides,
            geo: o.geo !== false && config.enrich.geo !== 'none',
          },
          { stdout: process.stdout, stderr: process.stderr, progress: tty && !!process.stderr.isTTY },
        );
        process.stderr.write(formatSummary(summary));
        return 0;
      }),
    );
}
