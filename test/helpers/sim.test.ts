// The startSim helper itself: a child-process simulator, its control API, temp world files, stop().
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startSim } from './sim.ts';

const CONTOSO = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';

describe('startSim', () => {
  it('starts the demo world, exposes the control API over the CA and stops the process', async () => {
    const sim = await startSim();
    try {
      expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(existsSync(sim.caPath)).toBe(true);
      expect(sim.ca).toContain('BEGIN CERTIFICATE');
      const state = await sim.control.state(CONTOSO);
      expect(state.users.map((u: { upn: string }) => u.upn)).toContain('jane@contoso.com');
      const f = await sim.control.faults({ match: { path: '/subscriptions/list' }, status: 503, count: 1 });
      expect(f.id).toMatch(/^fault-/);
      const r = await sim.control.fetch('GET', `/api/v1.0/${CONTOSO}/activity/feed/subscriptions/list`);
      expect(r.status).toBe(503);
      await sim.control.clearFaults();
      const log = await sim.control.requests({ path: '/subscriptions/list' });
      expect(log).toHaveLength(1);
      expect(log[0]).toMatchObject({ method: 'GET', tenant: CONTOSO, status: 503 });
    } finally {
      await sim.stop();
    }
    await expect(sim.control.fetch('GET', '/_sim/health')).rejects.toThrow();
  });

  it('writes a world object to a temp file and removes it on stop', async () => {
    const world = {
      app: { clientId: '6f1e2d3c-0000-4000-8000-00000000a001', clientSecret: 's' },
      partner: { tenantId: '9a9a9a9a-0000-4000-8000-000000000001', domain: 'msp.example' },
      tenants: [{ id: '11111111-2222-4333-8444-555555555555', name: 'T', domains: ['t.example'], users: [{ upn: 'a@t.example' }], subscriptions: ['Audit.Exchange'] }],
    };
    const sim = await startSim({ world });
    try {
      const inj = await sim.control.injectRecords('11111111-2222-4333-8444-555555555555', 'Audit.Exchange', [{ Id: 'x', CreationTime: '2026-01-01T00:00:00', Operation: 'Set-Mailbox' }]);
      expect(inj.accepted).toBe(1);
    } finally {
      await sim.stop();
    }
  });

  it('rejects with the simulator messages when the world has mistakes', async () => {
    await expect(startSim({ world: { app: { clientId: 'nope' } } })).rejects.toThrow(/app\.clientId/);
  });
});
