// Coded operator errors owned by web/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const WEB_ERRORS = {
  TW_WEB_UNAUTHENTICATED: {
    message: 'log in first (session cookie or Authorization: Bearer <api token>)',
    exit: 1,
    http: 401,
    hint: 'POST /api/login {"username","password"}, or create an API token with `tenantwatch users token <user>`.',
  },
  TW_WEB_LOGIN_FAILED: {
    message: 'wrong user name or password',
    exit: 1,
    http: 401,
    hint: 'Check the credentials; an admin can set a new password with `tenantwatch users passwd <user>`.',
  },
  TW_WEB_FORBIDDEN: {
    message: 'role {role} may not {permission}',
    exit: 1,
    http: 403,
    hint: 'admin may do everything, analyst may triage and remediate, viewer may only read; an admin can change roles.',
  },
  TW_WEB_CSRF: {
    message: 'missing or wrong X-CSRF-Token header',
    exit: 1,
    http: 403,
    hint: 'Send the csrfToken from POST /api/login (or GET /api/session) in X-CSRF-Token; API tokens need none.',
  },
  TW_WEB_BAD_REQUEST: {
    message: 'bad request: {detail}',
    exit: 2,
    http: 400,
    hint: 'Send JSON matching the API (see /api/openapi.json).',
  },
  TW_WEB_BODY_TOO_LARGE: {
    message: 'request body larger than {limit} bytes',
    exit: 2,
    http: 413,
    hint: 'Send a smaller body.',
  },
  TW_WEB_RATE_LIMITED: {
    message: 'too many requests; retry in {retryAfter}',
    exit: 1,
    http: 429,
    hint: 'Wait and retry; login attempts are limited per client address.',
  },
  TW_WEB_CONFLICT: {
    message: '{what} already exists',
    exit: 1,
    http: 409,
    hint: 'Choose another name, or change the existing one.',
  },
  TW_WEB_UNAVAILABLE: {
    message: '{what} is not available in this process',
    exit: 1,
    http: 503,
    hint: 'Run the service with every role (`tenantwatch run`), or check the log for the module that failed to start.',
  },
  TW_USER_INVALID: {
    message: 'invalid user: {detail}',
    exit: 2,
    http: 400,
    hint: 'User names are 1-64 letters, digits, . _ @ -; passwords at least 12 characters; roles admin, analyst, viewer.',
  },
} as const satisfies Record<string, ErrorSpec>;
