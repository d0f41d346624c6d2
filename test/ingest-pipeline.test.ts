// The claim rows, the record-Id dedupe and the one-transaction pipeline, on SQLite and PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeRecord } from '../src/ingest/normalize.ts';
import { claimBlob, claimCandidates, failClaim, ingestHealth, newOwnerId, pruneIngest, registerBlobs } from '../src/ingest/store.ts';
import { processBlob, type PipelineDeps } from '../src/pipeline.ts';
import type { Detection } from '../src/model.ts';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';

const T = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const CT = 'Audit.Exchange';

function rec(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Id: id,
    CreationTime: '2026-03-04T10:15:00',
    Operation: 'New-InboxRule',
    OrganizationId: T,
    RecordType: 1,
    UserId: 'jane@contoso.com',
    Workload: 'Exchange',
    ResultStatus: 'True',
    ...extra,
  };
}

const deps: PipelineDeps = { normalize: (r) => normalizeRecord(r), maxRawRecordBytes: 1024 };

async function claimAll(store: TestStore, me: string): Promise<void> {
  for (const c of await claimCandidates(store.db, T, new Date().toISOString(), { me })) {
    await claimBlob(store.db, c, me, new Date().toISOString(), new Date(Date.now() + 60_000).toISOString());
  }
}

function blob(id: string) {
  return { tenantId: T, contentType: CT, contentId: id, contentUri: `https://manage.office.com/api/v1.0/${T}/activity/feed/audit/${id}` };
}

describe.each(DIALECTS)('ingest pipeline on %s', (dialect) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(dialect);
  });
  afterEach(async () => {
    await store.dispose();
  });

  it('registers a listed blob once however often it is listed or notified', async () => {
    const now = new Date().toISOString();
    expect(await registerBlobs(store.db, [blob('a'), blob('b'), blob('a')], now)).toBe(2);
    expect(await registerBlobs(store.db, [blob('b'), blob('c')], now)).toBe(1);
    const n = await store.db.selectFrom('ingest_blobs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(3);
  });

  it('lets only one of two workers claim the same blob', async () => {
    await registerBlobs(store.db, [blob('a')], new Date().toISOString());
    const now = new Date().toISOString();
    const lease = new Date(Date.now() + 60_000).toISOString();
    const [c1] = await claimCandidates(store.db, T, now, { me: 'w1' });
    const [c2] = await claimCandidates(store.db, T, now, { me: 'w2' });
    const won = await Promise.all([claimBlob(store.db, c1!, 'host-a/1/x', now, lease), claimBlob(store.db, c2!, 'host-b/2/y', now, lease)]);
    expect(won.filter(Boolean)).toHaveLength(1);
  });

  it('processes each record Id once across blobs and drops duplicates inside a blob', async () => {
    await registerBlobs(store.db, [blob('a'), blob('b')], new Date().toISOString());
    const me = newOwnerId();
    await claimAll(store, me);
    const a = await processBlob(store.db, { tenantId: T, contentType: CT, contentId: 'a', owner: me, records: [rec('r1'), rec('r2'), rec('r1')] }, deps);
    const b = await processBlob(store.db, { tenantId: T, contentType: CT, contentId: 'b', owner: me, records: [rec('r2'), rec('r3')] }, deps);
    expect([a.records, a.duplicates, b.records, b.duplicates]).toEqual([2, 1, 1, 1]);
    const ids = (await store.db.selectFrom('ingest_records').select('record_id').orderBy('record_id').execute()).map((r) => r.record_id);
    expect(ids).toEqual(['r1', 'r2', 'r3']);
    const statuses = await store.db.selectFrom('ingest_blobs').select('status').execute();
    expect(statuses.every((s) => s.status === 'done')).toBe(true);
  });

  it('counts malformed records and lets their good neighbours through', async () => {
    await registerBlobs(store.db, [blob('a')], new Date().toISOString());
    const me = newOwnerId();
    await claimAll(store, me);
    const out = await processBlob(store.db, { tenantId: T, contentType: CT, contentId: 'a', owner: me, records: [rec('r1'), 'not a record', null, { Id: 'x' }, rec('r2', { Name: 'x'.repeat(1_000_000) })] }, deps);
    expect(out.records).toBe(2);
    expect(out.malformed).toBe(3);
    expect(out.results.filter((r) => r.outcome === 'malformed').every((r) => typeof r.reason === 'string')).toBe(true);
    const big = await store.db.selectFrom('ingest_records').select(['raw_json', 'raw_truncated']).where('record_id', '=', 'r2').executeTakeFirstOrThrow();
    expect(big.raw_json.length).toBeLessThanOrEqual(1024);
    expect(big.raw_truncated).toBe(1);
  });

  it('commits nothing of a blob whose alert step fails, and the blob stays claimed for a retry', async () => {
    await registerBlobs(store.db, [blob('a')], new Date().toISOString());
    const me = newOwnerId();
    await claimAll(store, me);
    const failing: PipelineDeps = {
      ...deps,
      detector: { evaluate: (r) => [{ recordId: r.id, ruleId: 'x', behaviour: 'inbox-rule-hide', severity: 'high', tenantId: T, userId: r.userId, summary: 's', attempt: false, occurredAt: r.creationTime } satisfies Detection] },
      recordDetections: async () => {
        throw new Error('alerts store down');
      },
    };
    await expect(processBlob(store.db, { tenantId: T, contentType: CT, contentId: 'a', owner: me, records: [rec('r1')] }, failing)).rejects.toThrow(/alerts store down/);
    expect(await store.db.selectFrom('ingest_records').selectAll().execute()).toHaveLength(0);
    const row = await store.db.selectFrom('ingest_blobs').select(['status', 'claimed_by']).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'claimed', claimed_by: me });
  });

  it('hands detections with the tenant context to the alert step inside the same transaction', async () => {
    await registerBlobs(store.db, [blob('a')], new Date().toISOString());
    const me = newOwnerId();
    await claimAll(store, me);
    const seen: string[] = [];
    const out = await processBlob(
      store.db,
      { tenantId: T, contentType: CT, contentId: 'a', owner: me, records: [rec('r1'), rec('r2')] },
      {
        ...deps,
        detector: {
          historyKeys: (r) => [{ tenantId: T, key: `user:${r.userId}` }],
          evaluate: (r, ctx, history) => {
            const n = Number(history.get(T, `user:${r.userId}`) ?? 0) + 1;
            history.set(T, `user:${r.userId}`, n);
            return n === 2 ? [{ recordId: r.id, ruleId: 'second', behaviour: 'inbox-rule-hide', severity: 'high', tenantId: ctx.tenantId, userId: r.userId, summary: 's', attempt: false, occurredAt: r.creationTime }] : [];
          },
        },
        recordDetections: async (trx, ds) => {
          const inTrx = await trx.selectFrom('ingest_records').select('record_id').execute();
          seen.push(`${ds.length} detections, ${inTrx.length} records visible`);
          return ds;
        },
      },
    );
    expect(out.detections).toBe(1);
    expect(seen).toEqual(['1 detections, 2 records visible']);
    const h = await store.db.selectFrom('detect_state').select(['key', 'value_json']).execute();
    expect(h).toEqual([{ key: 'user:jane@contoso.com', value_json: '2' }]);
  });

  it('does not commit a blob whose claim was taken over by another worker', async () => {
    await registerBlobs(store.db, [blob('a')], new Date().toISOString());
    await claimAll(store, 'dead-host/1/aaaa');
    const out = await processBlob(store.db, { tenantId: T, contentType: CT, contentId: 'a', owner: 'other-host/2/bbbb', records: [rec('r1')] }, deps);
    expect(out.committed).toBe(false);
    expect(await store.db.selectFrom('ingest_records').selectAll().execute()).toHaveLength(0);
  });

  it('offers a blob again once its claim lease ran out, and retries failed blobs after their backoff', async () => {
    await registerBlobs(store.db, [blob('a'), blob('b')], new Date().toISOString());
    const now = new Date().toISOString();
    const cands = await claimCandidates(store.db, T, now, { me: 'x' });
    await claimBlob(store.db, cands[0]!, 'remote/1/a', now, new Date(Date.now() - 1000).toISOString());
    await claimBlob(store.db, cands[1]!, 'remote/1/a', now, new Date(Date.now() + 60_000).toISOString());
    await failClaim(store.db, T, 'b', 'remote/1/a', 'failed', 'truncated', new Date(Date.now() + 60_000).toISOString());
    expect((await claimCandidates(store.db, T, new Date().toISOString(), { me: 'x' })).map((c) => c.contentId)).toEqual(['a']);
    expect((await claimCandidates(store.db, T, new Date().toISOString(), { me: 'x', ignoreBackoff: true })).map((c) => c.contentId).sort()).toEqual(['a', 'b']);
  });

  it('prunes finished claims and records older than the horizon', async () => {
    const old = new Date(Date.now() - 9 * 86_400_000).toISOString();
    await registerBlobs(store.db, [blob('a')], old);
    await store.db.updateTable('ingest_blobs').set({ status: 'done' }).execute();
    const r = await pruneIngest(store.db, new Date(Date.now() - 8 * 86_400_000).toISOString());
    expect(r.blobs).toBe(1);
  });

  it('reports cursor, lag and backlog per tenant and content type', async () => {
    await registerBlobs(store.db, [blob('a')], new Date().toISOString());
    const me = newOwnerId();
    await claimAll(store, me);
    await processBlob(store.db, { tenantId: T, contentType: CT, contentId: 'a', owner: me, records: [rec('r1')] }, deps);
    const h = await ingestHealth(store.db, { tenantId: T, now: new Date('2026-03-04T10:20:00Z') });
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ tenantId: T, contentType: CT, newestRecordAt: '2026-03-04T10:15:00.000Z', lagSeconds: 300, pendingBlobs: 0 });
  });
});
