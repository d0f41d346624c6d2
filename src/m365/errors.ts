// Coded operator errors owned by m365/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const M365_ERRORS = {} as const satisfies Record<string, ErrorSpec>;
