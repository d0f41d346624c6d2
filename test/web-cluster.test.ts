// GET /api/cluster: workers alive, poll jobs and the notification queue, for every role that may read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import { login, seedUsers, webServer, type Login } from './helpers/web.ts';
import { heartbeat } from '../src/scale/registry.ts';

describe.each(DIALECTS)('cluster status API (%s)', (dialect) => {
  let store: TestStore;
  let app: FastifyInstance;
  let viewer: Login;

  beforeAll(async () => {
    store = await freshStore(dialect);
    await seedUsers(store);
    app = await webServer(store, {});
    viewer = await login(app, 'viewer');
  });
  afterAll(async () => {
    await app?.close();
    await store?.dispose();
  });

  it('shows a viewer the workers that report and the notification queue', async () => {
    await heartbeat(store.db, { owner: 'host-a/123/abcd', host: 'host-a', pid: 123, role: 'worker', scheduler: 'in-process', startedAt: new Date().toISOString(), queued: 2, running: 1, jobsDone: 5, jobsFailed: 0 });
    const r = await app.inject({ method: 'GET', url: '/api/cluster', headers: { cookie: viewer.cookie } });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.workersAlive).toBe(1);
    expect(body.workers[0].owner).toBe('host-a/123/abcd');
    expect(body.notifications).toMatchObject({ pending: 0, dead: 0 });
    expect(body.jobs).toHaveProperty('queued');
  });

  it('refuses an anonymous caller', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/cluster' });
    expect(r.statusCode).toBe(401);
  });
});
