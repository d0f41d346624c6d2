// POST /api/login, POST /api/logout, GET /api/session.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OperatorError } from '../../errors.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { authenticate, createSession, endSession, SESSION_TTL_MS } from '../users.ts';
import type { WebContext } from '../server.ts';
import { parseBody } from './util.ts';

const loginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict();

function secureCookie(ctx: WebContext, req: FastifyRequest): boolean {
  return req.protocol === 'https' || (ctx.config.web.publicUrl?.startsWith('https:') ?? false);
}

export function registerSessionRoutes(app: FastifyInstance, ctx: WebContext): void {
  const limit = ctx.loginRateLimit ?? { max: 10, timeWindowMs: 60_000 };
  app.post(
    '/api/login',
    {
      config: { permission: 'public', rateLimit: { max: limit.max, timeWindow: limit.timeWindowMs } },
      schema: {
        tags: ['session'],
        summary: 'Log in: sets the session cookie and answers {csrfToken}',
        security: [],
        body: { type: 'object', required: ['username', 'password'], properties: { username: { type: 'string' }, password: { type: 'string' } } },
      },
    },
    async (req, reply: FastifyReply) => {
      const body = parseBody(loginBody, req.body);
      const user = await authenticate(ctx.db, body.username, body.password);
      if (!user) {
        ctx.logger.warn({ username: body.username.slice(0, 64), ip: req.ip }, 'login failed');
        throw new OperatorError('TW_WEB_LOGIN_FAILED');
      }
      const s = await createSession(ctx.db, user.username);
      void reply.setCookie(SESSION_COOKIE, s.token, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: secureCookie(ctx, req),
        maxAge: Math.floor(SESSION_TTL_MS / 1000),
      });
      ctx.logger.info({ username: user.username }, 'login');
      return { csrfToken: s.csrfToken, user };
    },
  );

  app.post('/api/logout', { config: { permission: 'read' }, schema: { tags: ['session'], summary: 'End the session' } }, async (req, reply) => {
    if (req.auth?.sessionToken) await endSession(ctx.db, req.auth.sessionToken);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/session', { config: { permission: 'read' }, schema: { tags: ['session'], summary: 'Who is logged in, and the CSRF token of the session' } }, async (req) => ({
    user: req.auth!.user,
    csrfToken: req.auth!.csrfToken ?? null,
  }));
}
