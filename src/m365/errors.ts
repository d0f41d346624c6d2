// Coded operator errors owned by m365/ (plain data; merged and documented by src/errors.ts).
// Every one of them is a "Microsoft said no" (or could not be reached); the Microsoft code itself
// (AADSTS…, AF…, Graph error.code, Exchange ErrorId|ExceptionType) travels as `upstreamCode`.
import type { ErrorSpec } from '../errors.ts';

export const M365_ERRORS = {
  TW_M365_CREDENTIAL_MISSING: {
    message: 'no application credential configured: {detail}',
    exit: 2,
    http: 500,
    hint: 'Set microsoft.clientId and either microsoft.certificateFile (PEM with key and certificate) or microsoft.clientSecret(File); see docs/onboarding.md.',
  },
  TW_M365_CERTIFICATE_UNREADABLE: {
    message: 'cannot use the certificate file {path}: {reason}',
    exit: 2,
    http: 500,
    hint: 'microsoft.certificateFile must be a PEM file holding the private key (>= 2048 bits) and the certificate; give microsoft.certificatePassword for an encrypted key.',
  },
  TW_M365_CONSENT_MISSING: {
    message: 'admin consent missing in tenant {tenantId}: the application is not present there',
    exit: 1,
    http: 502,
    hint: 'A Global Administrator of the customer must grant admin consent: open the URL from `tenantwatch tenants consent-url <tenant>`.',
  },
  TW_M365_TENANT_NOT_FOUND: {
    message: 'Microsoft does not know tenant {tenantId}',
    exit: 1,
    http: 502,
    hint: 'Check the tenant id or domain for typos, and microsoft.cloud (a GCC High tenant is unknown to the commercial cloud).',
  },
  TW_M365_CREDENTIAL_REFUSED: {
    message: 'Microsoft refused the application credential for tenant {tenantId}: {reason}',
    exit: 1,
    http: 502,
    hint: 'Check microsoft.clientSecret (the secret value, not its ID; not expired) or that the certificate is uploaded to the app registration.',
  },
  TW_M365_TOKEN_FAILED: {
    message: 'cannot get a {resource} token for tenant {tenantId}: {reason}',
    exit: 1,
    http: 502,
    hint: 'The Microsoft code tells why; see https://learn.microsoft.com/entra/identity-platform/reference-error-codes.',
  },
  TW_M365_PERMISSION_MISSING: {
    message: '{resource} refused the request for tenant {tenantId}: permission missing ({reason})',
    exit: 1,
    http: 502,
    hint: 'Grant the application permission (and Entra role) listed in docs/onboarding.md, then have the customer consent again.',
  },
  TW_M365_AUDIT_DISABLED: {
    message: 'unified audit logging is off in tenant {tenantId}',
    exit: 1,
    http: 502,
    hint: 'Run `tenantwatch tenants onboard <tenant> --enable-audit` (takes up to 60 minutes to apply).',
  },
  TW_M365_THROTTLED: {
    message: '{resource} kept throttling tenant {tenantId} after {attempts} attempt(s)',
    exit: 1,
    http: 503,
    hint: 'Microsoft limits requests per tenant; tenantwatch retries later. Lower microsoft.requestsPerMinutePerTenant if this persists.',
  },
  TW_M365_NOT_FOUND: {
    message: '{resource} has no {what} in tenant {tenantId}',
    exit: 1,
    http: 404,
    hint: 'Check the identifier (user principal name, rule, mailbox).',
  },
  TW_M365_REJECTED: {
    message: '{resource} rejected the request for tenant {tenantId} (HTTP {status}): {reason}',
    exit: 1,
    http: 502,
    hint: 'The Microsoft code tells why; docs/onboarding.md lists the permissions each feature needs.',
  },
  TW_M365_UPSTREAM_FAILED: {
    message: '{resource} failed for tenant {tenantId} (HTTP {status}) after {attempts} attempt(s): {reason}',
    exit: 1,
    http: 502,
    hint: 'A Microsoft-side failure; tenantwatch retries later. Check https://status.office365.com if it persists.',
  },
  TW_M365_UNREACHABLE: {
    message: 'cannot reach {resource} at {host} after {attempts} attempt(s): {reason}',
    exit: 1,
    http: 503,
    hint: 'Check network access to Microsoft (proxy, firewall, DNS), microsoft.baseUrls and microsoft.caFile.',
  },
  TW_M365_BAD_RESPONSE: {
    message: '{resource} answered something unreadable for tenant {tenantId}: {reason}',
    exit: 1,
    http: 502,
    hint: 'Usually transient; retried on the next cycle.',
  },
  TW_M365_CMDLET_FAILED: {
    message: 'Exchange cmdlet {cmdlet} failed in tenant {tenantId}: {reason}',
    exit: 1,
    http: 502,
    hint: 'The Exchange error id tells why; the application needs Exchange.ManageAsApp and the Exchange Administrator role.',
  },
} as const satisfies Record<string, ErrorSpec>;
