// Settings: notification channels (with "send test message") and routes, exclusions, and the demo's
// notifications view. Validation uses the configuration file's own schema.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BEHAVIOURS } from '../../model.ts';
import { readNotifySettings, redactedSettings, saveNotifySettings } from '../settings.ts';
import type { WebContext } from '../server.ts';
import { audit, isCidr } from './tenants.ts';
import { need, notFound, parseBody } from './util.ts';

const settingsBody = z.object({ channels: z.array(z.unknown()).max(100).optional(), routes: z.array(z.unknown()).max(200).optional() }).strict();

export const exclusionSchema = z
  .object({
    /** Absent: every tenant. */
    tenantId: z.string().min(1).max(100).optional(),
    behaviour: z.enum(BEHAVIOURS).optional(),
    ruleId: z.string().max(100).optional(),
    user: z.string().max(320).optional(),
    destination: z.string().max(320).optional(),
    ipRange: z.string().max(64).refine(isCidr, 'expected an IP address or CIDR range').optional(),
    reason: z.string().min(1, 'say why').max(500),
    expiresAt: z.iso.datetime().optional(),
  })
  .strict()
  .refine((e) => e.behaviour || e.ruleId || e.user || e.destination || e.ipRange, { message: 'an exclusion needs at least one of behaviour, ruleId, user, destination, ipRange' });

export function registerSettingsRoutes(app: FastifyInstance, ctx: WebContext): void {
  const exclusions = need(ctx.exclusions, 'exclusions');

  app.get('/api/settings/notify', { config: { permission: 'read' }, schema: { tags: ['settings'], summary: 'Channels and routes (secrets redacted)' } }, async () =>
    redactedSettings(await readNotifySettings(ctx.db, ctx.config)),
  );

  app.put('/api/settings/notify', { config: { permission: 'admin' }, schema: { tags: ['settings'], summary: 'Replace channels and/or routes (validated like the config file)' } }, async (req) => {
    const body = parseBody(settingsBody, req.body);
    const saved = await saveNotifySettings(ctx.db, ctx.config, body, ctx.validateChannel);
    await audit(ctx, req.auth!.user.username, 'settings.notify', null, { channels: saved.channels.map((c) => c.name), routes: saved.routes.length });
    return redactedSettings(saved);
  });

  app.post('/api/settings/channels/:name/test', { config: { permission: 'admin' }, schema: { tags: ['settings'], summary: 'Send a test message through a channel' } }, async (req) => {
    const { name } = req.params as { name: string };
    const { channels } = await readNotifySettings(ctx.db, ctx.config);
    if (!channels.some((c) => c.name === name)) throw notFound(`channel ${name.slice(0, 100)}`);
    const r = await need(ctx.channels, 'sending through channels').sendTest(name, req.auth!.user.username);
    ctx.publish('notifications', {});
    return r;
  });

  app.get('/api/exclusions', { config: { permission: 'read' }, schema: { tags: ['settings'], summary: 'Exclusions (known-good forwarding, users, IP ranges …)' } }, async () => ({
    items: await exclusions.list(),
  }));

  app.post('/api/exclusions', { config: { permission: 'admin' }, schema: { tags: ['settings'], summary: 'Add an exclusion' } }, async (req, reply) => {
    const body = parseBody(exclusionSchema, req.body);
    const r = await exclusions.add(body, req.auth!.user.username);
    await audit(ctx, req.auth!.user.username, 'exclusion.add', String(r.id ?? ''), body);
    return reply.status(201).send(r);
  });

  app.delete('/api/exclusions/:id', { config: { permission: 'admin' }, schema: { tags: ['settings'], summary: 'Remove an exclusion' } }, async (req) => {
    const { id } = req.params as { id: string };
    if (!(await exclusions.remove(id, req.auth!.user.username))) throw notFound(`exclusion ${id.slice(0, 100)}`);
    await audit(ctx, req.auth!.user.username, 'exclusion.remove', id, undefined);
    return { ok: true };
  });

  app.get('/api/notifications', { config: { permission: 'read' }, schema: { tags: ['settings'], summary: "The demo's memory channel, rendered as Teams, Slack and e-mail would show it" } }, async () => ({
    items: ctx.notifications ? await ctx.notifications.list() : [],
    available: Boolean(ctx.notifications),
  }));
}
