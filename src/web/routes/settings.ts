// Settings: notification channels (with "send test message") and routes, exclusions, and the demo's
// notifications view. Validation uses the configuration file's own schema.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { BEHAVIOURS } from '../../model.ts';
import { readNotifySettings, redactedSettings, saveNotifySettings } from '../settings.ts';
import type { WebContext } from '../server.ts';
import type { ExclusionsPort } from '../ports.ts';
import { audit, isCidr } from './tenants.ts';
import { need, notFound, parseBody } from './util.ts';

const settingsBody = z.object({ channels: z.array(z.unknown()).max(100).optional(), routes: z.array(z.unknown()).max(200).optional() }).strict();

export const exclusionSchema = z
  .object({
    tenantId: z.string().min(1).max(100),
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

/** Exclusions kept in each tenant's context (tenants.context_json.exclusions), read by detection. */
export function storeExclusions(ctx: WebContext): ExclusionsPort {
  const load = async () => ctx.db.selectFrom('tenants').select(['tenant_id', 'context_json']).execute();
  const parse = (t: string | null): Record<string, unknown> => {
    try {
      const v = t ? (JSON.parse(t) as unknown) : {};
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  };
  const save = (tenantId: string, c: Record<string, unknown>) =>
    ctx.db.updateTable('tenants').set({ context_json: JSON.stringify(c) }).where('tenant_id', '=', tenantId).execute();
  return {
    async list() {
      const out: Array<Record<string, unknown>> = [];
      for (const r of await load()) {
        const ex = parse(r.context_json).exclusions;
        if (Array.isArray(ex)) for (const e of ex) out.push({ ...(e as object), tenantId: r.tenant_id });
      }
      return out;
    },
    async add(e) {
      const rows = await load();
      const row = rows.find((r) => r.tenant_id === e.tenantId);
      if (!row) throw notFound(`tenant ${String(e.tenantId).slice(0, 100)}`);
      const c = parse(row.context_json);
      const { tenantId: _t, ...rest } = e;
      const item = { id: randomBytes(6).toString('hex'), ...rest, createdAt: new Date().toISOString() };
      c.exclusions = [...(Array.isArray(c.exclusions) ? c.exclusions : []), item];
      await save(row.tenant_id, c);
      return { ...item, tenantId: row.tenant_id };
    },
    async remove(id) {
      for (const r of await load()) {
        const c = parse(r.context_json);
        if (!Array.isArray(c.exclusions)) continue;
        const next = c.exclusions.filter((e) => (e as { id?: string }).id !== id);
        if (next.length !== c.exclusions.length) {
          c.exclusions = next;
          await save(r.tenant_id, c);
          return true;
        }
      }
      return false;
    },
  };
}

export function registerSettingsRoutes(app: FastifyInstance, ctx: WebContext): void {
  const exclusions = ctx.exclusions ?? storeExclusions(ctx);

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
