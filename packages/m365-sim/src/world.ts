// The world file (contracts §5): validated with zod, every mistake reported at once; the built-in demo
// world; and the tenant registry that materialises generated tenants lazily on first use.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ContentType, DirectoryModule, SimTenant, WorldTenant } from './types.ts';

export const CONTENT_TYPES: readonly ContentType[] = ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint', 'Audit.General', 'DLP.All'];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const guid = z.string().regex(GUID, 'must be a GUID');
const domain = z.string().regex(/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/i, 'must be a DNS domain name');
const email = z.string().regex(/^[^@\s]+@([a-z0-9-]+\.)+[a-z]{2,}$/i, 'must be an address like name@domain');

export const quirksSchema = z.object({
  /** Share of blobs (0–1) that repeat a record already delivered in an earlier blob. */
  duplicates: z.number().min(0).max(1).optional(),
  /** Shuffle records inside a blob and backdate some events (true/false). */
  outOfOrder: z.boolean().optional(),
  /** Share of blobs (0–1) that surface late, inside a window a client may already have listed. */
  lateBlobs: z.number().min(0).max(1).optional(),
  lateBlobDelaySeconds: z.number().min(0).optional(),
  /** Seconds after a subscription starts before its first content becomes available (Microsoft: up to 12 h). */
  firstContentDelaySeconds: z.number().min(0).optional(),
  /** Items per content-listing page before a NextPageUri is given. */
  pageSize: z.number().int().min(1).max(10_000).optional(),
  /** Management Activity API requests per minute per tenant per publisher before AF429. */
  throttlePerMinute: z.number().int().min(1).optional(),
  /** Delivery attempts per webhook notification. */
  webhookAttempts: z.number().int().min(1).max(10).optional(),
  webhookRetryBaseMs: z.number().int().min(0).optional(),
  /** Notifications that fail every attempt in a row before the webhook is disabled (0 = never). */
  webhookDisableAfterFailures: z.number().int().min(0).optional(),
}).strict();
export type Quirks = Required<z.infer<typeof quirksSchema>>;

export const DEFAULT_QUIRKS: Quirks = {
  duplicates: 0.1,
  outOfOrder: true,
  lateBlobs: 0,
  lateBlobDelaySeconds: 120,
  firstContentDelaySeconds: 0,
  pageSize: 100,
  throttlePerMinute: 2000,
  webhookAttempts: 3,
  webhookRetryBaseMs: 1000,
  webhookDisableAfterFailures: 0,
};

const tenantSchema = z.object({
  id: guid,
  name: z.string().min(1),
  domains: z.array(domain).min(1, 'needs at least one domain'),
  consented: z.boolean().default(true),
  gdap: z.enum(['active', 'expired', 'none']).default('active'),
  auditLogEnabled: z.boolean().default(true),
  users: z.array(z.object({ upn: email, displayName: z.string().optional(), admin: z.boolean().optional(), federated: z.boolean().optional() }).strict()).default([]),
  roles: z.array(z.string()).optional(),
  canResetPasswords: z.boolean().optional(),
  hasP1: z.boolean().optional(),
  recipients: z.array(z.object({ identity: z.string().min(1), address: email, type: z.enum(['MailContact', 'MailUser', 'UserMailbox', 'SharedMailbox']) }).strict()).optional(),
  acceptedDomains: z.array(z.object({ domain, matchSubdomains: z.boolean().optional() }).strict()).optional(),
  inboxRules: z.array(z.object({
    user: email,
    name: z.string().min(1),
    hidden: z.boolean().optional(),
    forwardTo: z.array(email).optional(),
    moveToFolder: z.string().optional(),
    deleteMessage: z.boolean().optional(),
    markAsRead: z.boolean().optional(),
    subjectContainsWords: z.array(z.string()).optional(),
  }).strict()).optional(),
  /** Content types whose Management API subscription is already started. */
  subscriptions: z.array(z.enum(CONTENT_TYPES as [ContentType, ...ContentType[]])).optional(),
}).strict();

export const worldSchema = z.object({
  app: z.object({
    clientId: guid,
    clientSecret: z.string().min(1).optional(),
    /** ISO time after which the secret is expired (AADSTS7000222). */
    clientSecretExpiresAt: z.string().datetime({ offset: true }).optional(),
    certificate: z.string().min(1).optional(),
    displayName: z.string().optional(),
  }).strict(),
  partner: z.object({ tenantId: guid, domain }).strict(),
  tenants: z.array(tenantSchema).default([]),
  generate: z.object({
    tenants: z.number().int().min(0).max(1_000_000),
    usersPerTenant: z.number().int().min(0).max(10_000).default(25),
    recordsPerTenantPerHour: z.number().min(0).max(100_000).default(0),
  }).strict().optional(),
  seed: z.number().int().optional(),
  quirks: quirksSchema.optional(),
}).strict();

export type WorldInput = z.input<typeof worldSchema>;

export interface World {
  app: { clientId: string; clientSecret?: string; clientSecretExpiresAt?: number; certificates: X509Certificate[]; displayName: string };
  partner: { tenantId: string; domain: string };
  tenants: Array<WorldTenant & { subscriptions?: ContentType[] }>;
  generate: { tenants: number; usersPerTenant: number; recordsPerTenantPerHour: number };
  seed: number;
  quirks: Quirks;
}

export class WorldError extends Error {
  constructor(readonly problems: string[]) {
    super(`the world file has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validates a parsed world object; `baseDir` resolves the certificate path. Throws WorldError listing every problem. */
export function validateWorld(input: unknown, baseDir = process.cwd(), seedOverride?: number): World {
  const parsed = worldSchema.safeParse(input);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`);
    throw new WorldError(problems);
  }
  const w = parsed.data;
  const certificates: X509Certificate[] = [];
  if (w.app.certificate) {
    const path = resolve(baseDir, w.app.certificate);
    try {
      const text = readFileSync(path, 'utf8');
      const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      if (pems.length === 0) problems.push(`app.certificate: ${path} holds no PEM certificate`);
      for (const pem of pems) certificates.push(new X509Certificate(pem));
    } catch (err) {
      problems.push(`app.certificate: cannot read ${path} (${(err as Error).message.split('\n')[0]})`);
    }
  }
  if (!w.app.clientSecret && !w.app.certificate) problems.push('app: give clientSecret, certificate or both');
  const ids = new Set<string>();
  const domains = new Set<string>();
  w.tenants.forEach((t, i) => {
    const id = t.id.toLowerCase();
    if (ids.has(id)) problems.push(`tenants.${i}.id: ${t.id} appears twice`);
    if (id === w.partner.tenantId.toLowerCase()) problems.push(`tenants.${i}.id: ${t.id} is the partner tenant`);
    ids.add(id);
    for (const d of t.domains) {
      if (domains.has(d.toLowerCase())) problems.push(`tenants.${i}.domains: ${d} belongs to two tenants`);
      domains.add(d.toLowerCase());
    }
    const upns = new Set(t.users.map((u) => u.upn.toLowerCase()));
    t.users.forEach((u, j) => {
      if (!t.domains.some((d) => u.upn.toLowerCase().endsWith(`@${d.toLowerCase()}`))) problems.push(`tenants.${i}.users.${j}.upn: ${u.upn} is not in one of the tenant's domains`);
    });
    (t.inboxRules ?? []).forEach((r, j) => {
      if (!upns.has(r.user.toLowerCase())) problems.push(`tenants.${i}.inboxRules.${j}.user: ${r.user} is not a user of this tenant`);
    });
  });
  if (problems.length) throw new WorldError(problems);
  const secretExp = w.app.clientSecretExpiresAt ? Date.parse(w.app.clientSecretExpiresAt) : undefined;
  return {
    app: { clientId: w.app.clientId.toLowerCase(), clientSecret: w.app.clientSecret, clientSecretExpiresAt: secretExp, certificates, displayName: w.app.displayName ?? 'tenantwatch' },
    partner: { tenantId: w.partner.tenantId.toLowerCase(), domain: w.partner.domain.toLowerCase() },
    tenants: w.tenants.map((t) => ({ ...t, id: t.id.toLowerCase() })) as World['tenants'],
    generate: w.generate ?? { tenants: 0, usersPerTenant: 25, recordsPerTenantPerHour: 0 },
    seed: seedOverride ?? w.seed ?? 1,
    quirks: { ...DEFAULT_QUIRKS, ...(w.quirks ?? {}) },
  };
}

/** Reads a YAML (or JSON) world file, or `demo`. Throws WorldError with every problem. */
export function loadWorld(fileOrDemo: string, seedOverride?: number): World {
  if (fileOrDemo === 'demo') return validateWorld(DEMO_WORLD, process.cwd(), seedOverride);
  let text: string;
  try {
    text = readFileSync(fileOrDemo, 'utf8');
  } catch (err) {
    throw new WorldError([`cannot read ${fileOrDemo}: ${(err as Error).message.split('\n')[0]}`]);
  }
  let data: unknown;
  try {
    data = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new WorldError([`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  return validateWorld(data, dirname(resolve(fileOrDemo)), seedOverride);
}

// ---------------------------------------------------------------------------------------------------
// Deterministic helpers

/** A small seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable 32-bit number from any strings. */
export function hash32(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0);
}

/** A deterministic GUID (version 4 layout) from any strings. */
export function stableGuid(...parts: Array<string | number>): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16]!, 16) % 4]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// ---------------------------------------------------------------------------------------------------
// Generated tenants: id `{8 hex from seed}-0000-4000-8000-{index as 12 hex}`, domains `gen{index}.example`
// and `gen{index}.onmicrosoft.com`.

export function generatedTenantId(seed: number, index: number): string {
  const prefix = hash32('m365-sim-generated', seed).toString(16).padStart(8, '0');
  return `${prefix}-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

export function generatedEntry(world: World, index: number): WorldTenant {
  const id = generatedTenantId(world.seed, index);
  const main = `gen${index}.example`;
  const r = rng(hash32(world.seed, index));
  const first = ['ada', 'bo', 'cy', 'dee', 'eli', 'fay', 'gus', 'hal', 'ivy', 'jo', 'kai', 'lou', 'max', 'ned', 'ola', 'pia'];
  return {
    id,
    name: `Generated Tenant ${index}`,
    domains: [main, `gen${index}.onmicrosoft.com`],
    consented: true,
    gdap: 'active',
    auditLogEnabled: true,
    users: Array.from({ length: world.generate.usersPerTenant }, (_, n) => ({
      upn: `${first[Math.floor(r() * first.length)]}${n}@${main}`,
      displayName: `User ${n}`,
      admin: n === 0,
    })),
  };
}

/** All tenants of a world: explicit ones built at start, generated ones on first use. */
export class TenantRegistry {
  private readonly byId = new Map<string, SimTenant>();
  private readonly domainToId = new Map<string, string>();
  private readonly explicit = new Map<string, WorldTenant>();
  private readonly generatedPrefix: string;
  onMaterialise?: (tenant: SimTenant, entry: WorldTenant & { subscriptions?: ContentType[] }) => void;

  constructor(private readonly world: World, private readonly directory: DirectoryModule) {
    const partner: WorldTenant = { id: world.partner.tenantId, name: 'Partner (MSP) tenant', domains: [world.partner.domain], consented: true, gdap: 'none', auditLogEnabled: true, users: [] };
    for (const t of [...world.tenants, partner]) {
      this.explicit.set(t.id, t);
      for (const d of t.domains) this.domainToId.set(d.toLowerCase(), t.id);
    }
    this.generatedPrefix = generatedTenantId(world.seed, 0).slice(0, 24);
  }

  /** Builds the explicit tenants now (cheap: a handful). */
  materialiseExplicit(): void {
    for (const id of this.explicit.keys()) this.get(id);
  }

  get(idOrDomain: string): SimTenant | undefined {
    const key = idOrDomain.toLowerCase();
    const cached = this.byId.get(key);
    if (cached) return cached;
    const id = GUID.test(key) ? key : this.resolveDomain(key);
    if (!id) return undefined;
    const hit = this.byId.get(id);
    if (hit) return hit;
    const entry = this.explicit.get(id) ?? this.generated(id);
    if (!entry) return undefined;
    const tenant = this.directory.createTenant(entry, this.world.seed);
    this.byId.set(id, tenant);
    this.onMaterialise?.(tenant, entry);
    return tenant;
  }

  /** Tenants built so far (explicit first). */
  materialised(): SimTenant[] {
    return [...this.byId.values()];
  }

  explicitIds(): string[] {
    return [...this.explicit.keys()];
  }

  /** Every tenant of the world (explicit and generated) without building their state. */
  *list(): Iterable<{ id: string; name: string; domains: string[]; gdap: WorldTenant['gdap'] }> {
    for (const e of this.explicit.values()) yield { id: e.id, name: e.name, domains: e.domains, gdap: e.gdap };
    for (let i = 0; i < this.world.generate.tenants; i++) {
      const e = generatedEntry(this.world, i);
      yield { id: e.id, name: e.name, domains: e.domains, gdap: e.gdap };
    }
  }

  private resolveDomain(d: string): string | undefined {
    const known = this.domainToId.get(d);
    if (known) return known;
    const m = /^gen(\d{1,7})\.(example|onmicrosoft\.com)$/.exec(d);
    if (m) {
      const index = Number(m[1]);
      if (index < this.world.generate.tenants) return generatedTenantId(this.world.seed, index);
    }
    return undefined;
  }

  private generated(id: string): WorldTenant | undefined {
    if (!id.startsWith(this.generatedPrefix)) return undefined;
    const index = parseInt(id.slice(24), 16);
    if (!Number.isFinite(index) || index >= this.world.generate.tenants) return undefined;
    return generatedEntry(this.world, index);
  }

  /** The world entry for a generated tenant index (for background records). */
  isGenerated(id: string): boolean {
    return this.generated(id) !== undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// The built-in demo world: four customers in different states.

export const DEMO_WORLD: WorldInput = {
  app: { clientId: '6f1e2d3c-0000-4000-8000-00000000a001', clientSecret: 'sim-secret-1', displayName: 'tenantwatch (demo)' },
  partner: { tenantId: '9a9a9a9a-0000-4000-8000-000000000001', domain: 'msp.example' },
  tenants: [
    {
      id: '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11',
      name: 'Contoso Ltd',
      domains: ['contoso.com', 'contoso.onmicrosoft.com'],
      consented: true,
      gdap: 'active',
      auditLogEnabled: true,
      hasP1: true,
      canResetPasswords: true,
      users: [
        { upn: 'jane@contoso.com', displayName: 'Jane Doe' },
        { upn: 'raj@contoso.com', displayName: 'Raj Patel' },
        { upn: 'mia@contoso.com', displayName: 'Mia Wong' },
        { upn: 'admin@contoso.com', displayName: 'Contoso Admin', admin: true },
      ],
      recipients: [{ identity: 'Payroll Partner', address: 'payroll@partner-payroll.example', type: 'MailContact' }],
      acceptedDomains: [
        { domain: 'contoso.com' },
        { domain: 'contoso.onmicrosoft.com' },
        { domain: 'eu.contoso.com', matchSubdomains: true },
      ],
      inboxRules: [
        { user: 'jane@contoso.com', name: 'Newsletters', moveToFolder: 'Newsletters', subjectContainsWords: ['newsletter'] },
        { user: 'raj@contoso.com', name: 'Mark receipts read', markAsRead: true, subjectContainsWords: ['receipt'] },
      ],
    },
    {
      id: '5b3d8e21-4f6a-4c2e-8d19-7a0c3e5f1b22',
      name: 'Fabrikam Inc',
      domains: ['fabrikam.com', 'fabrikam.onmicrosoft.com'],
      consented: true,
      gdap: 'expired',
      auditLogEnabled: true,
      users: [
        { upn: 'sam@fabrikam.com', displayName: 'Sam Green' },
        { upn: 'lee@fabrikam.com', displayName: 'Lee Park' },
      ],
      inboxRules: [{ user: 'sam@fabrikam.com', name: 'Invoices', moveToFolder: 'Invoices', subjectContainsWords: ['invoice'] }],
    },
    {
      id: '8c1e4b77-2d3f-4a6b-9e80-1f2a3b4c5d33',
      name: 'Northwind Traders',
      domains: ['northwind.example', 'northwindtraders.onmicrosoft.com'],
      consented: false,
      gdap: 'active',
      auditLogEnabled: true,
      users: [{ upn: 'nancy@northwind.example', displayName: 'Nancy Davolio' }],
    },
    {
      id: 'd4e5f6a7-8b9c-4d0e-a1f2-3b4c5d6e7f44',
      name: 'Adatum Corporation',
      domains: ['adatum.com', 'adatum.onmicrosoft.com'],
      consented: true,
      gdap: 'none',
      auditLogEnabled: false,
      users: [
        { upn: 'kim@adatum.com', displayName: 'Kim Akers' },
        { upn: 'ben@adatum.com', displayName: 'Ben Miller', federated: true },
      ],
    },
  ],
};
