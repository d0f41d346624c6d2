// Tenants with their health (read from the store when no tenants port is given), onboarding, audit-log
// enablement, GDAP discovery and per-tenant trusted IPs.
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../store/schema.ts';
import { nowIso } from '../../store/db.ts';
import type { WebContext } from '../server.ts';
import type { TenantView } from '../ports.ts';
import { need, notFound, parseBody } from './util.ts';
import { clusterStatus } from '../../scale/registry.ts';
import { notifyHealth } from '../../notify/outbox.ts';

function safeJson(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Tenants and their last health checks as the tenants module stored them. */
export async function tenantsFromStore(db: Kysely<Database>): Promise<TenantView[]> {
  const rows = await db.selectFrom('tenants').selectAll().orderBy('name').execute();
  return rows.map((r) => {
    const checks = safeJson(r.health_json) as TenantView['checks'];
    const ctx = safeJson(r.context_json);
    return {
      tenantId: r.tenant_id,
      name: r.name,
      defaultDomain: r.default_domain,
      source: r.source,
      enabled: r.enabled === 1,
      healthy: r.health_json !== null && Object.values(checks).every((c) => c && c.ok),
      checks,
      checkedAt: r.health_checked_at,
      trustedIps: Array.isArray(ctx.trustedIps) ? ctx.trustedIps : [],
    };
  });
}

/** CIDR or single address, v4 or v6. */
export function isCidr(s: string): boolean {
  const [addr, bits, ...rest] = s.split('/');
  if (rest.length) return false;
  const v = isIP(addr);
  if (!v) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (v === 4 ? 32 : 128);
}

const trustedBody = z.object({ trustedIps: z.array(z.string().max(64).refine(isCidr, 'expected an IP address or CIDR range')).max(500) }).strict();

export function registerTenantRoutes(app: FastifyInstance, ctx: WebContext): void {
  const list = () => (ctx.tenants ? ctx.tenants.list() : tenantsFromStore(ctx.db));

  app.get(
    '/api/cluster',
    { config: { permission: 'read' }, schema: { tags: ['tenants'], summary: 'Workers alive, poll jobs queued/running/failed, per-tenant lag, notification queue and dead letters' } },
    async () => ({ ...(await clusterStatus(ctx.db)), notifications: await notifyHealth(ctx.db) }),
  );

  app.get('/api/tenants', { config: { permission: 'read' }, schema: { tags: ['tenants'], summary: 'Every tenant with its health checks and the fix for each' } }, async () => ({
    items: await list(),
  }));

  app.post('/api/tenants/discover', { config: { permission: 'admin' }, schema: { tags: ['tenants'], summary: 'Discover customer tenants through GDAP' } }, async (req) => {
    const t = need(ctx.tenants?.discover, 'tenant discovery');
    const r = await t.call(ctx.tenants, req.auth!.user.username);
    ctx.publish('tenants', {});
    return r;
  });

  for (const [action, what] of [
    ['onboard', 'onboarding'],
    ['enable-audit-log', 'enabling the audit log'],
    ['check', 'health checks'],
  ] as const) {
    app.post(`/api/tenants/:id/${action}`, { config: { permission: 'admin' }, schema: { tags: ['tenants'], summary: `Tenant: ${what}` } }, async (req) => {
      const { id } = req.params as { id: string };
      if (!(await list()).some((t) => t.tenantId === id)) throw notFound(`tenant ${id.slice(0, 100)}`);
      const user = req.auth!.user.username;
      let r: unknown;
      if (action === 'onboard') r = await need(ctx.tenants?.onboard, what).call(ctx.tenants, id, user);
      else if (action === 'enable-audit-log') r = await need(ctx.tenants?.enableAuditLog, what).call(ctx.tenants, id, user);
      else r = await need(ctx.tenants?.check, what).call(ctx.tenants, id);
      ctx.publish('tenants', { tenantId: id });
      return r ?? { ok: true };
    });
  }

  app.put('/api/tenants/:id/trusted-ips', { config: { permission: 'admin' }, schema: { tags: ['tenants'], summary: "Replace the tenant's trusted IP ranges" } }, async (req) => {
    const { id } = req.params as { id: string };
    const body = parseBody(trustedBody, req.body);
    const row = await ctx.db.selectFrom('tenants').select(['context_json']).where('tenant_id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`tenant ${id.slice(0, 100)}`);
    const context = safeJson(row.context_json);
    context.trustedIps = [...new Set(body.trustedIps)];
    await ctx.db.updateTable('tenants').set({ context_json: JSON.stringify(context) }).where('tenant_id', '=', id).execute();
    await audit(ctx, req.auth!.user.username, 'tenant.trusted-ips', id, { trustedIps: context.trustedIps });
    return { tenantId: id, trustedIps: context.trustedIps };
  });
}

export async function audit(ctx: WebContext, actor: string, action: string, subject: string | null, detail: unknown): Promise<void> {
  await ctx.db
    .insertInto('audit_trail')
    .values({ at: nowIso(), actor, action, subject, detail_json: detail === undefined ? null : JSON.stringify(detail) })
    .execute();
}
