// History-based rules in the service: the pipeline preloads detect_state for a blob and writes it back in
// the blob's transaction, so a destination shared by users of two different tenants is caught, as in replay.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeRecord } from '../src/ingest/normalize.ts';
import { claimBlob, claimCandidates, newOwnerId, registerBlobs } from '../src/ingest/store.ts';
import { processBlob, type PipelineDeps } from '../src/pipeline.ts';
import { createDetector } from '../src/detect/detector.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';
import type { Detection, TenantContext } from '../src/model.ts';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';

const A = '11111111-0000-4000-8000-00000000000a';
const B = '22222222-0000-4000-8000-00000000000b';
const DOMAINS: Record<string, string> = { [A]: 'alpha.example', [B]: 'beta.example' };

function context(tenantId: string): TenantContext {
  return { tenantId, name: tenantId, acceptedDomains: [{ domain: DOMAINS[tenantId], matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: true };
}

function forwardRule(tenantId: string, id: string, user: string): Record<string, unknown> {
  return {
    Id: id,
    CreationTime: '2026-03-04T10:15:00',
    Operation: 'New-InboxRule',
    OrganizationId: tenantId,
    RecordType: 1,
    UserId: user,
    Workload: 'Exchange',
    ResultStatus: 'True',
    ClientIP: '198.51.100.23:50412',
    Parameters: [
      { Name: 'Name', Value: 'sync' },
      { Name: 'ForwardTo', Value: 'collector@drop-box.example.net' },
    ],
  };
}

describe.each(DIALECTS)('detection history in the pipeline on %s', (dialect) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(dialect);
  });
  afterEach(async () => {
    await store.dispose();
  });

  it('catches two tenants forwarding to the same external address as a shared destination', async () => {
    const { pack, problems } = loadRulePackFromDirs([]);
    expect(problems).toEqual([]);
    const seen: Detection[] = [];
    const deps: PipelineDeps = {
      normalize: (r) => normalizeRecord(r),
      detector: createDetector({ pack }),
      loadContext: async (_db, t) => context(t),
      recordDetections: async (_trx, ds) => {
        seen.push(...ds);
        return ds;
      },
      maxRawRecordBytes: 4096,
    };
    const me = newOwnerId();
    for (const [tenantId, id, user] of [
      [A, 'rec-a', 'ann@alpha.example'],
      [B, 'rec-b', 'bob@beta.example'],
    ] as const) {
      const contentId = `blob-${id}`;
      await registerBlobs(store.db, [{ tenantId, contentType: 'Audit.Exchange', contentId, contentUri: `https://manage.office.com/api/v1.0/${tenantId}/activity/feed/audit/${contentId}` }], new Date().toISOString());
      for (const c of await claimCandidates(store.db, tenantId, new Date().toISOString(), { me })) {
        await claimBlob(store.db, c, me, new Date().toISOString(), new Date(Date.now() + 60_000).toISOString());
      }
      const out = await processBlob(store.db, { tenantId, contentType: 'Audit.Exchange', contentId, owner: me, records: [forwardRule(tenantId, id, user)] }, deps);
      expect(out.committed).toBe(true);
    }
    const shared = seen.filter((d) => d.behaviour === 'shared-destination');
    expect(shared.map((d) => [d.recordId, d.tenantId])).toEqual([['rec-b', B]]);
    const state = await store.db.selectFrom('detect_state').select(['tenant_id', 'key']).where('tenant_id', '=', '*').execute();
    expect(state.map((r) => r.key)).toContain('dest:collector@drop-box.example.net');
  });
});
