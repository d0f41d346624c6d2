// Coded operator errors owned by alerts/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const ALERT_ERRORS = {} as const satisfies Record<string, ErrorSpec>;
