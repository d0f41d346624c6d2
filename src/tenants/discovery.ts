// Discovery: which customers the MSP manages, from GDAP relationships in the partner tenant (legacy DAP
// contracts as a fallback), compared with the registry. GDAP roles serve partner *users*; app-only tokens
// still need the app consented in each customer (m365-api.md §4), so discovery lists, onboarding checks.
import type { Config } from '../config.ts';
import { OperatorError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { DelegatedAdminRelationship, GraphClient, GraphContract } from '../m365/graph.ts';
import { isM365Error } from '../m365/m365-error.ts';
import type { Db } from '../store/db.ts';
import { addTenant, isGuid, listTenants } from './registry.ts';

/** Our summary of a customer's GDAP relationships (the best one wins). */
export type GdapState = 'active' | 'pending' | 'expired' | 'terminated' | 'none';

export interface DiscoveredTenant {
  tenantId: string;
  name: string;
  defaultDomain: string | null;
  gdap: GdapState;
  /** Latest end of an active relationship (ISO), when known. */
  gdapEndsAt: string | null;
  relationships: number;
  /** Listed by legacy DAP contracts. */
  contract: boolean;
  registered: boolean;
}

export interface DiscoveryResult {
  tenants: DiscoveredTenant[];
  /** What could not be read (GDAP or contracts), each with its Microsoft code; discovery goes on without it. */
  problems: Array<{ source: 'gdap' | 'contracts'; reason: string; upstreamCode?: string }>;
}

const RANK: Record<GdapState, number> = { active: 4, pending: 3, expired: 2, terminated: 1, none: 0 };

/** Microsoft's relationship status → our summary. https://learn.microsoft.com/graph/api/resources/delegatedadminrelationship */
export function gdapState(status: string): GdapState {
  switch (status) {
    case 'active':
    case 'expiring': // still active until endDateTime
      return 'active';
    case 'activating':
    case 'approvalPending':
    case 'approved':
    case 'created':
      return 'pending';
    case 'expired':
      return 'expired';
    case 'terminated':
    case 'terminating':
    case 'terminationRequested':
      return 'terminated';
    default:
      return 'none';
  }
}

export function mergeDiscovery(rels: DelegatedAdminRelationship[], contracts: GraphContract[], registered: Set<string>): DiscoveredTenant[] {
  const by = new Map<string, DiscoveredTenant>();
  const get = (tenantId: string, name: string): DiscoveredTenant => {
    const id = tenantId.toLowerCase();
    let t = by.get(id);
    if (!t) {
      t = { tenantId: id, name, defaultDomain: null, gdap: 'none', gdapEndsAt: null, relationships: 0, contract: false, registered: registered.has(id) };
      by.set(id, t);
    }
    if (!t.name && name) t.name = name;
    return t;
  };
  for (const r of rels) {
    const tid = r.customer?.tenantId;
    if (!tid || !isGuid(tid)) continue;
    const t = get(tid, r.customer?.displayName ?? '');
    t.relationships++;
    const s = gdapState(r.status);
    if (RANK[s] > RANK[t.gdap]) t.gdap = s;
    if (s === 'active' && r.endDateTime && (!t.gdapEndsAt || r.endDateTime > t.gdapEndsAt)) t.gdapEndsAt = r.endDateTime;
  }
  for (const c of contracts) {
    if (!c.customerId || !isGuid(c.customerId)) continue;
    const t = get(c.customerId, c.displayName ?? '');
    t.contract = true;
    if (c.defaultDomainName) t.defaultDomain = c.defaultDomainName.toLowerCase();
  }
  return [...by.values()].sort((a, b) => a.name.localeCompare(b.name) || a.tenantId.localeCompare(b.tenantId));
}

export async function discoverTenants(deps: { db: Db; config: Readonly<Config>; graph: GraphClient; logger?: Logger }): Promise<DiscoveryResult> {
  const logger = deps.logger ?? silentLogger();
  if (!deps.config.microsoft.partnerTenantId) throw new OperatorError('TW_TENANT_PARTNER_MISSING');
  const problems: DiscoveryResult['problems'] = [];
  let rels: DelegatedAdminRelationship[] = [];
  let contracts: GraphContract[] = [];
  try {
    rels = await deps.graph.delegatedAdminRelationships();
  } catch (e) {
    problems.push({ source: 'gdap', reason: isM365Error(e) ? e.message : String(e), upstreamCode: isM365Error(e) ? e.upstreamCode : undefined });
  }
  // Legacy DAP contracts: customers without (or before) GDAP. https://learn.microsoft.com/graph/api/resources/contract
  try {
    contracts = await deps.graph.contracts();
  } catch (e) {
    problems.push({ source: 'contracts', reason: isM365Error(e) ? e.message : String(e), upstreamCode: isM365Error(e) ? e.upstreamCode : undefined });
  }
  if (problems.length === 2) {
    throw new OperatorError('TW_TENANT_DISCOVERY_FAILED', { reason: problems.map((p) => `${p.source}: ${p.upstreamCode ?? ''} ${p.reason}`.trim()).join('; ') });
  }
  const registered = new Set((await listTenants(deps.db)).map((t) => t.tenantId));
  const tenants = mergeDiscovery(rels, contracts, registered);
  logger.info({ found: tenants.length, problems: problems.length }, 'tenant discovery');
  return { tenants, problems };
}

/** Whether `discover --add` registers a tenant: an active GDAP relationship, or a legacy contract without GDAP. */
export function shouldAdd(t: DiscoveredTenant): boolean {
  return t.gdap === 'active' || t.gdap === 'pending' || (t.gdap === 'none' && t.contract);
}

export async function addDiscovered(db: Db, tenants: DiscoveredTenant[]): Promise<DiscoveredTenant[]> {
  const added: DiscoveredTenant[] = [];
  for (const t of tenants) {
    if (t.registered || !shouldAdd(t)) continue;
    const r = await addTenant(db, { tenantId: t.tenantId, name: t.name, defaultDomain: t.defaultDomain, source: t.gdap === 'none' ? 'contract' : 'gdap' });
    if (r.added) added.push(t);
  }
  return added;
}
