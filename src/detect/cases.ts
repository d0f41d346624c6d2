// Runs every rule's cases (rules/<id>.cases.yaml): each case is a raw audit record (defaults filled
// in), optionally preceded by history records, judged against a tenant context; the case says whether
// its rule must fire and, optionally, at which severity and whether as an attempt. Pure.
import type { GeoInfo, TenantContext } from '../model.ts';
import { normalizeRecord } from './normalize.ts';
import { createDetector } from './detector.ts';
import type { GeoLookup } from './facts/signin.ts';
import { createMemoryHistory } from './history.ts';
import type { RulePack } from './rule-schema.ts';

export interface CaseResult {
  ruleId: string;
  name: string;
  source?: string;
  ok: boolean;
  message: string;
}

export const CASE_TENANT = '00000000-0000-4000-8000-00000000c0de';

/** The tenant context cases run against unless they give their own. */
export const DEFAULT_CASE_CONTEXT: TenantContext = {
  tenantId: CASE_TENANT,
  name: 'Contoso (cases)',
  acceptedDomains: [
    { domain: 'contoso.com', matchSubdomains: false },
    { domain: 'contoso.onmicrosoft.com', matchSubdomains: false },
    { domain: 'contoso.co.uk', matchSubdomains: true },
  ],
  recipients: [
    { identity: 'Partner Billing', address: 'billing@partner.example', type: 'MailContact' },
    { identity: 'Shared Finance', address: 'finance@contoso.com', type: 'SharedMailbox' },
  ],
  trustedIps: ['192.0.2.0/24'],
  exclusions: [],
  known: true,
};

function contextFrom(v: unknown, fallback: TenantContext): TenantContext {
  if (v === undefined) return fallback;
  if (v === 'unknown' || v === null) return { ...fallback, acceptedDomains: [], recipients: [], known: false };
  const o = v as { acceptedDomains?: unknown[]; recipients?: TenantContext['recipients']; trustedIps?: string[] };
  return {
    ...fallback,
    acceptedDomains: (o.acceptedDomains ?? []).map((d) =>
      typeof d === 'string' ? { domain: d, matchSubdomains: false } : { domain: String((d as { domain: string }).domain), matchSubdomains: !!(d as { matchSubdomains?: boolean }).matchSubdomains },
    ),
    recipients: o.recipients ?? fallback.recipients,
    trustedIps: o.trustedIps ?? fallback.trustedIps,
    known: true,
  };
}

function staticGeo(map: Record<string, Partial<GeoInfo>> | undefined, fallback: GeoLookup | undefined): GeoLookup | undefined {
  if (!map) return fallback;
  return { lookup: (ip) => (map[ip] ? { ip, ...map[ip] } : fallback?.lookup(ip)) };
}

let seq = 0;
function withDefaults(r: Record<string, unknown>, minute: number): Record<string, unknown> {
  const t = new Date(Date.UTC(2026, 0, 10, 0, 0, 0) + minute * 60000).toISOString().slice(0, 19);
  return {
    Id: `case-${++seq}`,
    CreationTime: t,
    OrganizationId: CASE_TENANT,
    RecordType: 1,
    ResultStatus: 'True',
    UserId: 'jane@contoso.com',
    Workload: 'Exchange',
    ClientIP: '198.18.0.1',
    ...r,
  };
}

/** Runs every case of every rule in the pack; `geo` backs sign-in cases that give no static geo. */
export function runRuleCases(pack: RulePack, opts: { geo?: GeoLookup; only?: string } = {}): CaseResult[] {
  const results: CaseResult[] = [];
  for (const file of pack.cases) {
    if (opts.only && file.rule !== opts.only) continue;
    const fileCtx = contextFrom(file.context, DEFAULT_CASE_CONTEXT);
    file.cases.forEach((c, index) => {
      const ctx = contextFrom(c.context, fileCtx);
      const geo = staticGeo({ ...(file.geo ?? {}), ...(c.geo ?? {}) }, opts.geo);
      const detector = createDetector({ pack, geo });
      const history = createMemoryHistory();
      let minute = 0;
      let problem = '';
      for (const h of c.history ?? []) {
        const out = normalizeRecord(withDefaults(h, minute++));
        if (!out.ok) problem = `history record is malformed: ${out.reason}`;
        else detector.evaluate(out.record, ctx, history);
      }
      const outcome = normalizeRecord(withDefaults(c.record, minute + 60 * 24));
      const base = { ruleId: file.rule, name: c.name || `case ${index + 1}`, source: file.source };
      if (!outcome.ok) {
        results.push({ ...base, ok: false, message: `record is malformed: ${outcome.reason}` });
        return;
      }
      if (problem) {
        results.push({ ...base, ok: false, message: problem });
        return;
      }
      const ds = detector.evaluate(outcome.record, ctx, history).filter((d) => d.ruleId === file.rule);
      if (c.expect === 'none') {
        results.push({ ...base, ok: ds.length === 0, message: ds.length === 0 ? 'did not fire' : `fired (${ds[0].severity}): ${ds[0].summary}` });
        return;
      }
      if (ds.length === 0) {
        results.push({ ...base, ok: false, message: 'expected the rule to fire; it did not' });
        return;
      }
      const d = ds[0];
      const wrong: string[] = [];
      if (c.severity && d.severity !== c.severity) wrong.push(`severity ${d.severity}, expected ${c.severity}`);
      if (c.attempt !== undefined && d.attempt !== c.attempt) wrong.push(`attempt ${d.attempt}, expected ${c.attempt}`);
      results.push({ ...base, ok: wrong.length === 0, message: wrong.length ? wrong.join('; ') : `fired (${d.severity}): ${d.summary}` });
    });
  }
  return results;
}
