// End to end: a burst of 50 related audit records in the simulator becomes one alert and one notification
// (listing, blob fetch, normalize, detect, alert + outbox in one transaction, dispatcher, channel).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { startSim, type StartedSim } from './helpers/sim.ts';
import { addTenants, ingestWorld, simConfig, tenantIds } from './helpers/ingest-world.ts';
import { buildIngest } from '../src/main.ts';
import { createPoller } from '../src/ingest/poller.ts';
import { silentLogger } from '../src/log.ts';
import { createDetector } from '../src/detect/detector.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';
import { createChannels } from '../src/notify/channels/index.ts';
import type { MemoryChannel } from '../src/notify/channels/memory.ts';
import { startDispatcher } from '../src/notify/dispatcher.ts';
import { listAlerts } from '../src/alerts/queries.ts';

const [TENANT] = tenantIds(1);

function forwardingRecord(i: number): Record<string, unknown> {
  return {
    Id: randomUUID(),
    CreationTime: new Date(Date.now() - 60_000 + i * 100).toISOString().slice(0, 19),
    Operation: 'Set-Mailbox',
    OrganizationId: TENANT,
    RecordType: 1,
    ResultStatus: 'True',
    UserKey: '10032001A1B2C3D4',
    UserType: 2,
    Version: 1,
    Workload: 'Exchange',
    ClientIP: '105.112.44.61:55768',
    ObjectId: 'jane',
    UserId: 'jane@t1.example.com',
    Parameters: [
      { Name: 'Identity', Value: 'jane@t1.example.com' },
      { Name: 'ForwardingSmtpAddress', Value: 'smtp:x@evil.example' },
      { Name: 'DeliverToMailboxAndForward', Value: 'False' },
    ],
  };
}

describe.each(DIALECTS)('a burst of records on %s', (dialect) => {
  let sim: StartedSim;
  let store: TestStore;
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 1, types: ['Audit.Exchange'] }) });
    store = await freshStore(dialect);
  });
  afterAll(async () => {
    await store?.dispose();
    await sim?.stop();
  });

  it('turns 50 related records into one alert and one notification', async () => {
    const notify = { channels: [{ name: `burst-${dialect}`, type: 'memory' }], routes: [] };
    const config = simConfig(sim, store.url, { notify, microsoft: { contentTypes: ['Audit.Exchange'] } });
    await addTenants(store.db, [TENANT]);
    await store.db
      .updateTable('tenants')
      .set({ context_json: JSON.stringify({ known: true, acceptedDomains: [{ domain: 't1.example.com', matchSubdomains: false }] }) })
      .where('tenant_id', '=', TENANT)
      .execute();
    const detector = createDetector({ pack: loadRulePackFromDirs().pack });
    // The forwarding rule needs no history: offer the detector without it.
    const parts = await buildIngest(config, silentLogger(), { evaluate: (rec, ctx) => detector.evaluate(rec, ctx) });
    const poller = createPoller({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger: silentLogger(), retryBaseMs: 0 });
    const channels = createChannels(config.notify);
    const inbox = channels.get(`burst-${dialect}`) as MemoryChannel;
    try {
      const r = await sim.control.injectRecords(TENANT, 'Audit.Exchange', Array.from({ length: 50 }, (_, i) => forwardingRecord(i)));
      expect(r.accepted).toBe(50);
      let records = 0;
      for (let cycle = 0; cycle < 15 && records < 50; cycle++) {
        records += (await poller.pollOnce()).totals.records;
        if (records < 50) await new Promise((res) => setTimeout(res, 700));
      }
      expect(records).toBe(50);
      const d = startDispatcher({ db: parts.store.db, channels, pollMs: 50 });
      await d.drain();
      await d.stop();
      const alerts = await listAlerts(parts.store.db, { tenantId: TENANT });
      expect(alerts.items).toHaveLength(1);
      expect(alerts.items[0]).toMatchObject({ ruleId: 'mailbox-forwarding-external', userId: 'jane@t1.example.com', count: 50, status: 'open' });
      expect(inbox.deliveries()).toHaveLength(1);
      expect(inbox.deliveries()[0].message.view).toMatchObject({ alertId: alerts.items[0].id, event: 'created', count: 50 });
    } finally {
      await parts.http.close();
      await parts.store.close();
    }
  });
});
