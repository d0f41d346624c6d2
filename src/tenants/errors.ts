// Coded operator errors owned by tenants/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const TENANT_ERRORS = {} as const satisfies Record<string, ErrorSpec>;
