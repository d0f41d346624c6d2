// The whole record flow for one content blob, in one place:
//   normalize → (one transaction:) claim check → dedupe by Id → detect (tenant context + history state)
//   → alerts + outbox → blob done + cursor's newest record.
// The claim, the records' outcomes, the detections/alerts and the blob's completion commit together, so
// a crash at any point neither loses nor repeats work: either all of it is there, or the blob is still
// claimed (and taken over once the claim's lease runs out) and nothing of it is.
import type { Kysely, Transaction } from 'kysely';
import type { NormalizedRecord } from './detect/record.ts';
import type { Logger } from './log.ts';
import type { Detection, TenantContext } from './model.ts';
import type { Database } from './store/schema.ts';
import { nowIso } from './store/db.ts';
import { bumpNewest, completeClaim, insertNewRecords, type StoredRecord } from './ingest/store.ts';
import type { History, HistoryKey } from './detect/history.ts';
import { createStoreHistory } from './store/tables/detect.ts';

export type RecordOutcome = { ok: true; record: NormalizedRecord } | { ok: false; id?: string; reason: string };

/** What the pipeline needs from detect/ (its Detector satisfies this). History keys name a tenant, or
 * '*' for state shared across tenants (shared destinations); the pipeline preloads them from the store
 * (detect_state) and writes the changed ones back in the blob's transaction. */
export interface DetectorLike {
  historyKeys?(record: NormalizedRecord, ctx: TenantContext | undefined): HistoryKey[];
  evaluate(record: NormalizedRecord, ctx: TenantContext, history: History): Detection[];
}

export interface PipelineDeps {
  normalize: (raw: unknown) => RecordOutcome;
  detector?: DetectorLike;
  loadContext?: (db: Kysely<Database>, tenantId: string) => Promise<TenantContext>;
  recordDetections?: (trx: Transaction<Database>, detections: Detection[], ctx: TenantContext) => Promise<unknown[]>;
  /** After the alerts: lets enrichment learn from the new records (the per-user sign-in baseline), same transaction. */
  observeRecords?: (trx: Transaction<Database>, records: NormalizedRecord[]) => Promise<unknown>;
  maxRawRecordBytes: number;
  logger?: Logger;
  now?: () => Date;
}

export interface BlobInput {
  tenantId: string;
  contentType: string;
  contentId: string;
  /** Who holds the claim (ingest/store.ts newOwnerId). */
  owner: string;
  records: unknown[];
}

export interface RecordResult {
  index: number;
  id?: string;
  outcome: 'new' | 'duplicate' | 'malformed';
  reason?: string;
  detections?: number;
}

export interface BlobOutcome {
  /** False when our claim was taken over before commit: nothing was written, the new holder does the work. */
  committed: boolean;
  records: number;
  duplicates: number;
  malformed: number;
  detections: number;
  alerts: number;
  detectErrors: number;
  newest?: string;
  results: RecordResult[];
}

class ClaimLost extends Error {}

/** Raw JSON for evidence, cut to the configured bound. */
export function boundedRaw(raw: unknown, max: number): { json: string; truncated: boolean } {
  let json: string;
  try {
    json = JSON.stringify(raw) ?? 'null';
  } catch {
    json = '"[unserialisable]"';
  }
  if (json.length <= max) return { json, truncated: false };
  return { json: json.slice(0, max), truncated: true };
}

const MAX_ID_LENGTH = 200;

export async function processBlob(db: Kysely<Database>, input: BlobInput, deps: PipelineDeps): Promise<BlobOutcome> {
  const now = nowIso(deps.now?.() ?? new Date());
  const results: RecordResult[] = [];
  const good: Array<{ index: number; record: NormalizedRecord; stored: StoredRecord }> = [];
  const seenInBlob = new Set<string>();
  let malformed = 0;
  let duplicates = 0;

  // 1. normalize: attacker-controlled input becomes a typed record or a counted reason; never a throw.
  input.records.forEach((raw, index) => {
    let out: RecordOutcome;
    try {
      out = deps.normalize(raw);
    } catch (e) {
      out = { ok: false, reason: `normalize failed: ${(e as Error).message?.slice(0, 120)}` };
    }
    if (!out.ok) {
      malformed++;
      results.push({ index, id: out.id?.slice(0, MAX_ID_LENGTH), outcome: 'malformed', reason: out.reason });
      return;
    }
    const r = out.record;
    if (!r.id || r.id.length > MAX_ID_LENGTH) {
      malformed++;
      results.push({ index, outcome: 'malformed', reason: r.id ? 'Id too long' : 'no Id' });
      return;
    }
    // 2a. dedupe inside the blob (Microsoft repeats Ids within and across blobs).
    if (seenInBlob.has(r.id)) {
      duplicates++;
      results.push({ index, id: r.id, outcome: 'duplicate' });
      return;
    }
    seenInBlob.add(r.id);
    const raw2 = boundedRaw(raw, deps.maxRawRecordBytes);
    good.push({
      index,
      record: r,
      stored: {
        tenantId: input.tenantId,
        recordId: r.id,
        contentType: input.contentType,
        contentId: input.contentId.slice(0, 500),
        recordType: typeof r.recordType === 'number' && Number.isFinite(r.recordType) ? r.recordType : null,
        operation: r.operation ? r.operation.slice(0, 200) : null,
        userId: r.userId ? r.userId.slice(0, 320) : null,
        creationTime: r.creationTime || null,
        rawJson: raw2.json,
        rawTruncated: raw2.truncated,
      },
    });
  });

  try {
    return await db.transaction().execute(async (trx) => {
      // 3. our claim must still hold; this also locks the claim row (PostgreSQL) until commit.
      const held = await completeClaim(trx, input.tenantId, input.contentId, input.owner, { records: 0, duplicates: 0, malformed: 0 }, now);
      if (!held) throw new ClaimLost();

      // 2b. dedupe across blobs and processes: only Ids inserted now are new (the 7-day horizon's table).
      const fresh = await insertNewRecords(trx, good.map((g) => g.stored), now);
      const newOnes = good.filter((g) => fresh.has(g.record.id));
      for (const g of good) if (!fresh.has(g.record.id)) {
        duplicates++;
        results.push({ index: g.index, id: g.record.id, outcome: 'duplicate' });
      }

      // 4. detect, with the tenant's context and the rules' history state preloaded.
      const detections: Detection[] = [];
      let detectErrors = 0;
      const perRecord = new Map<number, number>();
      let ctx: TenantContext | undefined;
      if (deps.detector && newOnes.length > 0) {
        ctx = deps.loadContext ? await deps.loadContext(trx, input.tenantId) : emptyContext(input.tenantId);
        const history = createStoreHistory();
        const keys = deps.detector.historyKeys ? newOnes.flatMap((g) => safeKeys(deps.detector!, g.record, ctx)) : [];
        if (keys.length) await history.preload(trx, keys);
        for (const g of newOnes) {
          try {
            const ds = deps.detector.evaluate(g.record, ctx, history);
            detections.push(...ds);
            perRecord.set(g.index, ds.length);
          } catch (e) {
            detectErrors++;
            deps.logger?.error({ tenantId: input.tenantId, recordId: g.record.id, err: (e as Error).message }, 'detection failed on a record');
          }
        }
        await history.save(trx);
      }

      // 5. alerts + notification outbox, in this same transaction.
      let alerts = 0;
      if (detections.length && deps.recordDetections) {
        const changes = await deps.recordDetections(trx, detections, ctx ?? emptyContext(input.tenantId));
        alerts = changes.length;
      }
      // 5b. the baseline learns only after the alerts were judged against what was known before.
      if (newOnes.length && deps.observeRecords) await deps.observeRecords(trx, newOnes.map((g) => g.record));

      for (const g of newOnes) results.push({ index: g.index, id: g.record.id, outcome: 'new', detections: perRecord.get(g.index) ?? 0 });
      results.sort((a, b) => a.index - b.index);

      // 6. the blob is done, with its counts; the cursor learns the newest record (lag).
      await trx
        .updateTable('ingest_blobs')
        .set({ records: newOnes.length, duplicates, malformed })
        .where('tenant_id', '=', input.tenantId)
        .where('content_id', '=', input.contentId)
        .execute();
      let newest: string | undefined;
      for (const g of newOnes) if (g.record.creationTime && (!newest || g.record.creationTime > newest)) newest = g.record.creationTime;
      if (newest) await bumpNewest(trx, input.tenantId, input.contentType, newest, now);

      return { committed: true, records: newOnes.length, duplicates, malformed, detections: detections.length, alerts, detectErrors, newest, results };
    });
  } catch (e) {
    if (e instanceof ClaimLost) {
      return { committed: false, records: 0, duplicates: 0, malformed: 0, detections: 0, alerts: 0, detectErrors: 0, results: [] };
    }
    throw e;
  }
}

function safeKeys(detector: DetectorLike, r: NormalizedRecord, ctx: TenantContext | undefined): HistoryKey[] {
  try {
    return detector.historyKeys?.(r, ctx) ?? [];
  } catch {
    return [];
  }
}

function emptyContext(tenantId: string): TenantContext {
  return { tenantId, name: tenantId, acceptedDomains: [], recipients: [], trustedIps: [], exclusions: [], known: false };
}
