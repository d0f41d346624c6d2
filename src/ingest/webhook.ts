// The Management Activity API webhook receiver (m365-api.md §2.2): answers the validation handshake with
// 200, checks Webhook-AuthID, and turns a notification (an array of content descriptors) into blob claims
// the poller fetches. Webhooks are not guaranteed (Microsoft discourages relying on them), so polling
// stays on as the safety net; a notification only makes content known sooner.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { isTrustedUri, managementBase } from '../m365/management-api.ts';
import type { Database } from '../store/schema.ts';
import type { BlobRef } from './store.ts';

export const WEBHOOK_PATH = '/hooks/management-activity';

export interface WebhookDeps {
  db: Kysely<Database>;
  config: Readonly<Config>;
  /** Registers the announced blobs (deduplicated by contentId); a worker's poller then fetches them at once (poller.registerNotified). */
  registerNotified: (blobs: BlobRef[]) => Promise<number>;
  logger?: Logger;
}

const MAX_ITEMS = 10_000;

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface NotificationResult {
  accepted: number;
  registered: number;
  rejected: number;
}

/** Validates notification items and registers the good ones. Exported for tests and for other transports. */
export async function handleNotification(deps: WebhookDeps, body: unknown): Promise<NotificationResult> {
  const items = Array.isArray(body) ? body.slice(0, MAX_ITEMS) : [];
  const base = managementBase(deps.config);
  const types = new Set<string>(deps.config.microsoft.contentTypes);
  const tenantIds = [...new Set(items.map((i) => (i && typeof i === 'object' ? (i as { tenantId?: unknown }).tenantId : undefined)).filter((t): t is string => typeof t === 'string' && t.length <= 64))];
  const known = new Set<string>();
  if (tenantIds.length) {
    const rows = await deps.db.selectFrom('tenants').select(['tenant_id']).where('enabled', '=', 1).where('tenant_id', 'in', tenantIds).execute();
    for (const r of rows) known.add(r.tenant_id);
  }
  const blobs: BlobRef[] = [];
  let rejected = 0;
  for (const raw of items) {
    const i = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const ok =
      typeof i.tenantId === 'string' &&
      known.has(i.tenantId) &&
      typeof i.contentType === 'string' &&
      types.has(i.contentType) &&
      typeof i.contentId === 'string' &&
      i.contentId.length > 0 &&
      i.contentId.length <= 500 &&
      typeof i.contentUri === 'string' &&
      i.contentUri.length <= 2000 &&
      isTrustedUri(i.contentUri, base, i.tenantId);
    if (!ok) {
      rejected++;
      continue;
    }
    blobs.push({
      tenantId: i.tenantId as string,
      contentType: i.contentType as string,
      contentId: i.contentId as string,
      contentUri: i.contentUri as string,
      contentCreated: typeof i.contentCreated === 'string' ? i.contentCreated.slice(0, 40) : undefined,
      contentExpiration: typeof i.contentExpiration === 'string' ? i.contentExpiration.slice(0, 40) : undefined,
    });
  }
  const registered = blobs.length ? await deps.registerNotified(blobs) : 0;
  return { accepted: blobs.length, registered, rejected };
}

/** Fastify plugin: POST {WEBHOOK_PATH}. Outside /api/ (Microsoft cannot log in); Webhook-AuthID is the credential. */
export async function registerIngestWebhook(app: FastifyInstance, deps: WebhookDeps): Promise<void> {
  const authId = deps.config.ingest.webhook.authId;
  app.post(WEBHOOK_PATH, { config: { permission: 'public' }, schema: { hide: true } }, async (req, reply) => {
    const given = req.headers['webhook-authid'];
    if (!authId || typeof given !== 'string' || !sameSecret(given, authId)) {
      deps.logger?.warn({ ip: req.ip }, 'webhook call with a missing or wrong Webhook-AuthID');
      return reply.code(401).send({ error: 'unauthorized' });
    }
    const body = req.body as unknown;
    // Validation handshake during subscriptions/start: answer 200, or the start fails with AF20021.
    if (body && typeof body === 'object' && !Array.isArray(body) && 'validationCode' in body) {
      return reply.code(200).send();
    }
    if (req.headers['webhook-validationcode'] && !Array.isArray(body)) return reply.code(200).send();
    if (!Array.isArray(body)) return reply.code(400).send({ error: 'expected an array of content notifications' });
    const r = await handleNotification(deps, body);
    deps.logger?.debug(r, 'webhook notification');
    return reply.code(200).send({ accepted: r.accepted });
  });
}
