// GET /api/events: server-sent events (alerts, tenants, remediation, notifications changed).
import type { FastifyInstance } from 'fastify';
import type { WebContext } from '../server.ts';

export function registerLiveRoutes(app: FastifyInstance, ctx: WebContext): void {
  app.get('/api/events', { config: { permission: 'read' }, schema: { tags: ['live'], summary: 'Server-sent events: alerts, tenants, remediations, notifications' } }, (req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    ctx.live.attach(reply.raw);
    req.raw.on('close', () => reply.raw.end());
  });
}
