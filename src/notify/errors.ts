// Coded operator errors owned by notify/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const NOTIFY_ERRORS = {
  TW_NOTIFY_CONFIG_INVALID: {
    message: 'the notification channel configuration has {count} problem(s)',
    exit: 2,
    http: 500,
    hint: 'Fix every listed problem under notify.channels / notify.routes; docs/notifications.md lists each channel type and its keys.',
  },
  TW_NOTIFY_NO_CHANNEL: {
    message: 'no notification channel named {name}',
    exit: 2,
    http: 404,
    hint: 'List the configured channels with `tenantwatch channels list`.',
  },
  TW_NOTIFY_SEND_FAILED: {
    message: 'channel {name} did not accept the message: {reason}',
    exit: 1,
    http: 502,
    hint: 'Check the channel address and credentials; retryable failures are retried by the dispatcher.',
  },
} as const satisfies Record<string, ErrorSpec>;
