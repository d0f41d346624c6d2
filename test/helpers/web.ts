// Web test helpers: a server over a fresh store with users of every role, logged-in sessions.
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { buildServer, type WebDeps } from '../../src/web/server.ts';
import { addUser, createApiToken } from '../../src/web/users.ts';
import type { TestStore } from './stores.ts';

export const PASSWORD = 'correct horse battery staple';

export interface Login {
  cookie: string;
  csrf: string;
}

export async function seedUsers(store: TestStore): Promise<{ adminToken: string; viewerToken: string }> {
  for (const role of ['admin', 'analyst', 'viewer'] as const) await addUser(store.db, { username: role, password: PASSWORD, role });
  const adminToken = (await createApiToken(store.db, 'admin', 'test')).token;
  const viewerToken = (await createApiToken(store.db, 'viewer', 'test')).token;
  return { adminToken, viewerToken };
}

export async function webServer(store: TestStore, deps: Partial<WebDeps> = {}): Promise<FastifyInstance> {
  const config = loadConfig({ env: {}, overrides: { web: { metrics: true } } });
  return buildServer({ db: store.db, config, consoleDir: false, ...deps });
}

export async function login(app: FastifyInstance, username: string, password = PASSWORD): Promise<Login> {
  const r = await app.inject({ method: 'POST', url: '/api/login', payload: { username, password } });
  if (r.statusCode !== 200) throw new Error(`login ${username}: ${r.statusCode} ${r.body}`);
  const set = r.cookies.find((c) => c.name === 'tw_session');
  return { cookie: `tw_session=${set!.value}`, csrf: (r.json() as { csrfToken: string }).csrfToken };
}
