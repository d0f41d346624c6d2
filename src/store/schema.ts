// The whole schema as one Kysely `Database` type, assembled from each module's tables.
// Conventions (both dialects): ids and timestamps are TEXT (timestamps ISO-8601 UTC with milliseconds
// and Z, so they sort as text), booleans are INTEGER 0/1, JSON is TEXT.
import type { CoreTables } from './tables/core.ts';
import type { TenantTables } from './tables/tenants.ts';
import type { IngestTables } from './tables/ingest.ts';
import type { DetectTables } from './tables/detect.ts';
import type { AlertTables } from './tables/alerts.ts';
import type { NotifyTables } from './tables/notify.ts';
import type { RemediateTables } from './tables/remediate.ts';
import type { WebTables } from './tables/web.ts';
import type { ScaleTables } from './tables/scale.ts';

export interface Database
  extends CoreTables,
    TenantTables,
    IngestTables,
    DetectTables,
    AlertTables,
    NotifyTables,
    RemediateTables,
    WebTables,
    ScaleTables {}
