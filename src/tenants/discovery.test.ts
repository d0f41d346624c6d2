import { describe, expect, it } from 'vitest';
import { gdapState, mergeDiscovery, shouldAdd } from './discovery.ts';

const A = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const B = '3f2b6c1e-7a41-4d0b-9c55-2e8f1a7b9d10';
const C = '4a4a4a4a-0000-4000-8000-000000000004';

describe('GDAP discovery', () => {
  it('summarises every Microsoft relationship status', () => {
    expect(['active', 'expiring'].map(gdapState)).toEqual(['active', 'active']);
    expect(['activating', 'approvalPending', 'approved', 'created'].map(gdapState)).toEqual(['pending', 'pending', 'pending', 'pending']);
    expect(gdapState('expired')).toBe('expired');
    expect(['terminated', 'terminating', 'terminationRequested'].map(gdapState)).toEqual(['terminated', 'terminated', 'terminated']);
    expect(gdapState('unknownFutureValue')).toBe('none');
  });

  it('keeps the best relationship per customer and merges legacy contracts', () => {
    const rels = [
      { id: '1', status: 'expired', customer: { tenantId: A.toUpperCase(), displayName: 'Contoso' }, endDateTime: '2024-01-01T00:00:00Z' },
      { id: '2', status: 'active', customer: { tenantId: A, displayName: 'Contoso' }, endDateTime: '2027-01-01T00:00:00Z' },
      { id: '3', status: 'expired', customer: { tenantId: B, displayName: 'Fabrikam' } },
      { id: '4', status: 'active', customer: { tenantId: 'not-a-guid', displayName: 'Junk' } },
    ];
    const contracts = [
      { id: 'c1', customerId: C, displayName: 'Northwind', defaultDomainName: 'Northwind.example' },
      { id: 'c2', customerId: A, displayName: 'CONTOSO (old)', defaultDomainName: 'contoso.com' },
    ];
    const out = mergeDiscovery(rels, contracts, new Set([B]));
    expect(out).toEqual([
      { tenantId: A, name: 'Contoso', defaultDomain: 'contoso.com', gdap: 'active', gdapEndsAt: '2027-01-01T00:00:00Z', relationships: 2, contract: true, registered: false },
      { tenantId: B, name: 'Fabrikam', defaultDomain: null, gdap: 'expired', gdapEndsAt: null, relationships: 1, contract: false, registered: true },
      { tenantId: C, name: 'Northwind', defaultDomain: 'northwind.example', gdap: 'none', gdapEndsAt: null, relationships: 0, contract: true, registered: false },
    ]);
    expect(out.map(shouldAdd)).toEqual([true, false, true]);
  });
});
