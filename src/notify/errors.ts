// Coded operator errors owned by notify/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const NOTIFY_ERRORS = {} as const satisfies Record<string, ErrorSpec>;
