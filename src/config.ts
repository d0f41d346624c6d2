// One configuration schema over a YAML file plus TENANTWATCH_* environment variables (env wins).
// Parsed once at start, frozen; every problem is reported together (TW_CONFIG_INVALID, exit 2).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import YAML from 'yaml';
import { OperatorError } from './errors.ts';

/** Key names whose values are secrets: never printed, logged or returned by the API. */
export const SECRET_KEYS = new Set<string>([
  'clientSecret',
  'certificatePassword',
  'password',
  'pass',
  'secret',
  'signingSecret',
  'linkSecret',
  'sessionSecret',
  'authId',
  'webhookAuthId',
  'token',
  'accessToken',
  'apiToken',
  'authorization',
  'url_with_secret',
  /** Teams / Slack incoming-webhook URLs are credentials. */
  'webhookUrl',
]);

/** Channel types whose URL itself is a credential (Teams/Slack incoming webhooks) mark it here. */
export function markSecretKey(name: string): void {
  SECRET_KEYS.add(name);
}

/** Marks a schema field as a secret (documentation for readers; redaction works by key name). */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ secret: true }) as T;
}

export const CLOUDS = ['commercial', 'gcc', 'gcchigh', 'dod'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** Microsoft's base URLs per cloud (m365-api.md §1). */
export const CLOUD_BASE_URLS: Record<Cloud, { login: string; management: string; graph: string; exchange: string }> = {
  commercial: {
    login: 'https://login.microsoftonline.com',
    management: 'https://manage.office.com',
    graph: 'https://graph.microsoft.com',
    exchange: 'https://outlook.office365.com',
  },
  gcc: {
    login: 'https://login.microsoftonline.com',
    management: 'https://manage-gcc.office.com',
    graph: 'https://graph.microsoft.com',
    exchange: 'https://outlook.office365.com',
  },
  gcchigh: {
    login: 'https://login.microsoftonline.us',
    management: 'https://manage.office365.us',
    graph: 'https://graph.microsoft.us',
    exchange: 'https://outlook.office365.us',
  },
  dod: {
    login: 'https://login.microsoftonline.us',
    management: 'https://manage.protection.apps.mil',
    graph: 'https://dod-graph.microsoft.us',
    exchange: 'https://webmail.apps.mil',
  },
};

export const CONTENT_TYPES = [
  'Audit.AzureActiveDirectory',
  'Audit.Exchange',
  'Audit.SharePoint',
  'Audit.General',
  'DLP.All',
] as const;

const guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected a GUID');
const httpsUrl = z.url({ protocol: /^https?$/ });
const severity = z.enum(['informational', 'low', 'medium', 'high', 'critical']);

const baseUrls = z
  .object({
    login: httpsUrl.optional(),
    management: httpsUrl.optional(),
    graph: httpsUrl.optional(),
    exchange: httpsUrl.optional(),
  })
  .strict();

const microsoft = z
  .object({
    cloud: z.enum(CLOUDS).default('commercial'),
    partnerTenantId: guid.optional(),
    clientId: guid.optional(),
    clientSecret: secret(z.string().min(1)).optional(),
    clientSecretFile: z.string().optional(),
    certificateFile: z.string().optional(),
    certificatePassword: secret(z.string()).optional(),
    baseUrls: baseUrls.prefault({}),
    caFile: z.string().optional(),
    /** Sent as PublisherIdentifier on every Management Activity API call; defaults to partnerTenantId. */
    publisherIdentifier: guid.optional(),
    contentTypes: z.array(z.enum(CONTENT_TYPES)).min(1).default(['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.General']),
    /** Our own per-tenant request budget, below Microsoft's 2,000/min throttle. */
    requestsPerMinutePerTenant: z.number().int().positive().max(2000).default(1200),
    timeoutMs: z.number().int().positive().default(30_000),
    maxRetries: z.number().int().min(0).max(10).default(4),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.clientSecret && m.certificateFile) {
      ctx.addIssue({ code: 'custom', message: 'give either clientSecret(File) or certificateFile, not both', path: ['certificateFile'] });
    }
  });

const channel = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'letters, digits, - and _'),
    type: z.string().min(1),
  })
  .passthrough();

const route = z
  .object({
    channels: z.array(z.string()).min(1),
    tenants: z.array(z.string()).optional(),
    minSeverity: severity.optional(),
    behaviours: z.array(z.string()).optional(),
  })
  .strict();

const ruleOverride = z
  .object({
    ruleId: z.string(),
    tenantId: z.string().optional(),
    enabled: z.boolean().optional(),
    severity: severity.optional(),
  })
  .strict();

export const configSchema = z
  .object({
    microsoft: microsoft.prefault({}),
    store: z.object({ url: z.string().default('sqlite:./data/tenantwatch.db') }).strict().prefault({}),
    web: z
      .object({
        listen: z.string().regex(/^[^:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'host:port').default('127.0.0.1:8787'),
        publicUrl: httpsUrl.optional(),
        sessionSecret: secret(z.string().min(16)).optional(),
        trustProxy: z.boolean().default(false),
        metrics: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    ingest: z
      .object({
        pollIntervalSeconds: z.number().int().min(5).default(60),
        overlapMinutes: z.number().int().min(0).max(24 * 60).default(60),
        concurrency: z.number().int().min(1).max(256).default(8),
        perTenantConcurrency: z.number().int().min(1).max(16).default(2),
        // Blobs fetched and processed at once in one process, whatever the number of tenants or job slots
        // polling: what bounds a process's memory while it ingests (a blob's text, records and rows).
        blobsInFlight: z.number().int().min(1).max(64).default(4),
        maxBlobBytes: z.number().int().positive().default(64 * 1024 * 1024),
        maxRawRecordBytes: z.number().int().positive().default(64 * 1024),
        webhook: z
          .object({ enabled: z.boolean().default(false), authId: secret(z.string().min(8)).optional() })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    // Work distribution on PostgreSQL (pg-boss poll jobs, docs/scale-out.md); SQLite ignores it.
    scale: z
      .object({
        // How long a running poll job is protected before pg-boss hands it to another worker (the lease a
        // SIGKILLed worker's jobs wait out). Below 24 h (pg-boss's bound).
        jobLeaseSeconds: z.number().int().min(30).max(12 * 3600).default(15 * 60),
        // Retries of a poll job that got nothing done, before it goes to the dead-letter queue.
        retryLimit: z.number().int().min(0).max(20).default(5),
        // The first retry's delay; pg-boss doubles it per retry.
        retryDelaySeconds: z.number().int().min(1).max(3600).default(30),
      })
      .strict()
      .prefault({}),
    detect: z
      .object({
        ruleDirs: z.array(z.string()).default([]),
        overrides: z.array(ruleOverride).default([]),
      })
      .strict()
      .prefault({}),
    enrich: z
      .object({
        geo: z.enum(['offline', 'none']).default('offline'),
        cityDb: z.string().optional(),
        asnDb: z.string().optional(),
      })
      .strict()
      .prefault({}),
    alerts: z
      .object({ groupWindowMinutes: z.number().int().min(1).default(60) })
      .strict()
      .prefault({}),
    notify: z
      .object({
        channels: z.array(channel).default([]),
        routes: z.array(route).default([]),
        maxAttempts: z.number().int().min(1).max(50).default(8),
      })
      .strict()
      .prefault({}),
    remediate: z
      .object({
        linkSecret: secret(z.string().min(32)).optional(),
        linkTtlHours: z.number().positive().max(24 * 14).default(24),
        passwordMode: z.enum(['random', 'force-change']).default('random'),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        pretty: z.boolean().optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

export interface ConfigProblem {
  path: string;
  message: string;
  expected?: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (let i = 0; i < 10; i++) {
    const def = (s as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } })._zod.def;
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else break;
  }
  return s;
}

function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const s = unwrap(schema) as unknown as { _zod: { def: { type: string; shape?: Record<string, z.ZodType> } } };
  return s._zod.def.type === 'object' ? s._zod.def.shape : undefined;
}

function norm(s: string): string {
  return s.replace(/_/g, '').toLowerCase();
}

/** TENANTWATCH_* variables that are not configuration keys: the file's path, and bin/tenantwatch.js's switch. */
const LAUNCHER_ENV = new Set(['TENANTWATCH_CONFIG', 'TENANTWATCH_NO_BUNDLE']);

/** Maps TENANTWATCH_MICROSOFT_CLIENT_SECRET to ['microsoft','clientSecret'] by walking the schema. */
export function envPath(segments: string[], schema: z.ZodType = configSchema): { path: string[]; leaf: z.ZodType } | undefined {
  const shape = shapeOf(schema);
  if (!shape) return segments.length === 0 ? { path: [], leaf: schema } : undefined;
  if (segments.length === 0) return undefined;
  for (let take = segments.length; take >= 1; take--) {
    const want = norm(segments.slice(0, take).join(''));
    const key = Object.keys(shape).find((k) => norm(k) === want);
    if (!key) continue;
    const rest = envPath(segments.slice(take), shape[key]);
    if (rest) return { path: [key, ...rest.path], leaf: rest.leaf };
  }
  return undefined;
}

function coerceEnv(value: string, leaf: z.ZodType): Json {
  const type = (unwrap(leaf) as unknown as { _zod: { def: { type: string } } })._zod.def.type;
  if (type === 'number') return value.trim() === '' ? value : Number(value);
  if (type === 'boolean') return /^(1|true|yes|on)$/i.test(value) ? true : /^(0|false|no|off)$/i.test(value) ? false : value;
  if (type === 'array' || type === 'object') {
    try {
      return JSON.parse(value) as Json;
    } catch {
      if (type === 'array') return value.split(',').map((v) => v.trim()).filter(Boolean);
      return value;
    }
  }
  return value;
}

function setPath(obj: Record<string, unknown>, p: string[], value: unknown): void {
  let cur = obj;
  for (const k of p.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[p[p.length - 1]] = value;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

function issuePath(p: readonly PropertyKey[]): string {
  return p.length ? p.map((x) => (typeof x === 'number' ? `[${x}]` : String(x))).join('.').replace(/\.\[/g, '[') : '(root)';
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Layer applied after the file and before env (used by `demo`). */
  overrides?: Record<string, unknown>;
}

/** Reads, merges and validates. Throws OperatorError TW_CONFIG_INVALID with every problem in `details`. */
export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const { config, problems } = checkConfig(opts);
  if (!config) {
    throw new OperatorError('TW_CONFIG_INVALID', { count: problems.length }, { details: problems.map(formatProblem) });
  }
  return config;
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.path}: ${p.message}${p.expected ? ` (expected ${p.expected})` : ''}`;
}

/** Like loadConfig but returns the problems instead of throwing (for `config check`). */
export function checkConfig(opts: LoadOptions = {}): { config?: Readonly<Config>; problems: ConfigProblem[] } {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.TENANTWATCH_CONFIG;
  const problems: ConfigProblem[] = [];
  let raw: Record<string, unknown> = {};
  let baseDir = process.cwd();
  if (file) {
    baseDir = path.dirname(path.resolve(file));
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new OperatorError('TW_CONFIG_UNREADABLE', { path: file, reason: (e as NodeJS.ErrnoException).code ?? 'unreadable' });
    }
    const doc = YAML.parseDocument(text, { prettyErrors: true });
    if (doc.errors.length) {
      for (const err of doc.errors) problems.push({ path: `${file}:${err.linePos?.[0]?.line ?? '?'}`, message: err.message.split('\n')[0] });
      return { problems };
    }
    const js = doc.toJS() as unknown;
    if (js !== null && js !== undefined) {
      if (typeof js !== 'object' || Array.isArray(js)) {
        problems.push({ path: '(root)', message: 'the file must hold a mapping', expected: 'key: value pairs' });
        return { problems };
      }
      raw = js as Record<string, unknown>;
    }
  }
  if (opts.overrides) {
    for (const [k, v] of Object.entries(flatten(opts.overrides))) setPath(raw, k.split('.'), v);
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TENANTWATCH_') || value === undefined || LAUNCHER_ENV.has(name)) continue;
    if (name.startsWith('TENANTWATCH_TEST_')) continue;
    const segs = name.slice('TENANTWATCH_'.length).split('_').filter(Boolean);
    const hit = envPath(segs);
    if (!hit) {
      problems.push({ path: name, message: 'unknown environment variable', expected: 'TENANTWATCH_<SECTION>_<KEY>, e.g. TENANTWATCH_STORE_URL' });
      continue;
    }
    setPath(raw, hit.path, coerceEnv(value, hit.leaf));
  }
  // `*File` secrets: read the file into the sibling key.
  const ms = raw.microsoft as Record<string, unknown> | undefined;
  if (ms && typeof ms.clientSecretFile === 'string') {
    try {
      ms.clientSecret = readFileSync(path.resolve(baseDir, ms.clientSecretFile), 'utf8').trim();
    } catch (e) {
      problems.push({ path: 'microsoft.clientSecretFile', message: `cannot read file (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  }
  const rem = raw.remediate as Record<string, unknown> | undefined;
  if (rem && typeof rem.linkSecretFile === 'string') {
    try {
      rem.linkSecret = readFileSync(path.resolve(baseDir, rem.linkSecretFile), 'utf8').trim();
      delete rem.linkSecretFile;
    } catch (e) {
      problems.push({ path: 'remediate.linkSecretFile', message: `cannot read file (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push({ path: issuePath(issue.path), message: issue.message, expected: expectedOf(issue) });
    }
  }
  if (parsed.success) {
    // Relative paths in the file are relative to the file.
    const c = parsed.data;
    for (const key of ['certificateFile', 'caFile'] as const) {
      const v = c.microsoft[key];
      if (v) c.microsoft[key] = path.resolve(baseDir, v);
    }
    if (c.store.url.startsWith('sqlite:') && !c.store.url.startsWith('sqlite::memory:')) {
      const p = c.store.url.slice('sqlite:'.length);
      c.store.url = `sqlite:${path.resolve(baseDir, p)}`;
    }
    c.detect.ruleDirs = c.detect.ruleDirs.map((d) => path.resolve(baseDir, d));
  }
  if (problems.length) return { problems };
  return { config: deepFreeze(parsed.data!), problems };
}

function expectedOf(issue: z.core.$ZodIssue): string | undefined {
  if (issue.code === 'invalid_type') return issue.expected;
  if (issue.code === 'invalid_value') return issue.values.map((v) => String(v)).join(' | ');
  if (issue.code === 'unrecognized_keys') return 'no other keys';
  return undefined;
}

function flatten(o: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

/** A deep copy with every secret value replaced by "[redacted]" (for logs, `config check`, the API). */
export function redact<T>(value: T): T {
  const walk = (v: unknown, key?: string): unknown => {
    if (key !== undefined && SECRET_KEYS.has(key) && v !== undefined && v !== null && v !== '') return '[redacted]';
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, k);
      return out;
    }
    if (typeof v === 'string') return redactUrlCredentials(v);
    return v;
  };
  return walk(value) as T;
}

/** postgres://user:pass@host/db → postgres://user:[redacted]@host/db */
export function redactUrlCredentials(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/i, '$1:[redacted]@');
}

/** Effective Microsoft base URLs: explicit ones win over the cloud's defaults. */
export function baseUrlsOf(c: Pick<Config, 'microsoft'>): { login: string; management: string; graph: string; exchange: string } {
  const d = CLOUD_BASE_URLS[c.microsoft.cloud];
  const b = c.microsoft.baseUrls;
  const strip = (u: string) => u.replace(/\/+$/, '');
  return {
    login: strip(b.login ?? d.login),
    management: strip(b.management ?? d.management),
    graph: strip(b.graph ?? d.graph),
    exchange: strip(b.exchange ?? d.exchange),
  };
}

export const EXAMPLE_CONFIG = `# tenantwatch configuration. Every key can also come from the environment:
# TENANTWATCH_<SECTION>_<KEY> (e.g. TENANTWATCH_MICROSOFT_CLIENT_SECRET, TENANTWATCH_STORE_URL); env wins.
microsoft:
  cloud: commercial                  # commercial | gcc | gcchigh | dod: picks the default base URLs
  partnerTenantId: 9a9a9a9a-0000-4000-8000-000000000001   # your MSP (partner) tenant
  clientId: 6f1e2d3c-0000-4000-8000-00000000a001          # the multi-tenant Entra app
  # Prefer a certificate (PEM with private key and certificate); or clientSecret / clientSecretFile.
  certificateFile: ./tenantwatch-app.pem
  # clientSecretFile: /run/secrets/tenantwatch-client-secret
  # baseUrls:                        # optional, each defaults to Microsoft's for the cloud
  #   login: https://login.microsoftonline.com
  #   management: https://manage.office.com
  #   graph: https://graph.microsoft.com
  #   exchange: https://outlook.office365.com
  # caFile: ./sim-ca.pem             # extra CA to trust (the simulator's); TLS is never switched off
  contentTypes: [Audit.AzureActiveDirectory, Audit.Exchange, Audit.General]
  requestsPerMinutePerTenant: 1200   # our budget, below Microsoft's 2,000/min throttle
store:
  url: sqlite:./data/tenantwatch.db  # or postgres://user@host:5432/db (several workers)
web:
  listen: 127.0.0.1:8787
  # publicUrl: https://tenantwatch.example.com   # links in notifications and the webhook address
  metrics: false                     # Prometheus metrics at /metrics
ingest:
  pollIntervalSeconds: 60
  overlapMinutes: 60                 # re-list this much of the past: content becomes available late
  concurrency: 8                      # tenants (or poll jobs) polled at once
  blobsInFlight: 4                   # content blobs fetched + processed at once per process (bounds memory)
  webhook: { enabled: false }
scale:                               # PostgreSQL workers (pg-boss poll jobs); SQLite ignores it
  jobLeaseSeconds: 900               # a dead worker's running jobs go to another worker after this
  retryLimit: 5                      # retries of a failing poll job before the dead-letter queue
  retryDelaySeconds: 30              # first retry delay, doubling per retry
detect:
  ruleDirs: []                       # local rule directories, loaded after the built-in pack
  overrides: []                      # e.g. { ruleId: inbox-rule-hide, tenantId: <guid>, severity: low }
alerts:
  groupWindowMinutes: 60
notify:
  channels:
    - { name: soc-teams, type: teams, webhookUrl: "https://example.webhook.office.com/..." }   # a secret
    - { name: oncall-mail, type: email, host: smtp.example.com, port: 587, from: tenantwatch@msp.example, to: [soc@msp.example] }
  routes:
    - { channels: [soc-teams, oncall-mail], minSeverity: medium }
remediate:
  # linkSecretFile: /run/secrets/tenantwatch-link-secret   # HMAC key for Secure and Remediate links (>= 32 chars)
  linkTtlHours: 24
  passwordMode: random               # random (shown once) | force-change
log:
  level: info
`;
