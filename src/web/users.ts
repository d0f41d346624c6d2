// Console users, sessions and API tokens. Passwords are hashed with scrypt (node:crypto); session
// cookies and API tokens are random and only their SHA-256 is stored, so a copy of the store logs no one in.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { nowIso } from '../store/db.ts';
import { OperatorError } from '../errors.ts';

export const ROLES = ['admin', 'analyst', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** What a role may do: admin — everything; analyst — triage and remediate; viewer — read only. */
export type Permission = 'read' | 'triage' | 'remediate' | 'admin';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'triage', 'remediate', 'admin'],
  analyst: ['read', 'triage', 'remediate'],
  viewer: ['read'],
};

export function may(role: string, permission: Permission): boolean {
  return (GRANTS[role as Role] ?? []).includes(permission);
}

export interface User {
  username: string;
  role: Role;
}

export interface UserRow extends User {
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
export const MIN_PASSWORD = 12;
export const SESSION_TTL_MS = 12 * 3600_000;

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 };

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 1 << 20 || r > 32 || p > 16) return false;
  const salt = Buffer.from(parts[4], 'base64url');
  const want = Buffer.from(parts[5], 'base64url');
  if (want.length < 16 || want.length > 128) return false;
  const got = await scrypt(password, salt, want.length, { N, r, p });
  return timingSafeEqual(got, want);
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function checkUsername(username: string): void {
  if (!USERNAME.test(username)) throw new OperatorError('TW_USER_INVALID', { detail: 'user name must be 1-64 letters, digits, . _ @ -' });
}

export function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD || password.length > 1024) {
    throw new OperatorError('TW_USER_INVALID', { detail: `password must be ${MIN_PASSWORD} to 1024 characters` });
  }
}

export function checkRole(role: string): asserts role is Role {
  if (!ROLES.includes(role as Role)) throw new OperatorError('TW_USER_INVALID', { detail: `role must be one of ${ROLES.join(', ')}` });
}

/** A random password for generated accounts (demo admin, `users add` without --password). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export async function addUser(db: Kysely<Database>, u: { username: string; password: string; role: string }): Promise<User> {
  checkUsername(u.username);
  checkPassword(u.password);
  checkRole(u.role);
  const existing = await db.selectFrom('web_users').select('username').where('username', '=', u.username).executeTakeFirst();
  if (existing) throw new OperatorError('TW_WEB_CONFLICT', { what: `user ${u.username}` });
  const now = nowIso();
  await db
    .insertInto('web_users')
    .values({ username: u.username, password_hash: await hashPassword(u.password), role: u.role, disabled: 0, created_at: now, updated_at: now })
    .execute();
  return { username: u.username, role: u.role };
}

export async function listUsers(db: Kysely<Database>): Promise<UserRow[]> {
  const rows = await db.selectFrom('web_users').select(['username', 'role', 'disabled', 'created_at', 'updated_at']).orderBy('username').execute();
  return rows.map((r) => ({ username: r.username, role: r.role as Role, disabled: r.disabled === 1, createdAt: r.created_at, updatedAt: r.updated_at }));
}

export async function getUser(db: Kysely<Database>, username: string): Promise<UserRow | undefined> {
  return (await listUsers(db)).find((u) => u.username === username);
}

async function mustExist(db: Kysely<Database>, username: string): Promise<void> {
  const row = await db.selectFrom('web_users').select('username').where('username', '=', username).executeTakeFirst();
  if (!row) throw new OperatorError('TW_NOT_FOUND', { what: `user ${username}` });
}

/** Sets a new password and ends the user's sessions. */
export async function setPassword(db: Kysely<Database>, username: string, password: string): Promise<void> {
  checkPassword(password);
  await mustExist(db, username);
  await db.updateTable('web_users').set({ password_hash: await hashPassword(password), updated_at: nowIso() }).where('username', '=', username).execute();
  await db.deleteFrom('web_sessions').where('username', '=', username).execute();
}

/** Changes role and/or disabled flag; disabling ends sessions and revokes API tokens. */
export async function updateUser(db: Kysely<Database>, username: string, patch: { role?: string; disabled?: boolean }): Promise<UserRow> {
  await mustExist(db, username);
  if (patch.role !== undefined) checkRole(patch.role);
  await db
    .updateTable('web_users')
    .set({
      ...(patch.role !== undefined ? { role: patch.role } : {}),
      ...(patch.disabled !== undefined ? { disabled: patch.disabled ? 1 : 0 } : {}),
      updated_at: nowIso(),
    })
    .where('username', '=', username)
    .execute();
  if (patch.disabled) {
    await db.deleteFrom('web_sessions').where('username', '=', username).execute();
    await db.deleteFrom('web_api_tokens').where('username', '=', username).execute();
  }
  return (await getUser(db, username))!;
}

export async function deleteUser(db: Kysely<Database>, username: string): Promise<void> {
  await mustExist(db, username);
  await db.deleteFrom('web_sessions').where('username', '=', username).execute();
  await db.deleteFrom('web_api_tokens').where('username', '=', username).execute();
  await db.deleteFrom('web_users').where('username', '=', username).execute();
}

/** Dummy hash so that an unknown user name costs the same time as a wrong password. */
let dummyHash: Promise<string> | undefined;

export async function authenticate(db: Kysely<Database>, username: string, password: string): Promise<User | undefined> {
  if (typeof username !== 'string' || typeof password !== 'string' || password.length > 1024) return undefined;
  const row = await db.selectFrom('web_users').selectAll().where('username', '=', username).executeTakeFirst();
  if (!row || row.disabled === 1) {
    dummyHash ??= hashPassword('not-a-real-password');
    await verifyPassword(password, await dummyHash);
    return undefined;
  }
  return (await verifyPassword(password, row.password_hash)) ? { username: row.username, role: row.role as Role } : undefined;
}

export interface Session {
  token: string;
  csrfToken: string;
  expiresAt: string;
}

export async function createSession(db: Kysely<Database>, username: string, ttlMs = SESSION_TTL_MS): Promise<Session> {
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const now = new Date();
  const expiresAt = nowIso(new Date(now.getTime() + ttlMs));
  await db
    .insertInto('web_sessions')
    .values({ token_hash: sha256(token), username, csrf_token: csrfToken, created_at: nowIso(now), expires_at: expiresAt, last_seen_at: nowIso(now) })
    .execute();
  // Expired sessions are swept on the way.
  await db.deleteFrom('web_sessions').where('expires_at', '<', nowIso(now)).execute();
  return { token, csrfToken, expiresAt };
}

export async function userForSession(db: Kysely<Database>, token: string): Promise<(User & { csrfToken: string }) | undefined> {
  if (!token || token.length > 200) return undefined;
  const row = await db
    .selectFrom('web_sessions')
    .innerJoin('web_users', 'web_users.username', 'web_sessions.username')
    .select(['web_users.username', 'web_users.role', 'web_users.disabled', 'web_sessions.csrf_token', 'web_sessions.expires_at'])
    .where('web_sessions.token_hash', '=', sha256(token))
    .executeTakeFirst();
  if (!row || row.disabled === 1 || row.expires_at < nowIso()) return undefined;
  return { username: row.username, role: row.role as Role, csrfToken: row.csrf_token };
}

export async function endSession(db: Kysely<Database>, token: string): Promise<void> {
  await db.deleteFrom('web_sessions').where('token_hash', '=', sha256(token)).execute();
}

export const API_TOKEN_PREFIX = 'twk_';

/** A new API token for the user; the token is returned once and only its hash is stored. */
export async function createApiToken(db: Kysely<Database>, username: string, name = 'api'): Promise<{ id: string; token: string }> {
  await mustExist(db, username);
  const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const id = randomBytes(6).toString('hex');
  await db
    .insertInto('web_api_tokens')
    .values({ token_hash: sha256(token), id, username, name: name.slice(0, 100), created_at: nowIso(), last_used_at: null })
    .execute();
  return { id, token };
}

export async function userForApiToken(db: Kysely<Database>, token: string): Promise<User | undefined> {
  if (!token.startsWith(API_TOKEN_PREFIX) || token.length > 200) return undefined;
  const hash = sha256(token);
  const row = await db
    .selectFrom('web_api_tokens')
    .innerJoin('web_users', 'web_users.username', 'web_api_tokens.username')
    .select(['web_users.username', 'web_users.role', 'web_users.disabled'])
    .where('web_api_tokens.token_hash', '=', hash)
    .executeTakeFirst();
  if (!row || row.disabled === 1) return undefined;
  await db.updateTable('web_api_tokens').set({ last_used_at: nowIso() }).where('token_hash', '=', hash).execute();
  return { username: row.username, role: row.role as Role };
}

export async function listApiTokens(db: Kysely<Database>, username?: string): Promise<Array<{ id: string; username: string; name: string; createdAt: string; lastUsedAt: string | null }>> {
  let q = db.selectFrom('web_api_tokens').select(['id', 'username', 'name', 'created_at', 'last_used_at']).orderBy('created_at');
  if (username) q = q.where('username', '=', username);
  return (await q.execute()).map((r) => ({ id: r.id, username: r.username, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at }));
}

export async function revokeApiToken(db: Kysely<Database>, id: string): Promise<boolean> {
  const r = await db.deleteFrom('web_api_tokens').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
