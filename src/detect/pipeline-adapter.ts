// Fits the detector to the ingest pipeline's per-tenant history state (src/pipeline.ts DetectorLike):
// the pipeline loads and saves `key → value` for the blob's tenant, so cross-tenant keys become keys
// of that tenant (shared destinations are then judged within each tenant in the service; replay keeps
// them across tenants).
import type { Detection, TenantContext } from '../model.ts';
import type { Detector } from './detector.ts';
import type { NormalizedRecord } from './record.ts';

export interface TenantState {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}

export interface PipelineDetector {
  historyKeys(record: NormalizedRecord): string[];
  evaluate(record: NormalizedRecord, ctx: TenantContext, history: TenantState): Detection[];
}

export function forPipeline(detector: Detector): PipelineDetector {
  return {
    historyKeys: (record) => detector.historyKeys(record, undefined).map((k) => k.key),
    evaluate: (record, ctx, state) =>
      detector.evaluate(record, ctx, {
        get: (_tenant, key) => state.get(key),
        set: (_tenant, key, value) => state.set(key, value),
      }),
  };
}
