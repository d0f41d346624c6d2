// The poller: per tenant × content type a cursor; each cycle lists windows of ≤ 24 h from the cursor
// (minus an overlap, since content becomes available late and in no order) up to now, registers every
// listed blob once by contentId together with the cursor advance, then claims, fetches and processes
// the blobs (pipeline.ts) with limits per tenant and overall. Throttling backs a content type off.
import type { Kysely } from 'kysely';
import type { Config } from '../config.ts';
import { isOperatorError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { isM365Error } from '../m365/m365-error.ts';
import { DAY_MS, RETENTION_MS, type ManagementApi, type WebhookSpec } from '../m365/management-api.ts';
import { outboxCommitted } from '../notify/dispatcher.ts';
import { processBlob, type PipelineDeps } from '../pipeline.ts';
import { nowIso } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import { createLimiter, forEachLimited } from './limit.ts';
import {
  claimBlob,
  claimCandidates,
  failClaim,
  advanceCursor,
  getCursor,
  newOwnerId,
  pruneIngest,
  registerBlobs,
  updateCursor,
  type BlobRef,
  type ClaimCandidate,
  type CursorRow,
} from './store.ts';

export interface ContentTypeReport {
  contentType: string;
  blobs: number;
  records: number;
  duplicates: number;
  malformed: number;
  errors: number;
  /** What went wrong (coded messages), bounded. */
  errorMessages: string[];
  /** now − newest record seen, seconds (null before the first record). */
  lagSeconds: number | null;
  /** Content that fell out of the 7-day retention before it could be read. */
  lost?: { from: string; to: string };
  /** The subscription was started this cycle (first content can take hours). */
  subscriptionStarted?: boolean;
}

export interface TenantReport {
  tenantId: string;
  name?: string;
  contentTypes: ContentTypeReport[];
}

export interface PollTotals {
  blobs: number;
  records: number;
  duplicates: number;
  malformed: number;
  errors: number;
}

export interface PollReport {
  startedAt: string;
  finishedAt: string;
  tenants: TenantReport[];
  totals: PollTotals;
}

export interface PollProgress {
  tenantId: string;
  name?: string;
  phase: 'listing' | 'fetching' | 'done';
  blobsDone: number;
  blobsTotal: number;
  records: number;
  errors: number;
}

export interface PollOptions {
  /** Tenant ids, names or default domains; all enabled tenants when empty. */
  tenants?: string[];
  /** List from now − since instead of the cursor (never beyond 7 days). */
  sinceMs?: number;
  /** Retry failed blobs now, ignoring their backoff (the one-shot `poll` command). */
  ignoreBackoff?: boolean;
  onProgress?: (p: PollProgress) => void;
}

export interface PollerDeps {
  db: Kysely<Database>;
  api: ManagementApi;
  config: Readonly<Config>;
  pipeline: PipelineDeps;
  logger: Logger;
  owner?: string;
  now?: () => Date;
  /** How long a claim protects a blob from other workers (default 5 min; a dead local process's claims are taken at once). */
  leaseMs?: number;
  /** First retry delay of a failed blob (doubles per attempt, capped at 30 min). Default 30 s. */
  retryBaseMs?: number;
  /** Lookback of a content type's very first cycle (default 24 h). */
  initialLookbackMs?: number;
  /** Webhook mode: the address and auth id subscriptions carry (renewed before they expire). */
  webhook?: { address: string; authId: string };
}

export interface Poller {
  pollOnce(opts?: PollOptions): Promise<PollReport>;
  /** Starts the loop: a cycle every ingest.pollIntervalSeconds, or sooner after wake(). */
  start(): void;
  /** Asks for a full cycle soon (the loop, when it runs). */
  wake(): void;
  /** Stops after in-flight blobs are committed; claims not yet fetched stay for the next run. */
  stop(): Promise<void>;
  /**
   * Registers blobs announced by a webhook notification (deduplicated by contentId). A worker's poller (its
   * loop runs, or it was given the webhook to subscribe with) then claims, fetches and processes the announced
   * blobs still pending at once, in the background — only those, not a cycle over every tenant; the claim
   * rows keep it exactly-once. Otherwise it wakes the loop, if any.
   */
  registerNotified(blobs: BlobRef[]): Promise<number>;
  readonly owner: string;
}

const MAX_ERROR_MESSAGES = 20;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TENANT_DIRECTORY_MS = 30_000;
const directories = new WeakMap<object, { at: number; byId: Promise<Map<string, { tenantId: string; name: string }>> }>();

/** Every tenant's id and name, per store, refreshed after TENANT_DIRECTORY_MS. */
function tenantDirectory(db: Kysely<Database>, nowMs: number): Promise<Map<string, { tenantId: string; name: string }>> {
  const cached = directories.get(db);
  if (cached && nowMs - cached.at < TENANT_DIRECTORY_MS && nowMs >= cached.at) return cached.byId;
  const byId = db
    .selectFrom('tenants')
    .select(['tenant_id', 'name'])
    .execute()
    .then((rows) => new Map(rows.map((r) => [r.tenant_id.toLowerCase(), { tenantId: r.tenant_id, name: r.name }])));
  directories.set(db, { at: nowMs, byId });
  byId.catch(() => directories.delete(db));
  return byId;
}

function emptyCt(contentType: string): ContentTypeReport {
  return { contentType, blobs: 0, records: 0, duplicates: 0, malformed: 0, errors: 0, errorMessages: [], lagSeconds: null };
}

function errText(e: unknown): string {
  if (isOperatorError(e)) return `${e.code}${e.upstreamCode ? ` (${e.upstreamCode})` : ''}: ${e.message}`.slice(0, 400);
  return `TW_INTERNAL: ${(e as Error)?.message ?? String(e)}`.slice(0, 400);
}

function floorSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

export function createPoller(deps: PollerDeps): Poller {
  const { db, api, config, logger } = deps;
  const owner = deps.owner ?? newOwnerId();
  const clock = deps.now ?? (() => new Date());
  const leaseMs = deps.leaseMs ?? 5 * 60_000;
  const retryBaseMs = deps.retryBaseMs ?? 30_000;
  const initialLookbackMs = deps.initialLookbackMs ?? DAY_MS;
  const overlapMs = config.ingest.overlapMinutes * 60_000;
  // Blobs in flight in this process (ingest.blobsInFlight), across every tenant and job: the memory bound.
  const global = createLimiter(config.ingest.blobsInFlight);
  const contentTypes = config.microsoft.contentTypes as readonly string[];
  let stopping = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let wakePending = false;
  let lastPrune = 0;
  const lastWebhookCheck = new Map<string, number>();
  const lastStart = new Map<string, number>();

  async function selectTenants(filter?: string[]): Promise<Array<{ tenantId: string; name: string }>> {
    // A scale-out job names one tenant id: answered from the process's tenant directory (read once per
    // TENANT_DIRECTORY_MS for all its pollers, not once per job); an id not in it is read from the table.
    if (filter?.length === 1 && UUID.test(filter[0]!.toLowerCase())) {
      const known = (await tenantDirectory(db, clock().getTime())).get(filter[0]!.toLowerCase());
      if (known) return [known];
    }
    const want = (filter ?? []).map((f) => f.toLowerCase());
    let q = db.selectFrom('tenants').select(['tenant_id', 'name', 'default_domain', 'enabled']);
    // Narrowed in SQL when the filter is tenant ids (scale-out runs one job per tenant over thousands of tenants).
    if (want.length && want.every((w) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(w))) q = q.where('tenant_id', 'in', [...want, ...(filter ?? [])]);
    const rows = await q.orderBy('tenant_id').execute();
    return rows
      .filter((r) => (want.length ? want.some((w) => w === r.tenant_id.toLowerCase() || w === r.name.toLowerCase() || w === (r.default_domain ?? '').toLowerCase()) : Number(r.enabled) === 1))
      .map((r) => ({ tenantId: r.tenant_id, name: r.name }));
  }

  async function noteError(ct: ContentTypeReport, tenantId: string, e: unknown): Promise<void> {
    const text = errText(e);
    ct.errors++;
    if (ct.errorMessages.length < MAX_ERROR_MESSAGES) ct.errorMessages.push(text);
    const now = nowIso(clock());
    await updateCursor(db, tenantId, ct.contentType, { last_error: text, last_error_at: now }, now).catch(() => {});
    logger.warn({ tenantId, contentType: ct.contentType, error: text }, 'ingest error');
  }

  async function backOff(tenantId: string, contentType: string, level: number): Promise<void> {
    // Adaptive backoff when Microsoft throttles (AF429 as 403 or 429): 30 s, 60 s, … up to 30 min.
    const next = Math.min(level + 1, 6);
    const until = new Date(clock().getTime() + Math.min(30_000 * 2 ** (next - 1), 30 * 60_000));
    const now = nowIso(clock());
    await updateCursor(db, tenantId, contentType, { backoff_level: next, backoff_until: nowIso(until) }, now).catch(() => {});
  }

  async function ensureSubscription(tenantId: string, contentType: string, ct: ContentTypeReport): Promise<void> {
    const key = `${tenantId}|${contentType}`;
    // Microsoft asks for 15 minutes between start requests (m365-api.md §2.1).
    if (clock().getTime() - (lastStart.get(key) ?? 0) < 15 * 60_000) return;
    lastStart.set(key, clock().getTime());
    await api.startSubscription(tenantId, contentType, deps.webhook ? webhookSpec() : undefined);
    ct.subscriptionStarted = true;
  }

  function webhookSpec(): WebhookSpec | undefined {
    if (!deps.webhook) return undefined;
    // Renewed well before this (see checkWebhook); an expiring webhook keeps Microsoft from notifying a dead address forever.
    return { ...deps.webhook, expiration: nowIso(new Date(clock().getTime() + 7 * DAY_MS)) };
  }

  /** Webhook mode: re-start subscriptions whose webhook is missing, disabled, expired or expiring within a day. */
  async function checkWebhook(tenantId: string, reports: Map<string, ContentTypeReport>): Promise<void> {
    if (!deps.webhook) return;
    const last = lastWebhookCheck.get(tenantId) ?? 0;
    if (clock().getTime() - last < 60 * 60_000) return;
    lastWebhookCheck.set(tenantId, clock().getTime());
    try {
      const subs = await api.listSubscriptions(tenantId);
      for (const contentType of contentTypes) {
        const s = subs.find((x) => x.contentType === contentType);
        const wh = s?.webhook;
        const exp = wh?.expiration ? Date.parse(wh.expiration) : NaN;
        const renew =
          !s || s.status !== 'enabled' || !wh || wh.status !== 'enabled' || wh.address !== deps.webhook.address || (Number.isFinite(exp) && exp - clock().getTime() < DAY_MS);
        if (renew) await ensureSubscription(tenantId, contentType, reports.get(contentType)!);
      }
    } catch (e) {
      const any = reports.values().next().value;
      if (any) await noteError(any, tenantId, e);
    }
  }

  /**
   * Lists one content type up to now. Returns the cursor row as read at the start (its newest_record_at
   * serves the lag when no blob is committed later in the job, saving a query).
   */
  async function listContentType(tenantId: string, ct: ContentTypeReport, opts: PollOptions): Promise<CursorRow | undefined> {
    const contentType = ct.contentType;
    const cursor = await getCursor(db, tenantId, contentType);
    const now = floorSecond(clock());
    const nowText = nowIso(now);
    if (cursor?.backoffUntil && cursor.backoffUntil > nowText && !opts.ignoreBackoff) {
      ct.errors++;
      ct.errorMessages.push(`throttled by Microsoft: listing paused until ${cursor.backoffUntil}`);
      return cursor;
    }
    // Keep a small margin inside the 7 days so the start never crosses the limit by the time it arrives.
    const oldestAllowed = new Date(now.getTime() - RETENTION_MS + 5 * 60_000);
    let from: Date;
    if (opts.sinceMs !== undefined) from = new Date(now.getTime() - opts.sinceMs);
    else if (cursor?.listedTo) from = new Date(Date.parse(cursor.listedTo) - overlapMs);
    else from = new Date(now.getTime() - initialLookbackMs);
    if (cursor?.listedTo && Date.parse(cursor.listedTo) < oldestAllowed.getTime()) {
      // Down longer than the retention: what was published before the oldest allowed start is gone. Say so loudly.
      const lost = { from: cursor.listedTo, to: nowIso(oldestAllowed) };
      ct.lost = lost;
      await updateCursor(db, tenantId, contentType, { lost_from: lost.from, lost_to: lost.to }, nowText);
      await noteError(ct, tenantId, Object.assign(new Error(), { message: `content from ${lost.from} to ${lost.to} fell out of the 7-day retention and is lost` }));
      logger.error({ tenantId, contentType, lostFrom: lost.from, lostTo: lost.to }, 'TW_INGEST_CONTENT_LOST: audit content older than the 7-day retention was never read');
    }
    if (from.getTime() < oldestAllowed.getTime()) from = oldestAllowed;
    from = floorSecond(from);
    // The row exists from here on; on later polls last_poll_at goes with the final update (one statement).
    if (!cursor) await updateCursor(db, tenantId, contentType, { last_poll_at: nowText }, nowText);

    // Windows that listed no blob advance the cursor without a transaction: nothing is registered with them,
    // so the advance is folded into the one UPDATE at the end (also written when a later window fails).
    let emptyListedTo: string | undefined;
    let complete = false;
    try {
    for (let a = from; a.getTime() < now.getTime() && !stopping; ) {
      const b = new Date(Math.min(a.getTime() + DAY_MS, now.getTime()));
      const items: BlobRef[] = [];
      let started = false;
      for (;;) {
        try {
          for await (const page of api.listContent(tenantId, contentType, a, b, now)) {
            for (const it of page) items.push({ tenantId, contentType, contentId: it.contentId, contentUri: it.contentUri, contentCreated: it.contentCreated, contentExpiration: it.contentExpiration });
          }
          break;
        } catch (e) {
          // No subscription yet for this content type (AF20022): start it, then list again once.
          if (isM365Error(e) && e.upstreamCode === 'AF20022' && !started) {
            started = true;
            await ensureSubscription(tenantId, contentType, ct);
            items.length = 0;
            continue;
          }
          throw e;
        }
      }
      if (items.length === 0) {
        emptyListedTo = nowIso(b);
        a = b;
        continue;
      }
      // The listed blobs and the cursor advance commit together: a crash between windows re-lists, and
      // contentIds already known are ignored.
      const stamp = nowIso(clock());
      await db.transaction().execute(async (trx) => {
        await registerBlobs(trx, items, stamp);
        await advanceCursor(trx, tenantId, contentType, nowIso(b), { backoff_level: 0, backoff_until: null }, stamp);
      });
      emptyListedTo = undefined;
      a = b;
    }
    complete = !stopping;
    } finally {
      // Listing complete up to now: the content type is healthy unless a later blob fails.
      const stamp = nowIso(clock());
      const patch: Parameters<typeof advanceCursor>[4] = { last_poll_at: nowText };
      if (emptyListedTo !== undefined) Object.assign(patch, { backoff_level: 0, backoff_until: null });
      if (complete) patch.last_success_at = stamp;
      await advanceCursor(db, tenantId, contentType, emptyListedTo, patch, stamp).catch((e) => logger.warn({ tenantId, contentType, error: errText(e) }, 'cursor update failed'));
    }
    return cursor;
  }

  /**
   * A claim we could not give back (the store went away mid-blob: PostgreSQL restarting) would hold the blob
   * until its lease ran out although this process lives on: give it back once the store answers again.
   */
  function releaseLater(c: ClaimCandidate, error: string, attempts: number): void {
    const until = Date.now() + leaseMs;
    const attempt = (delayMs: number): void => {
      const t = setTimeout(() => {
        if (stopping || Date.now() > until) return;
        failClaim(db, c.tenantId, c.contentId, owner, 'failed', error, retryAt(attempts)).catch(() => attempt(Math.min(delayMs * 2, 30_000)));
      }, delayMs);
      t.unref();
    };
    attempt(1000);
  }

  function retryAt(attempts: number): string {
    return nowIso(new Date(clock().getTime() + Math.min(retryBaseMs * 2 ** Math.max(0, attempts - 1), 30 * 60_000)));
  }

  async function runBlob(c: ClaimCandidate, ct: ContentTypeReport, tenantLimit: ReturnType<typeof createLimiter>, progress: () => void): Promise<void> {
    await tenantLimit.run(() =>
      global.run(async () => {
        if (stopping) return;
        const now = clock();
        if (c.contentExpiration && Date.parse(c.contentExpiration) < now.getTime()) {
          const held = await claimBlob(db, c, owner, nowIso(now), nowIso(new Date(now.getTime() + leaseMs)));
          if (held) {
            await failClaim(db, c.tenantId, c.contentId, owner, 'expired', 'content expired (7 days) before it could be fetched', null);
            await noteError(ct, c.tenantId, Object.assign(new Error(), { message: `blob ${c.contentId.slice(0, 120)} expired before it could be fetched: its records are lost` }));
          }
          return;
        }
        const held = await claimBlob(db, c, owner, nowIso(now), nowIso(new Date(now.getTime() + leaseMs)));
        if (!held) return; // another worker has it
        const attempts = c.attempts + 1;
        try {
          const blob = await api.fetchBlob(c.tenantId, c.contentUri, c.contentId);
          if (!blob.ok) {
            const status = blob.kind === 'expired' ? 'expired' : blob.kind === 'too-large' || (!blob.retryable && attempts >= 5) ? 'given-up' : 'failed';
            await failClaim(db, c.tenantId, c.contentId, owner, status, errText(blob.error), status === 'failed' ? retryAt(attempts) : null);
            if (blob.kind === 'throttled') {
              const cur = await getCursor(db, c.tenantId, c.contentType);
              await backOff(c.tenantId, c.contentType, cur?.backoffLevel ?? 0);
            }
            await noteError(ct, c.tenantId, blob.error);
            return;
          }
          const out = await processBlob(db, { tenantId: c.tenantId, contentType: c.contentType, contentId: c.contentId, owner, records: blob.records }, deps.pipeline);
          if (!out.committed) return;
          // Alerts committed with their outbox rows: this process's dispatcher sends them now, not at its next poll.
          if (out.alerts > 0) outboxCommitted(db);
          ct.blobs++;
          ct.records += out.records;
          ct.duplicates += out.duplicates;
          ct.malformed += out.malformed;
          if (out.detectErrors) ct.errors += out.detectErrors;
          const stamp = nowIso(clock());
          await updateCursor(db, c.tenantId, c.contentType, { last_success_at: stamp }, stamp);
        } catch (e) {
          await failClaim(db, c.tenantId, c.contentId, owner, 'failed', errText(e), retryAt(attempts)).catch(() => releaseLater(c, errText(e), attempts));
          await noteError(ct, c.tenantId, e);
        } finally {
          progress();
        }
      }),
    );
  }

  async function runTenant(t: { tenantId: string; name: string }, opts: PollOptions): Promise<TenantReport> {
    const reports = new Map<string, ContentTypeReport>(contentTypes.map((c) => [c, emptyCt(c)]));
    const prog: PollProgress = { tenantId: t.tenantId, name: t.name, phase: 'listing', blobsDone: 0, blobsTotal: 0, records: 0, errors: 0 };
    const emit = (): void => {
      prog.records = [...reports.values()].reduce((a, r) => a + r.records, 0);
      prog.errors = [...reports.values()].reduce((a, r) => a + r.errors, 0);
      opts.onProgress?.({ ...prog });
    };
    emit();
    await checkWebhook(t.tenantId, reports);
    const cursors = new Map<string, CursorRow | undefined>();
    for (const ct of reports.values()) {
      if (stopping) break;
      try {
        cursors.set(ct.contentType, await listContentType(t.tenantId, ct, opts));
      } catch (e) {
        if (isM365Error(e) && e.code === 'TW_M365_THROTTLED') {
          const cur = await getCursor(db, t.tenantId, ct.contentType);
          await backOff(t.tenantId, ct.contentType, cur?.backoffLevel ?? 0);
        }
        await noteError(ct, t.tenantId, e);
      }
    }
    if (!stopping) {
      const candidates = await claimCandidates(db, t.tenantId, nowIso(clock()), { ignoreBackoff: opts.ignoreBackoff, me: owner, contentTypes });
      const mine = candidates.filter((c) => reports.has(c.contentType));
      prog.phase = 'fetching';
      prog.blobsTotal = mine.length;
      emit();
      const tenantLimit = createLimiter(config.ingest.perTenantConcurrency);
      await forEachLimited(mine, config.ingest.perTenantConcurrency, (c) =>
        runBlob(c, reports.get(c.contentType)!, tenantLimit, () => {
          prog.blobsDone++;
          emit();
        }),
      );
    }
    // The lag: from the cursors read at the start when no blob was committed since (the common, empty poll).
    const fresh = [...reports.values()].every((r) => r.blobs === 0 && cursors.has(r.contentType));
    const health = fresh
      ? [...cursors].map(([content_type, c]) => ({ content_type, newest_record_at: c?.newestRecordAt ?? null }))
      : await db.selectFrom('ingest_cursors').select(['content_type', 'newest_record_at']).where('tenant_id', '=', t.tenantId).execute();
    const nowMs = clock().getTime();
    for (const h of health) {
      const r = reports.get(h.content_type);
      if (r && h.newest_record_at) r.lagSeconds = Math.max(0, Math.round((nowMs - Date.parse(h.newest_record_at)) / 1000));
    }
    prog.phase = 'done';
    emit();
    return { tenantId: t.tenantId, name: t.name, contentTypes: [...reports.values()] };
  }

  async function pollOnce(opts: PollOptions = {}): Promise<PollReport> {
    const startedAt = nowIso(clock());
    const tenants = await selectTenants(opts.tenants);
    const reports: TenantReport[] = [];
    await forEachLimited(tenants, config.ingest.concurrency, async (t) => {
      try {
        reports.push(await runTenant(t, opts));
      } catch (e) {
        // One tenant's failure never touches the others.
        const ct = emptyCt(contentTypes[0] ?? 'Audit.General');
        ct.errors++;
        ct.errorMessages.push(errText(e));
        logger.error({ tenantId: t.tenantId, error: errText(e) }, 'tenant cycle failed');
        reports.push({ tenantId: t.tenantId, name: t.name, contentTypes: [ct] });
      }
    });
    reports.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
    if (clock().getTime() - lastPrune > 3600_000) {
      lastPrune = clock().getTime();
      const before = nowIso(new Date(clock().getTime() - RETENTION_MS - DAY_MS));
      await pruneIngest(db, before).catch((e) => logger.warn({ error: errText(e) }, 'prune failed'));
    }
    const totals: PollTotals = { blobs: 0, records: 0, duplicates: 0, malformed: 0, errors: 0 };
    for (const t of reports)
      for (const c of t.contentTypes) {
        totals.blobs += c.blobs;
        totals.records += c.records;
        totals.duplicates += c.duplicates;
        totals.malformed += c.malformed;
        totals.errors += c.errors;
      }
    return { startedAt, finishedAt: nowIso(clock()), tenants: reports, totals };
  }

  /** Claims, fetches and processes the announced blobs that are still pending (webhook mode). */
  async function fetchNotified(blobs: BlobRef[]): Promise<void> {
    const byTenant = new Map<string, string[]>();
    for (const b of blobs) if (contentTypes.includes(b.contentType)) byTenant.set(b.tenantId, [...(byTenant.get(b.tenantId) ?? []), b.contentId]);
    await Promise.all(
      [...byTenant].map(async ([tenantId, ids]) => {
        const candidates: ClaimCandidate[] = [];
        for (let i = 0; i < ids.length; i += 500) {
          const rows = await db
            .selectFrom('ingest_blobs')
            .select(['content_id', 'content_type', 'content_uri', 'content_expiration', 'status', 'claimed_by', 'attempts'])
            .where('tenant_id', '=', tenantId)
            .where('content_id', 'in', ids.slice(i, i + 500))
            .where('status', '=', 'pending')
            .execute();
          for (const r of rows)
            candidates.push({ tenantId, contentId: r.content_id, contentType: r.content_type, contentUri: r.content_uri, contentExpiration: r.content_expiration, status: r.status, claimedBy: r.claimed_by, attempts: Number(r.attempts) });
        }
        const reports = new Map<string, ContentTypeReport>(contentTypes.map((c) => [c, emptyCt(c)]));
        const tenantLimit = createLimiter(config.ingest.perTenantConcurrency);
        await forEachLimited(candidates, config.ingest.perTenantConcurrency, (c) => runBlob(c, reports.get(c.contentType)!, tenantLimit, () => {}));
        for (const r of reports.values()) if (r.blobs || r.errors) logger.debug({ tenantId, contentType: r.contentType, blobs: r.blobs, records: r.records, errors: r.errors }, 'notified content fetched');
      }),
    );
  }
  const notifiedRuns = new Set<Promise<void>>();

  return {
    owner,
    pollOnce,
    registerNotified: async (blobs) => {
      const n = await registerBlobs(db, blobs, nowIso(clock()));
      // A worker's poller (it runs the loop, or keeps the subscriptions' webhook) fetches them now; in a
      // web-only process they wait for whoever polls the tenant next (a poll job, the loop).
      if ((loop || deps.webhook) && !stopping) {
        if (blobs.length) {
          const run = fetchNotified(blobs)
            .catch((e) => logger.warn({ error: errText(e) }, 'fetching notified content failed (the next cycle retries)'))
            .finally(() => notifiedRuns.delete(run));
          notifiedRuns.add(run);
        }
      } else {
        if (n > 0) wakePending = true;
        wakeUp?.();
      }
      return n;
    },
    start() {
      if (loop) return;
      stopping = false;
      loop = (async () => {
        while (!stopping) {
          wakePending = false;
          try {
            const r = await pollOnce();
            logger.info({ totals: r.totals }, 'poll cycle done');
          } catch (e) {
            logger.error({ error: errText(e) }, 'poll cycle failed');
          }
          if (stopping || wakePending) continue;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, config.ingest.pollIntervalSeconds * 1000);
            wakeUp = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wakeUp = undefined;
        }
      })();
    },
    wake() {
      wakePending = true;
      wakeUp?.();
    },
    async stop() {
      stopping = true;
      wakeUp?.();
      await loop;
      await Promise.allSettled([...notifiedRuns]);
      loop = undefined;
    },
  };
}
