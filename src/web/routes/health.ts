// /healthz (liveness), /readyz (store reachable, loops alive), /metrics (prom-client, behind web.metrics).
import type { FastifyInstance } from 'fastify';
import client from 'prom-client';
import type { WebContext } from '../server.ts';
import { storeReachable } from '../server.ts';
import { storeMetrics } from '../metrics.ts';

let defaultMetricsStarted = false;

export function registerHealthRoutes(app: FastifyInstance, ctx: WebContext): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const checks: Record<string, boolean> = { store: await storeReachable(ctx.db) };
    for (const c of ctx.ready ?? []) {
      try {
        checks[c.name] = Boolean(await c.check());
      } catch {
        checks[c.name] = false;
      }
    }
    const ok = Object.values(checks).every(Boolean);
    return reply.status(ok ? 200 : 503).send({ ok, checks });
  });
  if (ctx.config.web.metrics) {
    const registry = storeMetrics(ctx.db, ctx.metricsRegistry ?? client.register);
    if (!ctx.metricsRegistry && !defaultMetricsStarted) {
      defaultMetricsStarted = true;
      client.collectDefaultMetrics({ prefix: 'tenantwatch_' });
    }
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  }
}
