// Coded operator errors owned by remediate/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const REMEDIATE_ERRORS = {} as const satisfies Record<string, ErrorSpec>;
