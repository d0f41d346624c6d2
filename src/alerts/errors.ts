// Coded operator errors owned by alerts/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const ALERT_ERRORS = {
  TW_ALERT_NOT_FOUND: {
    message: 'alert {id} not found',
    exit: 1,
    http: 404,
    hint: 'List alerts with `tenantwatch alerts list`.',
  },
  TW_ALERT_BAD_TRANSITION: {
    message: 'alert {id} is {status}: cannot {action}',
    exit: 1,
    http: 409,
    hint: 'Reopen a resolved alert before acknowledging or snoozing it.',
  },
} as const satisfies Record<string, ErrorSpec>;
