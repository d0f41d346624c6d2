// The per-tenant context detection trusts: accepted domains (with MatchSubDomains), recipients forwarding can point
// at, trusted IPs, exclusions. Loaded from the registry; a tenant whose accepted domains never loaded (or failed to)
// is `known: false` — detection then treats "external" as unknown and never guesses from the user's own domain.
import type { Db } from '../store/db.ts';
import type { TenantContext } from '../model.ts';
import { getTenantById, listTenants, type StoredContext, type TenantRecord } from './registry.ts';

export function contextOf(t: Pick<TenantRecord, 'tenantId' | 'name' | 'context'>): TenantContext {
  const c: StoredContext | undefined = t.context;
  const stored = Array.isArray(c?.acceptedDomains) ? c.acceptedDomains : [];
  const known = c?.known === true && stored.length > 0;
  return {
    tenantId: t.tenantId,
    name: t.name,
    // An unconfirmed list is not handed to detection at all (model.ts: empty + known:false = unknown).
    acceptedDomains: known ? stored : [],
    recipients: Array.isArray(c?.recipients) ? c.recipients : [],
    trustedIps: Array.isArray(c?.trustedIps) ? c.trustedIps : [],
    exclusions: Array.isArray(c?.exclusions) ? c.exclusions : [],
    known,
  };
}

/** The context of one tenant; an unregistered tenant is an empty, unknown context (never an exception). */
export async function loadTenantContext(db: Db, tenantId: string): Promise<TenantContext> {
  const t = await getTenantById(db, tenantId);
  if (!t) return { tenantId, name: tenantId, acceptedDomains: [], recipients: [], trustedIps: [], exclusions: [], known: false };
  return contextOf(t);
}

/** Every registered tenant's context (the pipeline preloads them). */
export async function loadAllTenantContexts(db: Db): Promise<Map<string, TenantContext>> {
  const out = new Map<string, TenantContext>();
  for (const t of await listTenants(db)) out.set(t.tenantId, contextOf(t));
  return out;
}
