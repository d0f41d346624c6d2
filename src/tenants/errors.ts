// Coded operator errors owned by tenants/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const TENANT_ERRORS = {
  TW_TENANT_ID_INVALID: {
    message: '{value} is neither a tenant GUID nor a domain name',
    exit: 2,
    http: 400,
    hint: 'Give the customer tenant id (a GUID like 2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11) or one of its verified domains (contoso.com).',
  },
  TW_TENANT_NOT_REGISTERED: {
    message: 'tenant {tenant} is not registered',
    exit: 2,
    http: 404,
    hint: 'List registered tenants with `tenantwatch tenants list`; add one with `tenantwatch tenants add <tenant id or domain>`.',
  },
  TW_TENANT_UNRESOLVED: {
    message: 'Microsoft knows no tenant with the domain {domain}: {reason}',
    exit: 2,
    http: 400,
    hint: 'Check the spelling and microsoft.cloud, or give the tenant GUID instead.',
  },
  TW_TENANT_PARTNER_MISSING: {
    message: 'microsoft.partnerTenantId is not configured',
    exit: 2,
    http: 500,
    hint: 'Discovery reads GDAP relationships in the partner (MSP) tenant: set microsoft.partnerTenantId.',
  },
  TW_TENANT_DISCOVERY_FAILED: {
    message: 'cannot list customer tenants: {reason}',
    exit: 1,
    http: 502,
    hint: 'Grant DelegatedAdminRelationship.Read.All (GDAP) and Directory.Read.All (legacy contracts) to the app in the partner tenant; see docs/onboarding.md.',
  },
  TW_TENANT_CONTEXT_INVALID: {
    message: 'the tenant context file {path} has {count} problem(s)',
    exit: 2,
    http: 400,
    hint: 'Fix every listed problem; the format is described in docs/onboarding.md (contracts §3).',
  },
  TW_TENANT_USAGE: {
    message: '{detail}',
    exit: 2,
    http: 400,
    hint: 'Run `tenantwatch tenants --help`.',
  },
} as const satisfies Record<string, ErrorSpec>;
