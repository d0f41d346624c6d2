/* eslint-disable @typescript-eslint/no-explicit-any -- JSON response bodies are read loosely in tests */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { generatedTenantId, loadWorld, validateWorld, WorldError, DEMO_WORLD } from '../src/world.ts';
import { APP_ID, PARTNER, SECRET, startTestSim, worldWith } from './helpers.ts';

describe('world file validation', () => {
  it('lists every mistake at once', () => {
    const bad = {
      app: { clientId: 'not-a-guid' },
      partner: { tenantId: PARTNER, domain: 'msp' },
      tenants: [
        { id: '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11', name: 'A', domains: ['a.example'], gdap: 'sometimes', users: [{ upn: 'nobody' }] },
        { id: 'also-bad', name: '', domains: [] },
      ],
      generate: { tenants: -1 },
      surprise: true,
    };
    let problems: string[] = [];
    try {
      validateWorld(bad);
    } catch (err) {
      expect(err).toBeInstanceOf(WorldError);
      problems = (err as WorldError).problems;
    }
    const text = problems.join('\n');
    for (const where of ['app.clientId', 'partner.domain', 'tenants.0.gdap', 'tenants.0.users.0.upn', 'tenants.1.id', 'tenants.1.name', 'tenants.1.domains', 'generate.tenants', '(top level)']) {
      expect(text).toContain(where);
    }
    expect(problems.length).toBeGreaterThanOrEqual(9);
  });

  it('reports cross-field mistakes together: duplicate ids, users outside the domains, rules for unknown users, no credential', () => {
    const t = { id: '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11', name: 'A', domains: ['a.example'], users: [{ upn: 'x@b.example' }], inboxRules: [{ user: 'y@a.example', name: 'r' }] };
    try {
      validateWorld({ app: { clientId: APP_ID }, partner: { tenantId: PARTNER, domain: 'msp.example' }, tenants: [t, t] });
      expect.unreachable();
    } catch (err) {
      const text = (err as WorldError).problems.join('\n');
      expect(text).toContain('appears twice');
      expect(text).toContain('x@b.example is not in one of the tenant');
      expect(text).toContain('y@a.example is not a user');
      expect(text).toContain('give clientSecret, certificate or both');
      expect(text).toContain('belongs to two tenants');
    }
  });

  it('accepts the built-in demo world', () => {
    const w = validateWorld(DEMO_WORLD);
    expect(w.tenants.length).toBeGreaterThanOrEqual(3);
    expect(new Set(w.tenants.map((t) => t.gdap)).size).toBe(3);
    expect(w.tenants.some((t) => !t.consented)).toBe(true);
    expect(w.tenants.some((t) => !t.auditLogEnabled)).toBe(true);
  });
});

describe('generated tenants', () => {
  it('serves 10,000 generated tenants from one process, materialising only those used', async () => {
    const sim = await startTestSim({ world: worldWith({ tenants: [], generate: { tenants: 10_000, usersPerTenant: 25, recordsPerTenantPerHour: 600 } }), seed: 7 });
    try {
      const last = generatedTenantId(7, 9_999);
      const form = { client_id: APP_ID, client_secret: SECRET, grant_type: 'client_credentials', scope: 'https://manage.office.com/.default' };
      const byId = await sim.call('POST', `/${last}/oauth2/v2.0/token`, { form });
      expect(byId.status).toBe(200);
      const byDomain = await sim.call('POST', '/gen9999.example/oauth2/v2.0/token', { form });
      expect(byDomain.status).toBe(200);
      const beyond = await sim.call('POST', `/${generatedTenantId(7, 10_000)}/oauth2/v2.0/token`, { form });
      expect(beyond.body.error_codes).toEqual([90002]);
      expect(sim.server.tenants.materialised().length).toBeLessThan(10);
      const state = await sim.call('GET', `/_sim/tenants/${last}/state`);
      expect(state.body.users).toHaveLength(25);
    } finally {
      await sim.close();
    }
  });

  it('generates background records on demand per listing window, the same for the same seed', async () => {
    const listAll = async () => {
      const sim = await startTestSim({ world: worldWith({ tenants: [], generate: { tenants: 50, usersPerTenant: 5, recordsPerTenantPerHour: 600 } }), seed: 3 });
      try {
        const t = generatedTenantId(3, 42);
        const token = await sim.token(t);
        await sim.call('POST', `/api/v1.0/${t}/activity/feed/subscriptions/start?contentType=Audit.AzureActiveDirectory`, { token });
        await sim.call('POST', '/_sim/clock', { body: { advanceSeconds: 3 * 3600 } });
        const list = await sim.call('GET', `/api/v1.0/${t}/activity/feed/subscriptions/content?contentType=Audit.AzureActiveDirectory`, { token });
        expect(list.status).toBe(200);
        expect(list.body.length).toBeGreaterThanOrEqual(17);
        const blob = await sim.call('GET', list.body[3].contentUri, { token });
        expect(blob.status).toBe(200);
        expect(blob.body.length).toBeGreaterThan(0);
        expect(blob.body[0]).toMatchObject({ Operation: 'UserLoggedIn', OrganizationId: t, RecordType: 15 });
        expect(blob.body[0].CreationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
        return blob.body.map((r: any) => `${r.Id}|${r.UserId}`);
      } finally {
        await sim.close();
      }
    };
    const a = await listAll();
    const b = await listAll();
    expect(a).toEqual(b);
  });
});

describe('world files in worlds/', () => {
  it('keeps worlds/demo.yaml equal to the built-in demo world', () => {
    expect(loadWorld(resolve(import.meta.dirname, '../worlds/demo.yaml'))).toEqual(loadWorld('demo'));
  });

  it('loads every shipped world without problems', () => {
    for (const f of ['demo.yaml', 'scale.yaml', 'quirkless.yaml']) expect(() => loadWorld(resolve(import.meta.dirname, '../worlds', f))).not.toThrow();
  });
});
