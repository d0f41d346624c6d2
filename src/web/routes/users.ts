// Users and roles (admin only), API tokens.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OperatorError } from '../../errors.ts';
import type { WebContext } from '../server.ts';
import { addUser, createApiToken, deleteUser, listApiTokens, listUsers, revokeApiToken, ROLES, setPassword, updateUser } from '../users.ts';
import { audit } from './tenants.ts';
import { notFound, parseBody } from './util.ts';

const addBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(12).max(1024), role: z.enum(ROLES) }).strict();
const patchBody = z.object({ role: z.enum(ROLES).optional(), disabled: z.boolean().optional(), password: z.string().min(12).max(1024).optional() }).strict();
const tokenBody = z.object({ name: z.string().min(1).max(100).default('api') }).strict();

export function registerUserRoutes(app: FastifyInstance, ctx: WebContext): void {
  app.get('/api/users', { config: { permission: 'admin' }, schema: { tags: ['users'], summary: 'Users and roles' } }, async () => ({
    items: await listUsers(ctx.db),
    tokens: await listApiTokens(ctx.db),
  }));

  app.post('/api/users', { config: { permission: 'admin' }, schema: { tags: ['users'], summary: 'Add a user' } }, async (req, reply) => {
    const b = parseBody(addBody, req.body);
    const u = await addUser(ctx.db, b);
    await audit(ctx, req.auth!.user.username, 'user.add', u.username, { role: u.role });
    return reply.status(201).send(u);
  });

  app.patch('/api/users/:username', { config: { permission: 'admin' }, schema: { tags: ['users'], summary: 'Change role, disable, or set a password' } }, async (req) => {
    const { username } = req.params as { username: string };
    const b = parseBody(patchBody, req.body);
    const me = req.auth!.user.username;
    if (username === me && (b.disabled || (b.role && b.role !== 'admin'))) {
      throw new OperatorError('TW_WEB_BAD_REQUEST', { detail: 'you cannot demote or disable yourself' });
    }
    if (b.password) await setPassword(ctx.db, username, b.password);
    const u = await updateUser(ctx.db, username, { role: b.role, disabled: b.disabled });
    await audit(ctx, me, 'user.update', username, { role: b.role, disabled: b.disabled, password: b.password ? 'changed' : undefined });
    return u;
  });

  app.delete('/api/users/:username', { config: { permission: 'admin' }, schema: { tags: ['users'], summary: 'Delete a user' } }, async (req) => {
    const { username } = req.params as { username: string };
    if (username === req.auth!.user.username) throw new OperatorError('TW_WEB_BAD_REQUEST', { detail: 'you cannot delete yourself' });
    await deleteUser(ctx.db, username);
    await audit(ctx, req.auth!.user.username, 'user.delete', username, undefined);
    return { ok: true };
  });

  app.post('/api/users/:username/tokens', { config: { permission: 'admin' }, schema: { tags: ['users'], summary: 'Create an API token (shown once)' } }, async (req, reply) => {
    const { username } = req.params as { username: string };
    const b = parseBody(tokenBody, req.body);
    const t = await createApiToken(ctx.db, username, b.name);
    await audit(ctx, req.auth!.user.username, 'token.create', username, { id: t.id, name: b.name });
    return reply.status(201).send(t);
  });

  app.delete('/api/tokens/:id', { config: { permission: 'admin' }, schema: { tags: ['users'], summary: 'Revoke an API token' } }, async (req) => {
    const { id } = req.params as { id: string };
    if (!(await revokeApiToken(ctx.db, id))) throw notFound(`token ${id.slice(0, 100)}`);
    await audit(ctx, req.auth!.user.username, 'token.revoke', id, undefined);
    return { ok: true };
  });
}
