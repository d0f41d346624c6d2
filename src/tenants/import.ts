// `tenants import <context.yaml>` (contracts §3): registers each tenant in the file and stores its context as the
// operator wrote it. Idempotent: importing the same file twice changes nothing.
import type { TenantContext } from '../model.ts';
import type { Db } from '../store/db.ts';
import { addTenant, getTenantById, saveContext } from './registry.ts';

export async function importContexts(db: Db, tenants: TenantContext[]): Promise<Array<{ tenantId: string; added: boolean }>> {
  const out: Array<{ tenantId: string; added: boolean }> = [];
  for (const t of tenants) {
    const r = await addTenant(db, { tenantId: t.tenantId, name: t.name, source: 'import', actor: 'import' });
    const before = (await getTenantById(db, t.tenantId))?.context;
    await saveContext(db, t.tenantId, {
      acceptedDomains: t.acceptedDomains,
      // Recipients learnt from Exchange stay unless the file lists its own.
      recipients: t.recipients.length ? t.recipients : (before?.recipients ?? []),
      trustedIps: t.trustedIps,
      exclusions: t.exclusions,
      known: t.acceptedDomains.length > 0,
      source: 'import',
    });
    out.push({ tenantId: r.tenant.tenantId, added: r.added });
  }
  return out;
}
