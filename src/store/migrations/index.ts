// Every migration, in order. One explicit list (no directory scanning); names never change once shipped.
import type { Migration } from 'kysely';
import * as m0001 from './0001_core.ts';
import * as m0002 from './0002_tenants.ts';
import * as m0003 from './0003_ingest.ts';
import * as m0004 from './0004_detect.ts';
import * as m0005 from './0005_alerts.ts';
import * as m0006 from './0006_notify.ts';
import * as m0007 from './0007_remediate.ts';
import * as m0008 from './0008_web.ts';
import * as m0009 from './0009_request_budget.ts';

export const MIGRATIONS: Record<string, Migration> = {
  '0001_core': m0001,
  '0002_tenants': m0002,
  '0003_ingest': m0003,
  '0004_detect': m0004,
  '0005_alerts': m0005,
  '0006_notify': m0006,
  '0007_remediate': m0007,
  '0008_web': m0008,
  '0009_request_budget': m0009,
};
