// Coded operator errors owned by web/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const WEB_ERRORS = {} as const satisfies Record<string, ErrorSpec>;
