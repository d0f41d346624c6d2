// Coded operator errors owned by remediate/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const REMEDIATE_ERRORS = {
  TW_REMEDIATE_NO_LINK_SECRET: {
    message: 'remediate.linkSecret is not configured: Secure and Remediate links cannot be signed or checked',
    exit: 2,
    http: 503,
    hint: 'Set remediate.linkSecret (at least 32 characters; or remediate.linkSecretFile / TENANTWATCH_REMEDIATE_LINK_SECRET).',
  },
  TW_REMEDIATE_ALERT_NOT_FOUND: {
    message: 'alert {alertId} not found',
    exit: 1,
    http: 404,
    hint: 'List alerts with `tenantwatch alerts list` or GET /api/alerts.',
  },
  TW_REMEDIATE_BAD_STEPS: {
    message: 'unknown remediation step(s): {steps}',
    exit: 2,
    http: 400,
    hint: 'Known steps: block-sign-in, revoke-sessions, reset-password, disable-inbox-rules, clear-forwarding, disable-owa, remove-transport-rule, revoke-consent.',
  },
  TW_REMEDIATE_RUN_NOT_FOUND: {
    message: 'remediation run {runId} not found',
    exit: 1,
    http: 404,
    hint: 'List runs with `tenantwatch remediate --list` or GET /api/remediations.',
  },
  TW_REMEDIATE_FORBIDDEN: {
    message: 'role {role} may not remediate',
    exit: 1,
    http: 403,
    hint: 'Only the admin and analyst roles can run or undo remediations.',
  },
  TW_REMEDIATE_NOT_UNDOABLE: {
    message: 'run {runId} cannot be undone: {reason}',
    exit: 1,
    http: 409,
    hint: 'Only finished, non-dry runs with reversible steps (block sign-in, inbox rules disabled, forwarding, OWA) can be undone.',
  },
  TW_REMEDIATE_UNAUTHENTICATED: {
    message: 'sign in to remediate',
    exit: 1,
    http: 401,
    hint: 'Log in to the console (POST /api/login) or send Authorization: Bearer <api token>.',
  },
  TW_REMEDIATE_CSRF: {
    message: 'the request lacks the CSRF token of the session',
    exit: 1,
    http: 403,
    hint: 'Send the csrfToken from POST /api/login in the X-CSRF-Token header (or use an API token).',
  },
  TW_REMEDIATE_NO_CLIENTS: {
    message: 'remediation is not available: no Microsoft Graph/Exchange clients were given to the web server',
    exit: 1,
    http: 503,
    hint: 'Start the service with the microsoft.* settings configured (tenantwatch run).',
  },
} as const satisfies Record<string, ErrorSpec>;
