// The registry of customer tenants under watch (the core `tenants` table): add, remove, list, enable, and the stored
// context (what detection trusts) and health (what onboarding/health found). Plain functions over Kysely.
import type { Db } from '../store/db.ts';
import { nowIso } from '../store/db.ts';
import { OperatorError } from '../errors.ts';
import type { AcceptedDomain, Exclusion, KnownRecipient } from '../model.ts';

export type TenantSource = 'gdap' | 'contract' | 'manual' | 'import';

export interface CheckResult {
  ok: boolean;
  reason: string;
  fix?: string;
  /** Microsoft's code when Microsoft said no (AADSTS…, AF…, Graph code). */
  upstreamCode?: string;
}

export interface StoredHealth {
  healthy: boolean;
  checks: Record<string, CheckResult>;
}

/** context_json: TenantContext minus tenantId/name, plus where it came from and why it is unknown. */
export interface StoredContext {
  acceptedDomains: AcceptedDomain[];
  recipients: KnownRecipient[];
  trustedIps: string[];
  exclusions: Exclusion[];
  /** False when the accepted domains could not be loaded: detection treats "external" as unknown. */
  known: boolean;
  /** Why `known` is false (the last load error). */
  error?: string;
  /** 'exchange' (onboarding/refresh) or 'import' (a context file). */
  source?: string;
}

export interface TenantRecord {
  tenantId: string;
  name: string;
  defaultDomain: string | null;
  source: TenantSource | string;
  enabled: boolean;
  addedAt: string;
  context: StoredContext | undefined;
  contextLoadedAt: string | null;
  health: StoredHealth | undefined;
  healthCheckedAt: string | null;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A DNS name: labels of letters, digits and hyphens (no leading/trailing hyphen), at least one dot, a letter TLD.
const DOMAIN = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export function isGuid(s: string): boolean {
  return GUID.test(s);
}

export function isDomainName(s: string): boolean {
  return DOMAIN.test(s);
}

export type TenantRef = { kind: 'id'; tenantId: string } | { kind: 'domain'; domain: string };

/** A tenant GUID or a domain; anything else is TW_TENANT_ID_INVALID (exit 2). */
export function parseTenantRef(input: string): TenantRef {
  const s = (input ?? '').trim();
  if (isGuid(s)) return { kind: 'id', tenantId: s.toLowerCase() };
  if (isDomainName(s)) return { kind: 'domain', domain: s.toLowerCase().replace(/\.$/, '') };
  throw new OperatorError('TW_TENANT_ID_INVALID', { value: JSON.stringify(s.slice(0, 80)) });
}

type Row = {
  tenant_id: string;
  name: string;
  default_domain: string | null;
  source: string;
  enabled: number;
  added_at: string;
  context_json: string | null;
  context_loaded_at: string | null;
  health_json: string | null;
  health_checked_at: string | null;
};

function parseJson<T>(s: string | null): T | undefined {
  if (!s) return undefined;
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}

function toRecord(r: Row): TenantRecord {
  return {
    tenantId: r.tenant_id,
    name: r.name,
    defaultDomain: r.default_domain,
    source: r.source,
    enabled: Number(r.enabled) === 1,
    addedAt: r.added_at,
    context: parseJson<StoredContext>(r.context_json),
    contextLoadedAt: r.context_loaded_at,
    health: parseJson<StoredHealth>(r.health_json),
    healthCheckedAt: r.health_checked_at,
  };
}

export async function listTenants(db: Db, opts: { enabledOnly?: boolean } = {}): Promise<TenantRecord[]> {
  let q = db.selectFrom('tenants').selectAll();
  if (opts.enabledOnly) q = q.where('enabled', '=', 1);
  const rows = (await q.orderBy('name').orderBy('tenant_id').execute()) as Row[];
  return rows.map(toRecord);
}

export async function getTenantById(db: Db, tenantId: string): Promise<TenantRecord | undefined> {
  const row = (await db.selectFrom('tenants').selectAll().where('tenant_id', '=', tenantId.toLowerCase()).executeTakeFirst()) as Row | undefined;
  return row ? toRecord(row) : undefined;
}

/** Finds a registered tenant by GUID, default domain or one of its accepted domains. */
export async function findTenant(db: Db, input: string): Promise<TenantRecord | undefined> {
  const ref = parseTenantRef(input);
  if (ref.kind === 'id') return getTenantById(db, ref.tenantId);
  const all = await listTenants(db);
  return (
    all.find((t) => t.defaultDomain?.toLowerCase() === ref.domain) ??
    all.find((t) => t.context?.acceptedDomains.some((d) => d.domain.toLowerCase() === ref.domain))
  );
}

/** Like findTenant, but an unknown tenant is TW_TENANT_NOT_REGISTERED (exit 2). */
export async function requireTenant(db: Db, input: string): Promise<TenantRecord> {
  const t = await findTenant(db, input);
  if (!t) throw new OperatorError('TW_TENANT_NOT_REGISTERED', { tenant: input.slice(0, 80) });
  return t;
}

export interface AddTenantInput {
  tenantId: string;
  name?: string;
  defaultDomain?: string | null;
  source: TenantSource;
  /** Re-enable a disabled tenant (an explicit `tenants add` does; discovery does not). */
  enable?: boolean;
  actor?: string;
}

/** Idempotent: a second add updates name/domain and keeps everything else. Returns whether the row is new. */
export async function addTenant(db: Db, input: AddTenantInput): Promise<{ added: boolean; tenant: TenantRecord }> {
  const tenantId = input.tenantId.toLowerCase();
  if (!isGuid(tenantId)) throw new OperatorError('TW_TENANT_ID_INVALID', { value: JSON.stringify(input.tenantId.slice(0, 80)) });
  const existing = await getTenantById(db, tenantId);
  const now = nowIso();
  if (existing) {
    const name = input.name && input.name.trim() ? input.name.trim().slice(0, 256) : existing.name;
    await db
      .updateTable('tenants')
      .set({
        name,
        default_domain: input.defaultDomain ?? existing.defaultDomain,
        ...(input.enable ? { enabled: 1 } : {}),
      })
      .where('tenant_id', '=', tenantId)
      .execute();
    return { added: false, tenant: (await getTenantById(db, tenantId))! };
  }
  await db
    .insertInto('tenants')
    .values({
      tenant_id: tenantId,
      name: (input.name ?? '').trim().slice(0, 256) || input.defaultDomain || tenantId,
      default_domain: input.defaultDomain ?? null,
      source: input.source,
      enabled: 1,
      added_at: now,
      context_json: null,
      context_loaded_at: null,
      health_json: null,
      health_checked_at: null,
    })
    .execute();
  await trail(db, input.actor ?? 'cli', 'tenant.add', tenantId, { source: input.source });
  return { added: true, tenant: (await getTenantById(db, tenantId))! };
}

export async function removeTenant(db: Db, tenantId: string, actor = 'cli'): Promise<boolean> {
  const r = await db.deleteFrom('tenants').where('tenant_id', '=', tenantId.toLowerCase()).executeTakeFirst();
  const removed = Number(r.numDeletedRows ?? 0) > 0;
  if (removed) await trail(db, actor, 'tenant.remove', tenantId.toLowerCase(), null);
  return removed;
}

export async function setTenantEnabled(db: Db, tenantId: string, enabled: boolean, actor = 'cli'): Promise<boolean> {
  const r = await db.updateTable('tenants').set({ enabled: enabled ? 1 : 0 }).where('tenant_id', '=', tenantId.toLowerCase()).executeTakeFirst();
  const changed = Number(r.numUpdatedRows ?? 0) > 0;
  if (changed) await trail(db, actor, enabled ? 'tenant.enable' : 'tenant.disable', tenantId.toLowerCase(), null);
  return changed;
}

export async function saveContext(db: Db, tenantId: string, ctx: StoredContext, at = nowIso()): Promise<void> {
  await db
    .updateTable('tenants')
    .set({ context_json: JSON.stringify(ctx), context_loaded_at: at })
    .where('tenant_id', '=', tenantId.toLowerCase())
    .execute();
}

export async function saveHealth(db: Db, tenantId: string, health: StoredHealth, at = nowIso()): Promise<void> {
  await db
    .updateTable('tenants')
    .set({ health_json: JSON.stringify(health), health_checked_at: at })
    .where('tenant_id', '=', tenantId.toLowerCase())
    .execute();
}

async function trail(db: Db, actor: string, action: string, subject: string, detail: unknown): Promise<void> {
  await db
    .insertInto('audit_trail')
    .values({ at: nowIso(), actor, action, subject, detail_json: detail === null ? null : JSON.stringify(detail) })
    .execute();
}
