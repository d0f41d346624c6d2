import { afterEach, describe, expect, it } from 'vitest';
import { freshStore, type TestStore } from '../../test/helpers/stores.ts';
import { addTenants, tenantIds } from '../../test/helpers/ingest-world.ts';
import { isPollJob, planCycle, pollKey } from './jobs.ts';
import { bossTarget } from './scheduler.ts';

describe('poll job planning', () => {
  let store: TestStore | undefined;
  afterEach(async () => {
    await store?.dispose();
    store = undefined;
  });

  it('plans every enabled tenant × content type, never-polled first, then the longest waiting', async () => {
    store = await freshStore('sqlite');
    const [a, b, c, d] = tenantIds(4) as [string, string, string, string];
    await addTenants(store.db, [a, b, c, d]);
    await store.db.updateTable('tenants').set({ enabled: 0 }).where('tenant_id', '=', d).execute();
    const cursor = (t: string, ct: string, at: string) => ({ tenant_id: t, content_type: ct, backoff_level: 0, updated_at: at, last_poll_at: at });
    await store.db
      .insertInto('ingest_cursors')
      .values([cursor(a, 'Audit.Exchange', '2026-01-01T10:00:00.000Z'), cursor(b, 'Audit.Exchange', '2026-01-01T09:00:00.000Z'), cursor(a, 'Audit.General', '2026-01-01T08:00:00.000Z')])
      .execute();
    const jobs = await planCycle(store.db, ['Audit.Exchange', 'Audit.General']);
    expect(jobs.map(pollKey)).toEqual([
      `${b}|Audit.General`,
      `${c}|Audit.Exchange`,
      `${c}|Audit.General`,
      `${a}|Audit.General`,
      `${b}|Audit.Exchange`,
      `${a}|Audit.Exchange`,
    ]);
  });

  it('accepts only well-formed job data (it comes back from the database)', () => {
    expect(isPollJob({ tenantId: 't', contentType: 'Audit.Exchange' })).toBe(true);
    expect(isPollJob({ tenantId: 'x'.repeat(65), contentType: 'Audit.Exchange' })).toBe(false);
    expect(isPollJob({ tenantId: 1, contentType: 'Audit.Exchange' })).toBe(false);
    expect(isPollJob(null)).toBe(false);
  });

  it('keeps pg-boss in a schema of its own beside the store', () => {
    expect(bossTarget('postgres://u@h:5432/db').schema).toBe('pgboss');
    const t = bossTarget('postgres://u@h:5432/db?schema=tw_test_1');
    expect(t.schema).toBe('tw_test_1_boss');
    expect(t.connectionString).not.toContain('schema=');
  });
});
