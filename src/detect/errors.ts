// Coded operator errors owned by detect/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const DETECT_ERRORS = {} as const satisfies Record<string, ErrorSpec>;
