// Who is asking, and may they: session cookie (+ X-CSRF-Token on state-changing requests) or
// `Authorization: Bearer <api token>` (no CSRF token needed), then the route's permission.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { OperatorError } from '../errors.ts';
import { may, userForApiToken, userForSession, type Permission, type User } from './users.ts';

export const SESSION_COOKIE = 'tw_session';

export type RoutePermission = Permission | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; every /api route has one (checked when routes are added). */
    permission?: RoutePermission;
  }
  interface FastifyRequest {
    auth?: { user: User; via: 'session' | 'token'; csrfToken?: string; sessionToken?: string } | null;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isUnsafe(method: string): boolean {
  return UNSAFE.has(method.toUpperCase());
}

/** Resolves (once per request) the caller from the bearer token or the session cookie. */
export async function resolveAuth(db: Kysely<Database>, req: FastifyRequest): Promise<FastifyRequest['auth']> {
  if (req.auth !== undefined) return req.auth;
  const header = req.headers.authorization;
  if (typeof header === 'string' && /^Bearer\s+/i.test(header)) {
    const user = await userForApiToken(db, header.replace(/^Bearer\s+/i, '').trim());
    req.auth = user ? { user, via: 'token' } : null;
    return req.auth;
  }
  const token = req.cookies?.[SESSION_COOKIE];
  if (token) {
    const s = await userForSession(db, token);
    req.auth = s ? { user: { username: s.username, role: s.role }, via: 'session', csrfToken: s.csrfToken, sessionToken: token } : null;
    return req.auth;
  }
  req.auth = null;
  return null;
}

export function csrfOk(req: FastifyRequest): boolean {
  const a = req.auth;
  if (!a) return false;
  if (a.via === 'token') return true;
  const sent = req.headers['x-csrf-token'];
  if (typeof sent !== 'string' || !a.csrfToken) return false;
  const x = Buffer.from(sent);
  const y = Buffer.from(a.csrfToken);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The default permission of routes registered by other modules without one. */
export function defaultPermission(method: string, url: string): RoutePermission {
  if (!url.startsWith('/api/')) return 'public';
  if (/^\/api\/alerts\/[^/]+\/remediate$/.test(url) || url === '/api/remediations') return isUnsafe(method) ? 'remediate' : 'read';
  return isUnsafe(method) ? 'admin' : 'read';
}

/** onRequest check: authenticated, allowed, and (cookie + unsafe method) carrying the CSRF token. */
export async function guard(db: Kysely<Database>, req: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const permission = req.routeOptions.config?.permission ?? defaultPermission(req.method, req.routeOptions.url ?? req.url);
  if (permission === 'public') return;
  const auth = await resolveAuth(db, req);
  if (!auth) throw new OperatorError('TW_WEB_UNAUTHENTICATED');
  if (isUnsafe(req.method) && !csrfOk(req)) throw new OperatorError('TW_WEB_CSRF');
  if (!may(auth.user.role, permission)) throw new OperatorError('TW_WEB_FORBIDDEN', { role: auth.user.role, permission: describe(permission) });
}

function describe(p: Permission): string {
  return { read: 'read', triage: 'triage alerts', remediate: 'remediate', admin: 'change settings' }[p];
}
