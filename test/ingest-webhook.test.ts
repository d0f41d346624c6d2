// The Management Activity API webhook receiver mounted in the real web server (inject, no open port).
import Fastify from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { registerIngestWebhook, WEBHOOK_PATH } from '../src/ingest/webhook.ts';
import { registerBlobs, type BlobRef } from '../src/ingest/store.ts';
import { buildServer } from '../src/web/server.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';

const T = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const OTHER = '3f2b6c1e-7a41-4d0b-9c55-2e8f1a7b9d10';
const AUTH = 'o365-hook-secret-7f3c';

function item(tenantId: string, id: string, uriTenant = tenantId, host = 'https://manage.office.com') {
  return {
    tenantId,
    clientId: 'a1c4e7f0-5b2d-4e88-9f31-6d0c2b7e4a95',
    contentType: 'Audit.Exchange',
    contentId: id,
    contentUri: `${host}/api/v1.0/${uriTenant}/activity/feed/audit/${id}`,
    contentCreated: '2026-03-04T10:15:00.123Z',
    contentExpiration: '2026-03-11T10:15:00.123Z',
  };
}

describe('the ingest webhook receiver', () => {
  let store: TestStore;
  let registered: BlobRef[];
  beforeEach(async () => {
    store = await freshStore('sqlite');
    registered = [];
    await store.db
      .insertInto('tenants')
      .values({ tenant_id: T, name: 'Contoso', source: 'manual', enabled: 1, added_at: new Date().toISOString() })
      .execute();
  });
  afterEach(async () => {
    await store.dispose();
  });

  async function server() {
    const config = loadConfig({ env: {}, overrides: { ingest: { webhook: { enabled: true, authId: AUTH } }, web: { publicUrl: 'https://tw.example' } } });
    return buildServer({
      db: store.db,
      config,
      consoleDir: false,
      routes: [
        async (app) =>
          registerIngestWebhook(app, {
            db: store.db,
            config,
            registerNotified: async (b) => {
              registered.push(...b);
              return registerBlobs(store.db, b, new Date().toISOString());
            },
          }),
      ],
    });
  }

  it('answers the validation handshake with 200 when the Webhook-AuthID matches', async () => {
    const app = await server();
    const r = await app.inject({ method: 'POST', url: WEBHOOK_PATH, headers: { 'webhook-authid': AUTH, 'webhook-validationcode': 'abc' }, payload: { validationCode: 'abc' } });
    expect(r.statusCode).toBe(200);
    await app.close();
  });

  it('refuses calls with a missing or wrong Webhook-AuthID', async () => {
    const app = await server();
    const missing = await app.inject({ method: 'POST', url: WEBHOOK_PATH, payload: [item(T, 'c1')] });
    const wrong = await app.inject({ method: 'POST', url: WEBHOOK_PATH, headers: { 'webhook-authid': 'nope' }, payload: [item(T, 'c1')] });
    expect([missing.statusCode, wrong.statusCode]).toEqual([401, 401]);
    expect(registered).toHaveLength(0);
    await app.close();
  });

  it('turns a notification into blob claims once, ignoring unknown tenants and foreign addresses', async () => {
    const app = await server();
    const payload = [item(T, 'c1'), item(T, 'c1'), item(OTHER, 'c2'), item(T, 'c3', OTHER), item(T, 'c4', T, 'https://evil.example'), 'junk'];
    const r = await app.inject({ method: 'POST', url: WEBHOOK_PATH, headers: { 'webhook-authid': AUTH }, payload });
    expect(r.statusCode).toBe(200);
    const again = await app.inject({ method: 'POST', url: WEBHOOK_PATH, headers: { 'webhook-authid': AUTH }, payload: [item(T, 'c1')] });
    expect(again.statusCode).toBe(200);
    const rows = await store.db.selectFrom('ingest_blobs').select(['content_id', 'status']).execute();
    expect(rows).toEqual([{ content_id: 'c1', status: 'pending' }]);
    await app.close();
  });

  it('works as a plugin on a bare Fastify instance too', async () => {
    const app = Fastify();
    const config = loadConfig({ env: {}, overrides: { ingest: { webhook: { enabled: true, authId: AUTH } } } });
    await registerIngestWebhook(app, { db: store.db, config, registerNotified: async (b) => b.length });
    const r = await app.inject({ method: 'POST', url: WEBHOOK_PATH, headers: { 'webhook-authid': AUTH }, payload: { something: 1 } });
    expect(r.statusCode).toBe(400);
    await app.close();
  });
});
