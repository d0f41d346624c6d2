// Alerts: list with filters (contracts §6), detail, and triage (ack / resolve / snooze / reopen).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SEVERITIES } from '../../model.ts';
import type { WebContext } from '../server.ts';
import { ALERT_STATUSES, type AlertAction } from '../ports.ts';
import { need, notFound, parseBody } from './util.ts';

const listQuery = z.object({
  status: z.enum([...ALERT_STATUSES, 'all']).optional(),
  tenant: z.string().max(100).optional(),
  tenantId: z.string().max(100).optional(),
  severity: z.enum(SEVERITIES).optional(),
  behaviour: z.string().max(100).optional(),
  user: z.string().max(320).optional(),
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const actionBody = z
  .object({
    note: z.string().max(2000).optional(),
    /** snooze: until this time, or for this many minutes. */
    until: z.iso.datetime().optional(),
    minutes: z.number().int().min(1).max(60 * 24 * 90).optional(),
  })
  .strict();

const ACTIONS: Record<string, AlertAction> = { ack: 'ack', acknowledge: 'ack', resolve: 'resolve', snooze: 'snooze', reopen: 'reopen' };

export function registerAlertRoutes(app: FastifyInstance, ctx: WebContext): void {
  app.get(
    '/api/alerts',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['alerts'],
        summary: 'List alerts, newest activity first',
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: [...ALERT_STATUSES, 'all'] },
            tenant: { type: 'string' },
            severity: { type: 'string', enum: [...SEVERITIES] },
            behaviour: { type: 'string' },
            cursor: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 200 },
          },
        },
      },
    },
    async (req) => {
      const q = parseBody(listQuery, req.query, 'query');
      const alerts = need(ctx.alerts, 'the alerts module');
      const page = await alerts.list({
        status: q.status === 'all' ? undefined : q.status,
        tenantId: q.tenantId ?? q.tenant,
        severity: q.severity,
        behaviour: q.behaviour,
        userId: q.user,
        cursor: q.cursor,
        limit: q.limit,
      });
      return { items: page.items, next: page.next ?? null };
    },
  );

  app.get('/api/alerts/:id', { config: { permission: 'read' }, schema: { tags: ['alerts'], summary: 'One alert with evidence, enrichment, notifications and remediation runs' } }, async (req) => {
    const { id } = req.params as { id: string };
    const a = await need(ctx.alerts, 'the alerts module').get(id);
    if (!a) throw notFound(`alert ${id.slice(0, 100)}`);
    return a;
  });

  app.post(
    '/api/alerts/:id/:action',
    {
      config: { permission: 'triage' },
      schema: {
        tags: ['alerts'],
        summary: 'Acknowledge, resolve, snooze or reopen an alert',
        params: { type: 'object', properties: { id: { type: 'string' }, action: { type: 'string', enum: Object.keys(ACTIONS) } } },
      },
    },
    async (req) => {
      const { id, action } = req.params as { id: string; action: string };
      const body = parseBody(actionBody, req.body);
      const act = ACTIONS[action];
      let until = body.until;
      if (act === 'snooze' && !until) until = new Date(Date.now() + (body.minutes ?? 60) * 60_000).toISOString();
      const a = await need(ctx.alerts, 'the alerts module').act(id, act, req.auth!.user.username, { until: act === 'snooze' ? until : undefined, note: body.note });
      if (!a) throw notFound(`alert ${id.slice(0, 100)}`);
      ctx.publish('alerts', { id, action: act });
      return a;
    },
  );
}
