import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.ts';
import { loadTenantContext } from './context.ts';
import { importContexts } from './import.ts';
import { addTenant, findTenant, listTenants, parseTenantRef, removeTenant, requireTenant, saveContext, setTenantEnabled } from './registry.ts';

const T1 = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const T2 = '3f2b6c1e-7a41-4d0b-9c55-2e8f1a7b9d10';

describe('tenant references', () => {
  it('accepts GUIDs (lower-cased) and domain names', () => {
    expect(parseTenantRef(T1.toUpperCase())).toEqual({ kind: 'id', tenantId: T1 });
    expect(parseTenantRef('Contoso.COM')).toEqual({ kind: 'domain', domain: 'contoso.com' });
  });

  it.each(['', 'contoso', '2f6c1a7e-0c1d-4c55-9a53', 'a b.com', '-bad.com', 'x.123', '../etc/passwd', 'contoso.com/../x'])('rejects %j with a usage error (exit 2)', (bad) => {
    expect(() => parseTenantRef(bad)).toThrowError(expect.objectContaining({ code: 'TW_TENANT_ID_INVALID', exitCode: 2 }));
  });
});

describe.each(DIALECTS)('tenant registry on %s', (dialect) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(dialect);
  });
  afterEach(async () => {
    await store.dispose();
  });

  it('adds a tenant once and updates it on a second add', async () => {
    const a = await addTenant(store.db, { tenantId: T1.toUpperCase(), source: 'manual', defaultDomain: 'contoso.com' });
    expect(a.added).toBe(true);
    expect(a.tenant).toMatchObject({ tenantId: T1, name: 'contoso.com', enabled: true, source: 'manual' });
    const b = await addTenant(store.db, { tenantId: T1, name: 'Contoso Ltd', source: 'gdap' });
    expect(b.added).toBe(false);
    expect(b.tenant).toMatchObject({ name: 'Contoso Ltd', source: 'manual', defaultDomain: 'contoso.com' });
    expect(await listTenants(store.db)).toHaveLength(1);
  });

  it('finds tenants by id, default domain and accepted domain, and refuses unknown ones with exit 2', async () => {
    await addTenant(store.db, { tenantId: T1, name: 'Contoso', defaultDomain: 'contoso.com', source: 'manual' });
    await saveContext(store.db, T1, { acceptedDomains: [{ domain: 'contoso.co.uk', matchSubdomains: true }], recipients: [], trustedIps: [], exclusions: [], known: true });
    expect((await findTenant(store.db, 'contoso.com'))?.tenantId).toBe(T1);
    expect((await findTenant(store.db, 'contoso.co.uk'))?.tenantId).toBe(T1);
    await expect(requireTenant(store.db, T2)).rejects.toMatchObject({ code: 'TW_TENANT_NOT_REGISTERED', exitCode: 2 });
  });

  it('disables, enables and removes, recording each in the audit trail', async () => {
    await addTenant(store.db, { tenantId: T1, source: 'manual' });
    expect(await setTenantEnabled(store.db, T1, false)).toBe(true);
    expect(await listTenants(store.db, { enabledOnly: true })).toHaveLength(0);
    expect(await setTenantEnabled(store.db, T1, true)).toBe(true);
    expect(await removeTenant(store.db, T1)).toBe(true);
    expect(await removeTenant(store.db, T1)).toBe(false);
    const trail = await store.db.selectFrom('audit_trail').select(['action', 'subject']).orderBy('id').execute();
    expect(trail.map((r) => r.action)).toEqual(['tenant.add', 'tenant.disable', 'tenant.enable', 'tenant.remove']);
  });

  it('gives an unregistered or never-loaded tenant an unknown context, never a guessed one', async () => {
    expect(await loadTenantContext(store.db, T2)).toMatchObject({ tenantId: T2, acceptedDomains: [], known: false });
    await addTenant(store.db, { tenantId: T1, name: 'Contoso', defaultDomain: 'contoso.com', source: 'manual' });
    expect(await loadTenantContext(store.db, T1)).toMatchObject({ acceptedDomains: [], known: false });
    await saveContext(store.db, T1, { acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: false, error: 'AADSTS700016' });
    expect((await loadTenantContext(store.db, T1)).known).toBe(false);
  });

  it('imports contexts idempotently', async () => {
    const ctx = {
      tenantId: T1,
      name: 'Contoso Ltd',
      acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }, { domain: 'contoso.co.uk', matchSubdomains: true }],
      recipients: [{ identity: 'Partner Billing', address: 'billing@partner.example', type: 'MailContact' }],
      trustedIps: ['203.0.113.0/24'],
      exclusions: [{ behaviour: 'inbox-rule-external-forward', destination: '*@partner.example' }],
      known: true,
    };
    expect(await importContexts(store.db, [ctx])).toEqual([{ tenantId: T1, added: true }]);
    expect(await importContexts(store.db, [ctx])).toEqual([{ tenantId: T1, added: false }]);
    expect(await loadTenantContext(store.db, T1)).toEqual(ctx);
  });
});
