// Terminal and JSON renderings of tenant reports: the onboarding table (one row per tenant, one column per check,
// ✓/✗ with the reason; fixes listed under it as numbered notes) and the contracts §1 JSON shape.
import { scrub } from '../log.ts';
import type { DiscoveredTenant } from './discovery.ts';
import { CHECKS, type CheckName, type TenantReport } from './onboard.ts';
import type { CheckResult, TenantRecord } from './registry.ts';

const MAX_CELL = 60;

function cell(c: CheckResult | undefined, note?: number): string {
  if (!c) return '-';
  const text = `${c.ok ? '✓' : '✗'} ${c.reason}`;
  const clipped = text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
  return note ? `${clipped} [${note}]` : clipped;
}

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** The onboarding/health table plus numbered fixes; scrubbed (no tokens or secrets can pass). */
export function renderReports(reports: TenantReport[]): string {
  const notes: string[] = [];
  const rows = reports.map((r) => [
    r.tenantId,
    r.name,
    ...CHECKS.map((c: CheckName) => {
      const res = r.checks[c];
      if (res && !res.ok && res.fix) {
        notes.push(`[${notes.length + 1}] ${r.name} / ${c}: ${res.fix}`);
        return cell(res, notes.length);
      }
      return cell(res);
    }),
  ]);
  let out = renderTable(['tenant', 'name', ...CHECKS], rows);
  if (notes.length) out += `\nTo fix:\n${notes.join('\n')}\n`;
  const ok = reports.filter((r) => r.healthy).length;
  out += `\n${ok}/${reports.length} tenant(s) healthy\n`;
  return scrub(out);
}

/** contracts §1: {"tenantId","name","healthy","checks":{"token":{ok,reason,fix},…}} (+ ingest when known). */
export function reportJson(r: TenantReport): Record<string, unknown> {
  return {
    tenantId: r.tenantId,
    name: r.name,
    healthy: r.healthy,
    checks: Object.fromEntries(CHECKS.map((c) => [c, { ok: r.checks[c].ok, reason: r.checks[c].reason, fix: r.checks[c].fix ?? null, ...(r.checks[c].upstreamCode ? { upstreamCode: r.checks[c].upstreamCode } : {}) }])),
    ...(r.ingest ? { ingest: r.ingest } : {}),
  };
}

const NOT_CHECKED: CheckResult = { ok: false, reason: 'not checked yet', fix: 'run `tenantwatch tenants onboard`' };

/** A registered tenant as a report from its stored health (no network): `tenants list --json`, GET /api/tenants. */
export function storedReport(t: TenantRecord): TenantReport {
  const stored = t.health?.checks ?? {};
  const checks = Object.fromEntries(CHECKS.map((c) => [c, stored[c] ?? NOT_CHECKED])) as Record<CheckName, CheckResult>;
  return { tenantId: t.tenantId, name: t.name, healthy: t.enabled && (t.health?.healthy ?? false), checks };
}

export function renderTenantList(tenants: TenantRecord[]): string {
  const rows = tenants.map((t) => [
    t.tenantId,
    t.name,
    t.defaultDomain ?? '-',
    t.source,
    t.enabled ? 'yes' : 'no',
    t.health ? (t.health.healthy ? '✓ healthy' : `✗ ${CHECKS.filter((c) => t.health?.checks[c] && !t.health.checks[c].ok).join(', ')}`) : 'not checked',
    t.context ? (t.context.known ? `${t.context.acceptedDomains.length} domain(s)` : 'unknown') : 'none',
  ]);
  return scrub(renderTable(['tenant', 'name', 'domain', 'source', 'enabled', 'health', 'context'], rows) + `${tenants.length} tenant(s)\n`);
}

export function renderDiscovery(tenants: DiscoveredTenant[], added: Set<string>): string {
  const rows = tenants.map((t) => [
    t.tenantId,
    t.name,
    t.gdap === 'active' && t.gdapEndsAt ? `active until ${t.gdapEndsAt.slice(0, 10)}` : t.gdap,
    t.contract ? 'yes' : 'no',
    added.has(t.tenantId) ? 'added now' : t.registered ? 'registered' : 'new',
  ]);
  return scrub(renderTable(['tenant', 'name', 'gdap', 'contract', 'status'], rows));
}
