// The unified audit log behind the Management Activity API: records appended by the directory side,
// the control API and generated background activity become content blobs after the availability
// latency, with Microsoft's quirks (duplicates across blobs, no order, late blobs) as switches.
import type { AuditRecord, AuditSink, ContentType, SimTenant } from './types.ts';
import { CONTENT_TYPES, generatedEntry, hash32, rng, stableGuid, type Quirks, type TenantRegistry, type World } from './world.ts';

export const RETENTION_MS = 7 * 24 * 3600_000;
export const BACKGROUND_SLOT_MS = 10 * 60_000;

export interface Blob {
  contentId: string;
  tenantId: string;
  contentType: ContentType;
  /** `contentCreated`: when the blob became (officially) available. */
  createdMs: number;
  /** When listings actually show it (later than createdMs for late blobs). */
  availableMs: number;
  records: unknown[] | null;
  seq: number;
}

export type BlobLookup = { ok: true; blob: Blob; records: unknown[] } | { ok: false; code: 'AF20050' | 'AF20051' | 'AF20052' };

export function contentStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:TZ.]/g, '');
}

function ctSlug(ct: ContentType): [string, string] {
  return [ct.toLowerCase().replace('.', '_'), ct.replace('.', '_')];
}

export function makeContentId(ct: ContentType, createdMs: number, suffix: string): string {
  const s = contentStamp(createdMs);
  const [a, b] = ctSlug(ct);
  return `${s}$${s}$${a}$${b}$${suffix}`;
}

/** Parses a content id; undefined when malformed (AF20052). */
export function parseContentId(id: string): { contentType: ContentType; suffix: string; createdMs: number } | undefined {
  if (id.length > 200) return undefined;
  const parts = id.split('$');
  if (parts.length !== 5) return undefined;
  const [s1, s2, a, b, suffix] = parts as [string, string, string, string, string];
  if (!/^\d{17}$/.test(s1) || !/^\d{17}$/.test(s2)) return undefined;
  const ct = CONTENT_TYPES.find((c) => ctSlug(c)[0] === a && ctSlug(c)[1] === b);
  if (!ct || !/^(sim\d{1,12}|bg\d{1,12})$/.test(suffix)) return undefined;
  const createdMs = Date.UTC(+s1.slice(0, 4), +s1.slice(4, 6) - 1, +s1.slice(6, 8), +s1.slice(8, 10), +s1.slice(10, 12), +s1.slice(12, 14), +s1.slice(14, 17));
  if (!Number.isFinite(createdMs)) return undefined;
  return { contentType: ct, suffix, createdMs };
}

export interface AuditLogDeps {
  world: World;
  tenants: TenantRegistry;
  now(): number;
  latencyMs(): number;
  quirks(): Quirks;
}

export interface AuditLog extends AuditSink {
  /** Like append, but tells how many records were kept (none without an enabled subscription). */
  appendCounted(tenantId: string, contentType: ContentType, records: unknown[]): { accepted: number; dropped: number; reason?: string; contentIds: string[] };
  list(tenant: SimTenant, ct: ContentType, startMs: number, endMs: number): Blob[];
  lookup(tenant: SimTenant, contentId: string): BlobLookup;
  /** Called when a blob is created (for webhook notifications). */
  onBlob(listener: (blob: Blob) => void): void;
  stats(tenantId: string): { blobs: number; records: number };
}

function sortKey(b: Blob): string {
  return `${String(b.availableMs).padStart(15, '0')}${b.contentId.split('$')[4]}`;
}

export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const blobsByTenant = new Map<string, Map<string, Blob>>();
  const lastBlob = new Map<string, Blob>();
  const listeners: Array<(b: Blob) => void> = [];
  let seq = 0;

  function subscriptionEnabledSince(tenant: SimTenant, ct: ContentType): number | undefined {
    const sub = tenant.subscriptions.get(ct);
    return sub && sub.status === 'enabled' ? sub.createdAt : undefined;
  }

  function appendCounted(tenantId: string, contentType: ContentType, records: unknown[]) {
    const tenant = deps.tenants.get(tenantId);
    if (!tenant) return { accepted: 0, dropped: records.length, reason: 'unknown tenant', contentIds: [] };
    const now = deps.now();
    if (!tenant.auditLogEnabled || tenant.auditLogEffectiveAt > now) return { accepted: 0, dropped: records.length, reason: 'unified audit logging is off in this tenant', contentIds: [] };
    if (subscriptionEnabledSince(tenant, contentType) === undefined) {
      return { accepted: 0, dropped: records.length, reason: `no enabled ${contentType} subscription: Microsoft keeps no content for a stopped or never-started subscription`, contentIds: [] };
    }
    if (records.length === 0) return { accepted: 0, dropped: 0, contentIds: [] };
    const q = deps.quirks();
    seq += 1;
    const r = rng(hash32(deps.world.seed, tenant.id, seq));
    const createdMs = now + deps.latencyMs();
    const late = q.lateBlobs > 0 && r() < q.lateBlobs;
    let body = records.slice();
    const key = `${tenant.id}|${contentType}`;
    const prev = lastBlob.get(key);
    if (prev?.records?.length && q.duplicates > 0 && r() < q.duplicates) {
      body.push(prev.records[Math.floor(r() * prev.records.length)]);
    }
    if (q.outOfOrder && body.length > 1) {
      body = body.map((x) => ({ x, k: r() })).sort((a, b) => a.k - b.k).map((e) => e.x);
    }
    const blob: Blob = {
      contentId: makeContentId(contentType, createdMs, `sim${String(seq).padStart(6, '0')}`),
      tenantId: tenant.id,
      contentType,
      createdMs,
      availableMs: Math.max(late ? createdMs + q.lateBlobDelaySeconds * 1000 : createdMs, (subscriptionEnabledSince(tenant, contentType) ?? 0) + q.firstContentDelaySeconds * 1000),
      records: body,
      seq,
    };
    let m = blobsByTenant.get(tenant.id);
    if (!m) blobsByTenant.set(tenant.id, (m = new Map()));
    m.set(blob.contentId, blob);
    lastBlob.set(key, blob);
    for (const l of listeners) l(blob);
    return { accepted: records.length, dropped: 0, contentIds: [blob.contentId] };
  }

  function backgroundBlobs(tenant: SimTenant, ct: ContentType, startMs: number, endMs: number): Blob[] {
    const rate = deps.world.generate.recordsPerTenantPerHour;
    if (rate <= 0 || !deps.tenants.isGenerated(tenant.id) || ct === 'DLP.All' || ct === 'Audit.General') return [];
    const out: Blob[] = [];
    const now = deps.now();
    const first = Math.floor(startMs / BACKGROUND_SLOT_MS) - 1;
    const last = Math.ceil(endMs / BACKGROUND_SLOT_MS);
    for (let slot = first; slot <= last; slot++) {
      const createdMs = (slot + 1) * BACKGROUND_SLOT_MS;
      if (createdMs < startMs || createdMs >= endMs || createdMs > now) continue;
      out.push({ contentId: makeContentId(ct, createdMs, `bg${slot}`), tenantId: tenant.id, contentType: ct, createdMs, availableMs: createdMs, records: null, seq: 0 });
    }
    return out;
  }

  function backgroundRecords(tenant: SimTenant, ct: ContentType, slot: number): unknown[] {
    const rate = deps.world.generate.recordsPerTenantPerHour;
    const perSlot = (rate * (BACKGROUND_SLOT_MS / 3600_000)) / 3;
    const r = rng(hash32(deps.world.seed, tenant.id, ct, slot));
    const n = Math.floor(perSlot) + (r() < perSlot - Math.floor(perSlot) ? 1 : 0);
    const index = parseInt(tenant.id.slice(24), 16);
    const users = tenant.users.length ? tenant.users.map((u) => u.upn) : generatedEntry(deps.world, index).users.map((u) => u.upn);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const at = slot * BACKGROUND_SLOT_MS + Math.floor(r() * BACKGROUND_SLOT_MS) - 30 * 60_000;
      const upn = users.length ? users[Math.floor(r() * users.length)]! : `user@${tenant.domains[0]}`;
      const ip = `203.0.113.${1 + Math.floor(r() * 250)}`;
      out.push(benignRecord(ct, tenant.id, upn, ip, at, stableGuid('bg', tenant.id, ct, slot, i)));
    }
    return out;
  }

  function list(tenant: SimTenant, ct: ContentType, startMs: number, endMs: number): Blob[] {
    const since = subscriptionEnabledSince(tenant, ct);
    if (since === undefined) return [];
    const now = deps.now();
    const m = blobsByTenant.get(tenant.id);
    const out: Blob[] = [];
    if (m) {
      for (const b of m.values()) {
        if (b.contentType === ct && b.createdMs >= startMs && b.createdMs < endMs && b.availableMs <= now && b.createdMs >= since) out.push(b);
      }
    }
    for (const b of backgroundBlobs(tenant, ct, Math.max(startMs, since), endMs)) out.push(b);
    out.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
    return out;
  }

  function lookup(tenant: SimTenant, contentId: string): BlobLookup {
    const parsed = parseContentId(contentId);
    if (!parsed) return { ok: false, code: 'AF20052' };
    const now = deps.now();
    const stored = blobsByTenant.get(tenant.id)?.get(contentId);
    if (stored) {
      if (stored.availableMs > now) return { ok: false, code: 'AF20050' };
      if (now >= stored.createdMs + RETENTION_MS) {
        stored.records = null;
        return { ok: false, code: 'AF20051' };
      }
      return { ok: true, blob: stored, records: stored.records ?? [] };
    }
    if (parsed.suffix.startsWith('bg')) {
      const slot = Number(parsed.suffix.slice(2));
      const createdMs = (slot + 1) * BACKGROUND_SLOT_MS;
      const sub = subscriptionEnabledSince(tenant, parsed.contentType);
      if (createdMs !== parsed.createdMs || createdMs > now || sub === undefined || createdMs < sub || backgroundBlobs(tenant, parsed.contentType, createdMs, createdMs + 1).length === 0) return { ok: false, code: 'AF20050' };
      if (now >= createdMs + RETENTION_MS) return { ok: false, code: 'AF20051' };
      const blob: Blob = { contentId, tenantId: tenant.id, contentType: parsed.contentType, createdMs, availableMs: createdMs, records: null, seq: 0 };
      return { ok: true, blob, records: backgroundRecords(tenant, parsed.contentType, slot) };
    }
    return { ok: false, code: 'AF20050' };
  }

  return {
    append(tenantId: string, contentType: ContentType, records: AuditRecord[]) {
      appendCounted(tenantId, contentType, records);
    },
    appendCounted,
    list,
    lookup,
    onBlob(l) {
      listeners.push(l);
    },
    stats(tenantId) {
      const m = blobsByTenant.get(tenantId);
      let records = 0;
      for (const b of m?.values() ?? []) records += b.records?.length ?? 0;
      return { blobs: m?.size ?? 0, records };
    },
  };
}

/** Zone-less CreationTime as Microsoft writes it. */
function creationTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** Benign background activity in Microsoft's record shapes. */
export function benignRecord(ct: ContentType, tenantId: string, upn: string, ip: string, at: number, id: string): AuditRecord {
  const common = { Id: id, CreationTime: creationTime(at), OrganizationId: tenantId, UserKey: upn, UserType: 0, Version: 1, UserId: upn };
  if (ct === 'Audit.AzureActiveDirectory') {
    return {
      ...common,
      RecordType: 15,
      Operation: 'UserLoggedIn',
      Workload: 'AzureActiveDirectory',
      ResultStatus: 'Success',
      ObjectId: '00000002-0000-0ff1-ce00-000000000000',
      ClientIP: ip,
      AzureActiveDirectoryEventType: 1,
      ExtendedProperties: [
        { Name: 'ResultStatusDetail', Value: 'Success' },
        { Name: 'UserAgent', Value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36' },
        { Name: 'RequestType', Value: 'OAuth2:Token' },
      ],
      Actor: [{ ID: upn, Type: 5 }],
      ActorContextId: tenantId,
      ActorIpAddress: ip,
      InterSystemsId: stableGuid('isi', id),
      IntraSystemId: stableGuid('iai', id),
      Target: [{ ID: '00000002-0000-0ff1-ce00-000000000000', Type: 0 }],
      TargetContextId: tenantId,
      ApplicationId: '00000002-0000-0ff1-ce00-000000000000',
      ErrorNumber: '0',
    };
  }
  if (ct === 'Audit.Exchange') {
    return {
      ...common,
      RecordType: 2,
      Operation: 'MailItemsAccessed',
      Workload: 'Exchange',
      ResultStatus: 'Succeeded',
      ObjectId: '',
      ClientIPAddress: ip,
      ClientInfoString: 'Client=OWA;Action=ViaProxy',
      ExternalAccess: false,
      InternalLogonType: 0,
      LogonType: 0,
      LogonUserSid: 'S-1-5-21-' + (hash32(upn) % 1_000_000_000),
      MailboxGuid: stableGuid('mbx', tenantId, upn),
      MailboxOwnerUPN: upn,
      OperationProperties: [{ Name: 'MailAccessType', Value: 'Bind' }, { Name: 'IsThrottled', Value: 'False' }],
    };
  }
  return {
    ...common,
    RecordType: 6,
    Operation: 'FileAccessed',
    Workload: 'OneDrive',
    ClientIP: ip,
    ObjectId: `https://${tenantId.slice(0, 8)}-my.sharepoint.com/personal/${upn.replace(/[@.]/g, '_')}/Documents/notes.docx`,
    ItemType: 'File',
    ListItemUniqueId: stableGuid('item', id),
    Site: stableGuid('site', tenantId, upn),
    SourceFileExtension: 'docx',
    SourceFileName: 'notes.docx',
    SourceRelativeUrl: `personal/${upn.replace(/[@.]/g, '_')}/Documents`,
    UserAgent: 'Microsoft Office Word/16.0',
    EventSource: 'SharePoint',
  };
}
