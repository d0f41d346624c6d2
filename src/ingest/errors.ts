// Coded operator errors owned by ingest/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const INGEST_ERRORS = {} as const satisfies Record<string, ErrorSpec>;
