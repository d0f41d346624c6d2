// The composition root wires every module: a takeover played in the simulator reaches the memory
// channel with a signed Secure-and-Remediate link, and the sign-in baseline learns from the records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.ts';
import { startService } from '../src/main.ts';
import { memoryInboxes } from '../src/notify/channels/memory.ts';
import { verifyRemediationLink } from '../src/remediate/links.ts';
import { startSim, type StartedSim } from './helpers/sim.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';
import { addTenants, ingestWorld, simConfig, tenantIds } from './helpers/ingest-world.ts';

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 45_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the composed service', () => {
  let sim: StartedSim;
  let store: TestStore;
  const [t1] = tenantIds(1) as [string];
  beforeAll(async () => {
    sim = await startSim({ world: ingestWorld({ tenants: 1, types: ['Audit.Exchange', 'Audit.AzureActiveDirectory'] }) });
    store = await freshStore('sqlite');
  });
  afterAll(async () => {
    await sim.stop();
    await store.dispose();
  });

  it('notifies a takeover with a signed Secure and Remediate link and feeds the sign-in baseline', { timeout: 120_000 }, async () => {
    await addTenants(store.db, [t1]);
    const context = { acceptedDomains: [{ domain: 't1.example.com', matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: true };
    await store.db.updateTable('tenants').set({ context_json: JSON.stringify(context), context_loaded_at: new Date().toISOString() }).where('tenant_id', '=', t1).execute();
    const linkSecret = 'wiring-test-link-secret-0123456789abcdef';
    const config = simConfig(sim, store.url, {
      microsoft: { contentTypes: ['Audit.Exchange', 'Audit.AzureActiveDirectory'] },
      web: { listen: '127.0.0.1:0', publicUrl: 'https://tenantwatch.msp.example' },
      ingest: { pollIntervalSeconds: 5 },
      notify: { channels: [{ name: 'wiring-inbox', type: 'memory' }] },
      remediate: { linkSecret },
    });
    const service = await startService(config, { roles: 'worker', logger: silentLogger() });
    try {
      await sim.control.activity(t1, 'inbox-rule-forward', { user: 'jane@t1.example.com', destination: 'drop@evil.example.net' });
      const inbox = () => memoryInboxes().find((c) => c.name === 'wiring-inbox');
      await until('a notification in the memory channel', () => (inbox()?.unique().length ?? 0) > 0);
      const delivered = JSON.stringify(inbox()!.unique().map((d) => d.teams));
      const link = /https:\/\/tenantwatch\.msp\.example\/remediate\/[A-Za-z0-9._~-]+/.exec(delivered)?.[0];
      expect(link, 'the Teams card carries the Secure and Remediate link').toBeDefined();
      const token = link!.slice(link!.lastIndexOf('/') + 1);
      const verified = verifyRemediationLink({ remediate: { linkSecret, linkTtlHours: 24 } } as never, token);
      expect(JSON.stringify(verified)).toContain('block-sign-in');
      await until('the baseline to hold the user', async () => {
        const rows = await store.db.selectFrom('user_baseline').select(['user_id', 'kind']).where('tenant_id', '=', t1).execute();
        return rows.some((r) => r.user_id === 'jane@t1.example.com');
      });
    } finally {
      await service.stop();
    }
  });
});
