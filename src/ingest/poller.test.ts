// The poller's subscription upkeep in webhook mode, over a hand-written ManagementApi double (our own
// interface; the wire itself is covered against m365-sim in test/ingest-*.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { silentLogger } from '../log.ts';
import type { ManagementApi, Subscription, WebhookSpec } from '../m365/management-api.ts';
import { normalizeRecord } from './normalize.ts';
import { createPoller } from './poller.ts';
import { freshStore, type TestStore } from '../../test/helpers/stores.ts';

const T = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const HOOK = { address: 'https://tw.example/hooks/management-activity', authId: 'o365-hook-secret' };

function api(subs: Subscription[], starts: Array<{ contentType: string; webhook?: WebhookSpec | null }>): ManagementApi {
  return {
    startSubscription: async (_t, contentType, webhook) => {
      starts.push({ contentType, webhook });
      return { changed: true };
    },
    stopSubscription: async () => {},
    listSubscriptions: async () => subs,
    // eslint-disable-next-line require-yield
    listContent: async function* () {
      return;
    },
    fetchBlob: async () => ({ ok: true, records: [], bytes: 2 }),
  };
}

describe('webhook subscription upkeep', () => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore('sqlite');
    await store.db.insertInto('tenants').values({ tenant_id: T, name: 'Contoso', source: 'manual', enabled: 1, added_at: new Date().toISOString() }).execute();
  });
  afterEach(async () => {
    await store.dispose();
  });

  const config = loadConfig({ env: {}, overrides: { microsoft: { contentTypes: ['Audit.Exchange', 'Audit.AzureActiveDirectory', 'Audit.General'] } } });
  const now = new Date('2026-03-10T12:00:00.000Z');

  it('renews webhooks that are missing, disabled or expire within a day, and leaves healthy ones alone', async () => {
    const starts: Array<{ contentType: string; webhook?: WebhookSpec | null }> = [];
    const subs: Subscription[] = [
      { contentType: 'Audit.Exchange', status: 'enabled', webhook: { status: 'enabled', address: HOOK.address, expiration: '2026-03-11T06:00:00.000Z' } },
      { contentType: 'Audit.AzureActiveDirectory', status: 'enabled', webhook: { status: 'disabled', address: HOOK.address, expiration: null } },
      { contentType: 'Audit.General', status: 'enabled', webhook: { status: 'enabled', address: HOOK.address, expiration: '2026-03-15T12:00:00.000Z' } },
    ];
    const poller = createPoller({
      db: store.db,
      api: api(subs, starts),
      config,
      pipeline: { normalize: (r) => normalizeRecord(r), maxRawRecordBytes: 1024 },
      logger: silentLogger(),
      webhook: HOOK,
      now: () => now,
    });
    const report = await poller.pollOnce();
    expect(starts.map((s) => s.contentType).sort()).toEqual(['Audit.AzureActiveDirectory', 'Audit.Exchange']);
    for (const s of starts) {
      expect(s.webhook).toMatchObject({ address: HOOK.address, authId: HOOK.authId });
      expect(Date.parse(s.webhook!.expiration!)).toBe(now.getTime() + 7 * 86_400_000);
    }
    expect(report.tenants[0]!.contentTypes.filter((c) => c.subscriptionStarted).map((c) => c.contentType).sort()).toEqual(['Audit.AzureActiveDirectory', 'Audit.Exchange']);
    // Checked at most hourly, and Microsoft's 15 minutes between start requests are respected.
    await poller.pollOnce();
    expect(starts).toHaveLength(2);
  });
});
