// Users, sessions and API tokens on every dialect: scrypt hashes, hashed tokens, roles.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.ts';
import {
  addUser,
  authenticate,
  createApiToken,
  createSession,
  deleteUser,
  endSession,
  hashPassword,
  may,
  revokeApiToken,
  setPassword,
  updateUser,
  userForApiToken,
  userForSession,
  verifyPassword,
} from '../src/web/users.ts';

describe('password hashing', () => {
  it('hashes with scrypt and a random salt, and verifies only the right password', async () => {
    const a = await hashPassword('a long enough password');
    const b = await hashPassword('a long enough password');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('a long enough password', a)).toBe(true);
    expect(await verifyPassword('a long enough passworD', a)).toBe(false);
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$99999999$8$1$AAAA$AAAA')).toBe(false);
  });
});

describe('roles', () => {
  it('lets admin do everything, analyst triage and remediate, viewer only read', () => {
    expect(['read', 'triage', 'remediate', 'admin'].map((p) => may('admin', p as never))).toEqual([true, true, true, true]);
    expect(['read', 'triage', 'remediate', 'admin'].map((p) => may('analyst', p as never))).toEqual([true, true, true, false]);
    expect(['read', 'triage', 'remediate', 'admin'].map((p) => may('viewer', p as never))).toEqual([true, false, false, false]);
    expect(may('root', 'read')).toBe(false);
  });
});

describe.each(DIALECTS)('users, sessions and tokens (%s)', (dialect) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await freshStore(dialect);
  });
  afterAll(async () => store?.dispose());

  it('adds a user, refuses duplicates, short passwords and unknown roles', async () => {
    await addUser(store.db, { username: 'ana', password: 'correct horse battery', role: 'analyst' });
    await expect(addUser(store.db, { username: 'ana', password: 'correct horse battery', role: 'analyst' })).rejects.toMatchObject({ code: 'TW_WEB_CONFLICT' });
    await expect(addUser(store.db, { username: 'bob', password: 'short', role: 'viewer' })).rejects.toMatchObject({ code: 'TW_USER_INVALID' });
    await expect(addUser(store.db, { username: 'bob', password: 'correct horse battery', role: 'root' })).rejects.toMatchObject({ code: 'TW_USER_INVALID' });
    await expect(addUser(store.db, { username: '<script>', password: 'correct horse battery', role: 'viewer' })).rejects.toMatchObject({ code: 'TW_USER_INVALID' });
    const row = await store.db.selectFrom('web_users').selectAll().where('username', '=', 'ana').executeTakeFirstOrThrow();
    expect(row.password_hash).not.toContain('correct horse');
  });

  it('authenticates the right password only, and not a disabled user', async () => {
    expect(await authenticate(store.db, 'ana', 'correct horse battery')).toEqual({ username: 'ana', role: 'analyst' });
    expect(await authenticate(store.db, 'ana', 'wrong horse battery')).toBeUndefined();
    expect(await authenticate(store.db, 'nobody', 'correct horse battery')).toBeUndefined();
  });

  it('keeps only the hash of a session token and ends sessions on logout, password change and disable', async () => {
    const s = await createSession(store.db, 'ana');
    const rows = await store.db.selectFrom('web_sessions').select('token_hash').execute();
    expect(rows.map((r) => r.token_hash)).not.toContain(s.token);
    expect(await userForSession(store.db, s.token)).toMatchObject({ username: 'ana', role: 'analyst', csrfToken: s.csrfToken });
    await endSession(store.db, s.token);
    expect(await userForSession(store.db, s.token)).toBeUndefined();
    const s2 = await createSession(store.db, 'ana');
    await setPassword(store.db, 'ana', 'another long password');
    expect(await userForSession(store.db, s2.token)).toBeUndefined();
    const s3 = await createSession(store.db, 'ana');
    await updateUser(store.db, 'ana', { disabled: true });
    expect(await userForSession(store.db, s3.token)).toBeUndefined();
    expect(await authenticate(store.db, 'ana', 'another long password')).toBeUndefined();
    await updateUser(store.db, 'ana', { disabled: false });
  });

  it('treats an expired session as none', async () => {
    const s = await createSession(store.db, 'ana', -1000);
    expect(await userForSession(store.db, s.token)).toBeUndefined();
  });

  it('issues API tokens stored as hashes, which can be revoked', async () => {
    const t = await createApiToken(store.db, 'ana', 'ci');
    expect(t.token).toMatch(/^twk_/);
    expect((await store.db.selectFrom('web_api_tokens').select('token_hash').execute()).map((r) => r.token_hash)).not.toContain(t.token);
    expect(await userForApiToken(store.db, t.token)).toEqual({ username: 'ana', role: 'analyst' });
    expect(await userForApiToken(store.db, `${t.token}x`)).toBeUndefined();
    expect(await revokeApiToken(store.db, t.id)).toBe(true);
    expect(await userForApiToken(store.db, t.token)).toBeUndefined();
  });

  it('changes roles and deletes users with their tokens', async () => {
    expect((await updateUser(store.db, 'ana', { role: 'viewer' })).role).toBe('viewer');
    const t = await createApiToken(store.db, 'ana');
    await deleteUser(store.db, 'ana');
    expect(await userForApiToken(store.db, t.token)).toBeUndefined();
    await expect(deleteUser(store.db, 'ana')).rejects.toMatchObject({ code: 'TW_NOT_FOUND' });
  });
});
