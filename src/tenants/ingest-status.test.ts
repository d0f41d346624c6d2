import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from '../../test/helpers/stores.ts';
import { readIngestStatus } from './ingest-status.ts';

const T = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';

describe.each(DIALECTS)('ingest status for health on %s', (dialect) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(dialect);
  });
  afterEach(async () => {
    await store.dispose();
  });

  const cursor = (contentType: string, v: Record<string, string | null>) =>
    store.db
      .insertInto('ingest_cursors')
      .values({
        tenant_id: T,
        content_type: contentType,
        listed_to: null,
        newest_record_at: null,
        last_poll_at: null,
        last_success_at: null,
        last_error: null,
        last_error_at: null,
        lost_from: null,
        lost_to: null,
        backoff_until: null,
        backoff_level: 0,
        updated_at: '2025-03-04T10:00:00.000Z',
        ...v,
      })
      .execute();

  it('is omitted for a tenant the poller has not seen', async () => {
    expect(await readIngestStatus(store.db, T, new Date())).toBeUndefined();
  });

  it('reports the last successful poll, the lag of the stalest content type and the content types in error', async () => {
    await cursor('Audit.Exchange', { last_success_at: '2025-03-04T10:00:00.000Z', newest_record_at: '2025-03-04T09:30:00.000Z' });
    await cursor('Audit.General', {
      last_success_at: '2025-03-04T09:00:00.000Z',
      newest_record_at: '2025-03-04T08:00:00.000Z',
      last_error: 'TW_M365_THROTTLED: throttled',
      last_error_at: '2025-03-04T09:50:00.000Z',
    });
    const s = await readIngestStatus(store.db, T, new Date('2025-03-04T10:00:00.000Z'));
    expect(s).toEqual({ lastSuccessAt: '2025-03-04T10:00:00.000Z', lagSeconds: 7200, errorCount: 1, failedBlobs: 0, lastError: 'TW_M365_THROTTLED: throttled' });
  });
});
