import type { Generated } from 'kysely';

export interface CoreTables {
  /** Small key/value settings the service keeps about itself (schema version notes, instance id …). */
  settings: {
    key: string;
    value: string;
    updated_at: string;
  };
  /** Customer tenants under watch. Owned by tenants/. */
  tenants: {
    tenant_id: string;
    name: string;
    default_domain: string | null;
    source: string; // 'gdap' | 'contract' | 'manual' | 'import'
    enabled: number;
    added_at: string;
    /** JSON: TenantContext minus tenantId/name (accepted domains, recipients, trusted IPs, exclusions). */
    context_json: string | null;
    context_loaded_at: string | null;
    /** JSON: latest health checks { check: {ok, reason, fix} }. */
    health_json: string | null;
    health_checked_at: string | null;
  };
  /** Append-only trail of operator-visible events (who did what), shared by modules. */
  audit_trail: {
    id: Generated<number>;
    at: string;
    actor: string;
    action: string;
    subject: string | null;
    detail_json: string | null;
  };
}
