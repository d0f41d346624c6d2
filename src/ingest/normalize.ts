// Normalization of raw audit records (design/m365-api.md §3). The implementation lives beside the
// detection code (src/detect/normalize.ts: pure, shared with `rules test`); the ingest pipeline and
// replay import it from here.
export {
  normalizeRecord,
  normalizeTimestamp,
  normalizeIp,
  parsePowerShellParameters,
  succeededFrom,
  boundedJson,
  nameValues,
  type RecordOutcome,
  type NormalizeOptions,
  type NormalizedRecord,
} from '../detect/normalize.ts';
