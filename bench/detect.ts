// detect.records_per_s (raw blob text → normalized records → detections, one core) and
// parse.records_per_s (JSON.parse of the same blobs: the floor), measured in the same run on the same
// blobs: a generated, realistic mix of audit records (~98% benign noise: mailbox access, sign-ins,
// SharePoint, sends, ordinary admin changes and inbox rules; ~2% suspicious). Run alone: node --import tsx bench/detect.ts
import { normalizeRecord } from '../src/detect/normalize.ts';
import { createDetector } from '../src/detect/detector.ts';
import { createMemoryHistory } from '../src/detect/history.ts';
import { createGeoLookup } from '../src/enrich/geo.ts';
import type { TenantContext } from '../src/model.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';
import type { BenchResult } from './run.ts';

const TENANTS = ['d5ffead2-0555-4abc-b5f0-734ccd124d13', '65e471e0-d6c9-4003-ac43-16dfc8663eb4', '9e4d3acc-6194-46ac-9d1c-457c6fc9de06'];
const DOMAINS = ['larkspur-arch.example', 'almendra-textiles.example', 'quillon.example'];
const IPS = ['90.24.113.8', '83.45.17.120', '99.230.150.62', '90.63.200.17', '83.45.88.31', '99.230.7.201', '105.112.44.61', '51.75.160.44'];

/** Deterministic pseudo-random numbers (so every run measures the same blobs). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function guid(r: () => number): string {
  const h = () => Math.floor(r() * 0x10000).toString(16).padStart(4, '0');
  return `${h()}${h()}-${h()}-4${h().slice(1)}-a${h().slice(1)}-${h()}${h()}${h()}`;
}

function record(r: () => number, i: number): Record<string, unknown> {
  const t = Math.floor(r() * 3);
  const tenant = TENANTS[t];
  const user = `user${Math.floor(r() * 40)}@${DOMAINS[t]}`;
  const ip = IPS[Math.floor(r() * (r() < 0.97 ? 6 : IPS.length))];
  const time = new Date(Date.UTC(2026, 8, 1) + i * 1000).toISOString().slice(0, 19);
  const base = { CreationTime: time, Id: guid(r), OrganizationId: tenant, UserKey: '10032001A2B3C4D5', UserType: 0, Version: 1, UserId: user, ClientIP: ip };
  const p = r();
  if (p < 0.34) {
    return { ...base, Operation: 'MailItemsAccessed', RecordType: 50, ResultStatus: 'Succeeded', Workload: 'Exchange', AppId: '00000002-0000-0ff1-ce00-000000000000', ClientAppId: '', ClientIPAddress: ip, ClientInfoString: 'Client=OWA;Action=ViaProxy', ExternalAccess: false, InternalLogonType: 0, LogonType: 0, LogonUserSid: 'S-1-5-21-3628042247-2016205856-3519199009-31197087', MailboxGuid: guid(r), MailboxOwnerSid: 'S-1-5-21-3628042247-2016205856-3519199009-31197087', MailboxOwnerUPN: user, OrganizationName: 'tenant.onmicrosoft.com', OriginatingServer: 'MR1P264MB2745 (15.20.8386.039)', SessionId: guid(r), OperationProperties: [{ Name: 'MailAccessType', Value: 'Bind' }, { Name: 'IsThrottled', Value: 'False' }], Folders: [{ FolderItems: [{ InternetMessageId: `<${guid(r)}@prod.outlook.com>`, SizeInBytes: 138665 }, { InternetMessageId: `<${guid(r)}@prod.outlook.com>`, SizeInBytes: 20824 }], Id: 'LgAAAAA0S8FCWgnvi9sKIAJahEiBdgbhBJga44Jp8mxFSnlDtMIXBiB9mczFDBKfOgLAAAB', Path: '\\Inbox' }], OperationCount: 2 };
  }
  if (p < 0.56) {
    const failed = r() < 0.08;
    return { ...base, Operation: failed ? 'UserLoginFailed' : 'UserLoggedIn', RecordType: 15, ResultStatus: failed ? 'Failed' : 'Success', Workload: 'AzureActiveDirectory', ObjectId: '00000002-0000-0ff1-ce00-000000000000', AzureActiveDirectoryEventType: 1, ExtendedProperties: [{ Name: 'ResultStatusDetail', Value: 'Redirect' }, { Name: 'UserAgent', Value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0' }, { Name: 'RequestType', Value: 'OAuth2:Authorize' }], ModifiedProperties: [], Actor: [{ ID: guid(r), Type: 0 }, { ID: user, Type: 5 }], ActorContextId: tenant, ActorIpAddress: ip, InterSystemsId: guid(r), IntraSystemId: guid(r), SupportTicketId: '', Target: [{ ID: '00000002-0000-0ff1-ce00-000000000000', Type: 0 }], TargetContextId: tenant, ApplicationId: '4765445b-32c6-49b0-83e6-1d93765276ca', DeviceProperties: [{ Name: 'OS', Value: 'Windows10' }, { Name: 'BrowserType', Value: 'Edge' }, { Name: 'IsCompliantAndManaged', Value: 'False' }, { Name: 'SessionId', Value: guid(r) }], ErrorNumber: failed ? '50126' : '0', ...(failed ? { LogonError: 'InvalidUserNameOrPassword' } : {}) };
  }
  if (p < 0.74) {
    return { ...base, Operation: r() < 0.7 ? 'FileAccessed' : 'FileModified', RecordType: 6, Workload: 'SharePoint', ObjectId: `https://tenant.sharepoint.com/sites/Projects/Shared Documents/file${i}.docx`, CorrelationId: guid(r), EventSource: 'SharePoint', ItemType: 'File', ListId: guid(r), ListItemUniqueId: guid(r), Site: guid(r), UserAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36', WebId: guid(r), SourceFileExtension: 'docx', SiteUrl: 'https://tenant.sharepoint.com/sites/Projects/', SourceFileName: `file${i}.docx`, SourceRelativeUrl: 'Shared Documents' };
  }
  if (p < 0.86) {
    return { ...base, Operation: 'Send', RecordType: 2, ResultStatus: 'Succeeded', Workload: 'Exchange', ClientIPAddress: ip, ClientInfoString: 'Client=OWA;Action=ViaProxy', ExternalAccess: false, LogonType: 0, MailboxOwnerUPN: user, Item: { Id: 'LgAAAAA5iR1ONIBAjVAX3nMjJUA0BlxpGpo6gq7DGY9KIvvlfpyIMubzPgAuqDDlJgMAAAB', InternetMessageId: `<${guid(r)}@x.example>`, ParentFolder: { Id: 'LgAAAAArdpGhjsw0bC5OQ0iaLU1lEWSt7UvhcfojFsPcDNJn8tGMGkbDtcVuMxSclveAAAB', Path: '\\Sent Items' }, Subject: 'Plans rev C', SizeInBytes: 12118 } };
  }
  if (p < 0.91) {
    return { ...base, Operation: 'Update user.', RecordType: 8, ResultStatus: 'Success', Workload: 'AzureActiveDirectory', ObjectId: user, ModifiedProperties: [{ Name: 'JobTitle', NewValue: '["Project Architect"]', OldValue: '["Architect"]' }, { Name: 'Included Updated Properties', NewValue: 'JobTitle', OldValue: '' }] };
  }
  if (p < 0.98) {
    return { ...base, Operation: 'New-InboxRule', RecordType: 1, ResultStatus: 'True', Workload: 'Exchange', ObjectId: `X.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/t.onmicrosoft.com/u\\News`, ExternalAccess: false, Parameters: [{ Name: 'AlwaysDeleteOutlookRulesBlob', Value: 'False' }, { Name: 'Force', Value: 'False' }, { Name: 'Name', Value: 'Newsletters' }, { Name: 'From', Value: 'digest@news.example' }, { Name: 'MoveToFolder', Value: 'Newsletters' }] };
  }
  // ~2% suspicious: external forwards, hiding, mailbox forwarding, consent
  const q = r();
  if (q < 0.4) {
    return { ...base, Operation: 'New-InboxRule', RecordType: 1, ResultStatus: 'True', Workload: 'Exchange', ExternalAccess: false, Parameters: [{ Name: 'Name', Value: '.' }, { Name: 'ForwardTo', Value: `drop${Math.floor(r() * 5000)}@mail.example.net` }, { Name: 'MoveToFolder', Value: 'RSS Feeds' }, { Name: 'MarkAsRead', Value: 'True' }] };
  }
  if (q < 0.7) {
    return { ...base, Operation: 'Set-Mailbox', RecordType: 1, ResultStatus: 'True', Workload: 'Exchange', Parameters: [{ Name: 'Identity', Value: user }, { Name: 'ForwardingSmtpAddress', Value: `smtp:drop${Math.floor(r() * 5000)}@mail.example.net` }, { Name: 'DeliverToMailboxAndForward', Value: 'False' }] };
  }
  return { ...base, Operation: 'Consent to application.', RecordType: 8, ResultStatus: 'Success', Workload: 'AzureActiveDirectory', ObjectId: guid(r), ModifiedProperties: [{ Name: 'ConsentContext.IsAdminConsent', NewValue: 'False', OldValue: '' }, { Name: 'ConsentAction.Permissions', NewValue: '[] => [[Id: x, ClientId: y, ConsentType: Principal, Scope: Mail.Read offline_access User.Read, CreatedDateTime: ]]; ', OldValue: '' }] };
}

export function generateBlobs(blobs: number, perBlob: number, seed = 42): string[] {
  const r = rng(seed);
  const out: string[] = [];
  let i = 0;
  for (let b = 0; b < blobs; b++) {
    const recs: unknown[] = [];
    for (let k = 0; k < perBlob; k++) recs.push(record(r, i++));
    out.push(JSON.stringify(recs));
  }
  return out;
}

function contexts(): Map<string, TenantContext> {
  return new Map(
    TENANTS.map((t, i) => [
      t,
      { tenantId: t, name: DOMAINS[i], acceptedDomains: [{ domain: DOMAINS[i], matchSubdomains: false }], recipients: [], trustedIps: [], exclusions: [], known: true },
    ]),
  );
}

export async function runDetectBench(blobCount = 100, perBlob = 1000, rounds = 5): Promise<BenchResult[]> {
  const blobs = generateBlobs(blobCount, perBlob);
  const bytes = blobs.reduce((n, b) => n + b.length, 0);
  const records = blobCount * perBlob;
  const { pack, problems } = loadRulePackFromDirs();
  if (problems.length) throw new Error(problems.join('; '));
  const geo = createGeoLookup();
  for (const ip of IPS) geo.lookup(ip); // load the databases outside the timing
  const ctxs = contexts();
  let sink = 0;
  const parseBlob = (b: string) => {
    sink += (JSON.parse(b) as unknown[]).length;
  };
  let detections = 0;
  let detector = createDetector({ pack, geo });
  let history = createMemoryHistory();
  const detectBlob = (b: string) => {
    const arr = JSON.parse(b) as unknown[];
    for (const raw of arr) {
      // the detector's cheap pre-filter: records no rule handles and no history needs are not normalized
      if (!detector.handles((raw as { Operation?: unknown } | null)?.Operation)) continue;
      const out = normalizeRecord(raw);
      if (!out.ok) continue;
      detections += detector.evaluate(out.record, ctxs.get(out.record.tenantId), history).length;
    }
  };
  // Parse and detect alternate blob by blob, so both see the same machine load; each round starts a
  // fresh detector and history; the best round of each is reported.
  let bestParse = Infinity;
  let bestDetect = Infinity;
  for (let round = 0; round <= rounds; round++) {
    detector = createDetector({ pack, geo });
    history = createMemoryHistory();
    detections = 0;
    let tp = 0;
    let td = 0;
    for (const b of blobs) {
      let t0 = process.hrtime.bigint();
      parseBlob(b);
      tp += Number(process.hrtime.bigint() - t0);
      t0 = process.hrtime.bigint();
      detectBlob(b);
      td += Number(process.hrtime.bigint() - t0);
    }
    if (round === 0) continue; // warm-up
    bestParse = Math.min(bestParse, tp / 1e9);
    bestDetect = Math.min(bestDetect, td / 1e9);
  }
  if (sink < 0) process.stdout.write('');
  const parseRate = Math.round(records / bestParse);
  const detectRate = Math.round(records / bestDetect);
  const input = { records, blobs: blobCount, bytes, suspiciousShare: 0.02 };
  return [
    { name: 'detect.records_per_s', value: detectRate, unit: 'records/s', ...input, detections, ratioToParse: Math.round((detectRate / parseRate) * 100) / 100, rules: pack.rules.length },
    { name: 'parse.records_per_s', value: parseRate, unit: 'records/s', ...input },
  ];
}

export default { name: 'detect', produces: ['detect.records_per_s', 'parse.records_per_s'], run: () => runDetectBench() };

if (process.argv[1] && /bench[\\/]detect\.ts$/.test(process.argv[1])) {
  for (const r of await runDetectBench()) process.stdout.write(JSON.stringify(r) + '\n');
}
