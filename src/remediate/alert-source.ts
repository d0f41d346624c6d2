// Reads an alert (and the same user's other open alerts) from the alerts tables, as remediation needs it.
import type { Db } from '../store/db.ts';
import type { RemediationAlert } from './evidence.ts';

const MAX_EVIDENCE = 50;
const MAX_RELATED = 20;

type AlertRow = { id: string; tenant_id: string; user_id: string; rule_id: string; behaviour: string; target: string; severity: string; status: string; summary: string };

async function toAlert(db: Db, a: AlertRow): Promise<RemediationAlert> {
  const ev = await db
    .selectFrom('alert_evidence')
    .select(['record_id', 'facts_json'])
    .where('alert_id', '=', a.id)
    .orderBy('occurred_at')
    .limit(MAX_EVIDENCE)
    .execute();
  const evidence = ev.map((e) => {
    let facts: Record<string, unknown> | undefined;
    if (e.facts_json) {
      try {
        const p = JSON.parse(e.facts_json) as unknown;
        if (p && typeof p === 'object' && !Array.isArray(p)) facts = p as Record<string, unknown>;
      } catch {
        facts = undefined;
      }
    }
    return { recordId: e.record_id, ...(facts ? { facts } : {}), ...(a.target ? { target: a.target } : {}) };
  });
  if (evidence.length === 0 && a.target) evidence.push({ recordId: '', target: a.target });
  return {
    id: a.id, tenantId: a.tenant_id, userId: a.user_id, behaviour: a.behaviour, ruleId: a.rule_id, severity: a.severity,
    summary: a.summary, status: a.status, evidence,
  };
}

const COLUMNS = ['id', 'tenant_id', 'user_id', 'rule_id', 'behaviour', 'target', 'severity', 'status', 'summary'] as const;

export async function loadAlert(db: Db, id: string): Promise<RemediationAlert | undefined> {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) return undefined;
  const a = await db.selectFrom('alerts').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  return a ? toAlert(db, a) : undefined;
}

/** The same user's other alerts that are not resolved: a takeover leaves several, each naming some of what to undo. */
export async function loadRelatedAlerts(db: Db, alert: RemediationAlert): Promise<RemediationAlert[]> {
  const rows = await db
    .selectFrom('alerts')
    .select(COLUMNS)
    .where('tenant_id', '=', alert.tenantId)
    .where('user_id', '=', alert.userId)
    .where('id', '!=', alert.id)
    .where('status', 'in', ['open', 'acknowledged', 'snoozed'])
    .orderBy('last_seen', 'desc')
    .limit(MAX_RELATED)
    .execute();
  const out: RemediationAlert[] = [];
  for (const r of rows) out.push(await toAlert(db, r));
  return out;
}
