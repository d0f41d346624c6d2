// The simulator's own control API under /_sim/ (contracts §5): inject records, run scenarios, inject
// faults, read state and the request log, move the clock, switch quirks. Plain JSON, plain errors.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AuditLog } from './audit-log.ts';
import { faultSchema, type Faults } from './faults.ts';
import type { Identity } from './identity.ts';
import type { ContentType, DirectoryModule, Resource, SimContext, SimTenant } from './types.ts';
import type { Webhooks } from './webhooks.ts';
import { CONTENT_TYPES, quirksSchema, type Quirks } from './world.ts';

export interface RequestLogEntry {
  seq: number;
  time: string;
  method: string;
  path: string;
  tenant: string | null;
  status: number | null;
  /** For token requests: the requested scope/resource. For Management API calls: the publisher. */
  resource?: string;
  publisher?: string;
  fault?: string;
  durationMs?: number;
}

export interface RequestLog {
  add(e: Omit<RequestLogEntry, 'seq'>): void;
  list(): RequestLogEntry[];
  clear(): void;
}

export function createRequestLog(limit = 100_000): RequestLog {
  let entries: RequestLogEntry[] = [];
  let seq = 0;
  return {
    add(e) {
      entries.push({ seq: ++seq, ...e });
      if (entries.length > limit) entries = entries.slice(entries.length - Math.floor(limit / 2));
    },
    list: () => entries,
    clear() {
      entries = [];
    },
  };
}

export interface ControlDeps {
  ctx: SimContext;
  directory: DirectoryModule;
  audit: AuditLog;
  faults: Faults;
  requests: RequestLog;
  webhooks: Webhooks;
  identity: Identity;
  quirks(): Quirks;
  setQuirks(q: Partial<Quirks>): void;
  latencySeconds(): number;
  setLatencySeconds(s: number): void;
  advanceClock(ms: number): number;
  tokenLifetime(): number;
  setTokenLifetime(s: number): void;
}

const fail = (reply: FastifyReply, status: number, error: string, details?: unknown) => reply.code(status).send({ error, ...(details === undefined ? {} : { details }) });

function zodProblems(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
}

export function registerControl(app: FastifyInstance, deps: ControlDeps): void {
  const tenantOr404 = (id: string, reply: FastifyReply): SimTenant | undefined => {
    const t = deps.ctx.tenant(id);
    if (!t) fail(reply, 404, `unknown tenant ${id.slice(0, 100)}`);
    return t;
  };

  app.get('/_sim/health', async () => ({ ok: true, now: new Date(deps.ctx.now()).toISOString() }));

  app.post('/_sim/tenants/:id/records', async (req, reply) => {
    const { id } = req.params as { id: string };
    const body = z.object({ contentType: z.enum(CONTENT_TYPES as [ContentType, ...ContentType[]]), records: z.array(z.unknown()).max(100_000) }).safeParse(req.body);
    if (!body.success) return fail(reply, 400, 'invalid body', zodProblems(body.error));
    const t = tenantOr404(id, reply);
    if (!t) return reply;
    const r = deps.audit.appendCounted(t.id, body.data.contentType, body.data.records);
    return reply.code(202).send({ tenantId: t.id, contentType: body.data.contentType, ...r, availableInSeconds: deps.latencySeconds() });
  });

  app.post('/_sim/tenants/:id/activity', async (req, reply) => {
    const { id } = req.params as { id: string };
    const body = z.object({ scenario: z.string().min(1), user: z.string().optional() }).passthrough().safeParse(req.body);
    if (!body.success) return fail(reply, 400, 'invalid body', zodProblems(body.error));
    const t = tenantOr404(id, reply);
    if (!t) return reply;
    if (!deps.directory.scenarios.includes(body.data.scenario)) return fail(reply, 400, `unknown scenario ${body.data.scenario.slice(0, 100)}`, { scenarios: deps.directory.scenarios });
    const r = deps.directory.runScenario(deps.ctx, t, body.data as { scenario: string; user?: string });
    if (!r.ok) return fail(reply, r.status, r.error);
    return reply.code(202).send({ tenantId: t.id, scenario: body.data.scenario, records: r.records, detail: r.detail ?? null });
  });

  app.get('/_sim/tenants/:id/state', async (req, reply) => {
    const { id } = req.params as { id: string };
    const t = tenantOr404(id, reply);
    if (!t) return reply;
    const snap = deps.directory.snapshot(t);
    const extra = {
      subscriptions: CONTENT_TYPES.filter((c) => t.subscriptions.has(c)).map((c) => {
        const s = t.subscriptions.get(c)!;
        return { contentType: c, status: s.status, webhook: s.webhook, createdAt: new Date(s.createdAt).toISOString() };
      }),
      auditLog: deps.audit.stats(t.id),
    };
    return snap && typeof snap === 'object' && !Array.isArray(snap) ? { ...extra, ...(snap as object) } : { ...extra, state: snap };
  });

  const configSchema = z.object({
    consented: z.boolean().optional(),
    gdap: z.enum(['active', 'expired', 'none']).optional(),
    auditLogEnabled: z.boolean().optional(),
    auditLogDelaySeconds: z.number().min(0).optional(),
    roles: z.array(z.string()).optional(),
    canResetPasswords: z.boolean().optional(),
    hasP1: z.boolean().optional(),
    /** Marks a subscription disabled by the tenant or service admin (AF20023). */
    disableSubscription: z.enum(CONTENT_TYPES as [ContentType, ...ContentType[]]).optional(),
  }).strict();
  app.post('/_sim/tenants/:id/config', async (req, reply) => {
    const { id } = req.params as { id: string };
    const body = configSchema.safeParse(req.body);
    if (!body.success) return fail(reply, 400, 'invalid body', zodProblems(body.error));
    const t = tenantOr404(id, reply);
    if (!t) return reply;
    const b = body.data;
    if (b.consented !== undefined) t.consented = b.consented;
    if (b.gdap !== undefined) t.gdap = b.gdap;
    if (b.roles !== undefined) t.roles = b.roles;
    if (b.canResetPasswords !== undefined) t.canResetPasswords = b.canResetPasswords;
    if (b.hasP1 !== undefined) t.hasP1 = b.hasP1;
    if (b.auditLogEnabled !== undefined) {
      t.auditLogEnabled = b.auditLogEnabled;
      t.auditLogEffectiveAt = deps.ctx.now() + (b.auditLogEnabled ? (b.auditLogDelaySeconds ?? 0) * 1000 : 0);
    }
    if (b.disableSubscription) {
      const s = t.subscriptions.get(b.disableSubscription);
      if (s) s.status = 'disabled';
    }
    return { tenantId: t.id, consented: t.consented, gdap: t.gdap, auditLogEnabled: t.auditLogEnabled, roles: t.roles, canResetPasswords: t.canResetPasswords, hasP1: t.hasP1 };
  });

  app.post('/_sim/faults', async (req, reply) => {
    const body = faultSchema.safeParse(req.body ?? {});
    if (!body.success) return fail(reply, 400, 'invalid fault', zodProblems(body.error));
    const f = deps.faults.add(body.data);
    return reply.code(201).send(f);
  });
  app.get('/_sim/faults', async () => deps.faults.list());
  app.delete('/_sim/faults', async (_req, reply) => {
    deps.faults.clear();
    return reply.code(204).send();
  });
  app.delete('/_sim/faults/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    return deps.faults.remove(id) ? reply.code(204).send() : fail(reply, 404, `unknown fault ${id.slice(0, 100)}`);
  });

  app.get('/_sim/requests', async (req) => {
    const qs = req.query as Record<string, string | undefined>;
    const since = qs.since ? Number(qs.since) : 0;
    return deps.requests.list().filter((e) => e.seq > since && (!qs.tenant || e.tenant === qs.tenant.toLowerCase()) && (!qs.path || e.path.includes(qs.path)) && (!qs.method || e.method === qs.method.toUpperCase()));
  });
  app.delete('/_sim/requests', async (_req, reply) => {
    deps.requests.clear();
    return reply.code(204).send();
  });

  app.post('/_sim/clock', async (req, reply) => {
    const body = z.object({ advanceSeconds: z.number().min(0).max(365 * 86_400) }).strict().safeParse(req.body);
    if (!body.success) return fail(reply, 400, 'invalid body', zodProblems(body.error));
    const now = deps.advanceClock(body.data.advanceSeconds * 1000);
    deps.webhooks.flushDue();
    return { now: new Date(now).toISOString() };
  });
  app.get('/_sim/clock', async () => ({ now: new Date(deps.ctx.now()).toISOString() }));

  const quirksBody = quirksSchema.extend({ latencySeconds: z.number().min(0).max(86_400).optional(), tokenLifetimeSeconds: z.number().int().min(1).max(86_400).optional() }).strict();
  app.post('/_sim/quirks', async (req, reply) => {
    const body = quirksBody.safeParse(req.body ?? {});
    if (!body.success) return fail(reply, 400, 'invalid quirks', zodProblems(body.error));
    const { latencySeconds, tokenLifetimeSeconds, ...rest } = body.data;
    if (latencySeconds !== undefined) deps.setLatencySeconds(latencySeconds);
    if (tokenLifetimeSeconds !== undefined) deps.setTokenLifetime(tokenLifetimeSeconds);
    deps.setQuirks(rest);
    return { ...deps.quirks(), latencySeconds: deps.latencySeconds(), tokenLifetimeSeconds: deps.tokenLifetime() };
  });
  app.get('/_sim/quirks', async () => ({ ...deps.quirks(), latencySeconds: deps.latencySeconds(), tokenLifetimeSeconds: deps.tokenLifetime() }));

  /** Issues a token without the token endpoint (e.g. an already-expired one) — for tests of resource checks. */
  app.post('/_sim/tokens', async (req, reply) => {
    const body = z.object({ tenantId: z.string(), resource: z.enum(['management', 'graph', 'exchange']), roles: z.array(z.string()).optional(), lifetimeSeconds: z.number().int().min(-86_400).max(86_400).optional() }).strict().safeParse(req.body);
    if (!body.success) return fail(reply, 400, 'invalid body', zodProblems(body.error));
    const b = body.data;
    return { access_token: deps.identity.issue(b.tenantId.toLowerCase(), b.resource as Resource, b.roles, '1', b.lifetimeSeconds) };
  });

  app.get('/_sim/scenarios', async () => ({ scenarios: deps.directory.scenarios }));
}
