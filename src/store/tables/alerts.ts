// Tables owned by alerts/ (and enrich/baseline). Portable types only (see store/schema.ts for the conventions).
import type { Generated } from 'kysely';

export interface AlertTables {
  /** One incident: detections of the same tenant, user, rule and target within the group window. */
  alerts: {
    id: string;
    tenant_id: string;
    user_id: string;
    rule_id: string;
    behaviour: string;
    /** '' when the rule gives no target. */
    target: string;
    /** tenant|user|rule|target, the grouping key. */
    group_key: string;
    severity: string;
    /** The rule's severity for the first detection, before context raised it. */
    base_severity: string;
    /** open | acknowledged | snoozed | resolved | suppressed */
    status: string;
    suppressed: number;
    suppressed_reason: string | null;
    summary: string;
    count: number;
    attempt: number;
    client_ip: string | null;
    /** JSON: AlertEnrichment (geo + "new for this user"). */
    enrichment_json: string | null;
    first_seen: string;
    last_seen: string;
    created_at: string;
    updated_at: string;
    snoozed_until: string | null;
    acknowledged_at: string | null;
    acknowledged_by: string | null;
    resolved_at: string | null;
    resolved_by: string | null;
  };
  /** Every record that fed an alert; facts kept (bounded) for the first few. */
  alert_evidence: {
    alert_id: string;
    record_id: string;
    occurred_at: string;
    severity: string;
    client_ip: string | null;
    facts_json: string | null;
    added_at: string;
  };
  /** Who did what to an alert, in order. */
  alert_activity: {
    id: Generated<number>;
    alert_id: string;
    at: string;
    actor: string;
    action: string;
    detail_json: string | null;
  };
  /** Operator-defined exclusions (in addition to those in the tenant context). */
  alert_exclusions: {
    id: string;
    /** null = every tenant */
    tenant_id: string | null;
    user_id: string | null;
    behaviour: string | null;
    rule_id: string | null;
    /** address or `*@domain` */
    destination: string | null;
    /** CIDR or single IP */
    ip_range: string | null;
    reason: string;
    expires_at: string | null;
    created_at: string;
    created_by: string;
  };
  /** Per-user sign-in baseline (enrich/baseline.ts): countries, ASNs and IPs seen. */
  user_baseline: {
    tenant_id: string;
    user_id: string;
    /** ip | country | asn */
    kind: string;
    value: string;
    first_seen: string;
    last_seen: string;
    count: number;
  };
}
