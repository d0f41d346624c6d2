// The shared vocabulary (types and a few constant lists). No I/O, no logic beyond tiny helpers.

export type TenantId = string;

export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** The fixed behaviour vocabulary (contracts §2). */
export const BEHAVIOURS = [
  'inbox-rule-external-forward',
  'inbox-rule-delete-all',
  'inbox-rule-hide',
  'mailbox-forwarding-external',
  'transport-rule-external',
  'mailbox-permission-grant',
  'illicit-consent',
  'account-security-weakened',
  'signin-anomaly',
  'shared-destination',
] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

export const CONTENT_TYPES = [
  'Audit.AzureActiveDirectory',
  'Audit.Exchange',
  'Audit.SharePoint',
  'Audit.General',
  'DLP.All',
] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];

/** An accepted domain of a tenant; `matchSubdomains` mirrors Exchange's MatchSubDomains. */
export interface AcceptedDomain {
  domain: string;
  matchSubdomains: boolean;
}

/** A recipient inside the tenant that forwarding may point at (mail contact, shared mailbox …). */
export interface KnownRecipient {
  identity: string;
  address: string;
  type: string;
}

export interface Exclusion {
  id?: string;
  behaviour?: Behaviour | string;
  ruleId?: string;
  user?: string;
  /** Address or `*@domain` pattern. */
  destination?: string;
  /** CIDR. */
  ipRange?: string;
  reason?: string;
  expiresAt?: string;
}

/** What detection trusts about a tenant. `acceptedDomains` empty + `known: false` = "unknown", never guessed. */
export interface TenantContext {
  tenantId: TenantId;
  name: string;
  acceptedDomains: AcceptedDomain[];
  recipients: KnownRecipient[];
  trustedIps: string[];
  exclusions: Exclusion[];
  /** False when the accepted domains could not be loaded: "external" is then unknown. */
  known: boolean;
}

/** Where an IP is (enrichment). */
export interface GeoInfo {
  ip: string;
  country?: string;
  countryName?: string;
  city?: string;
  asn?: number;
  asOrg?: string;
  /** hosting / VPN / anonymizer infrastructure, when known. */
  hosting?: boolean;
}

export interface Detection {
  recordId: string;
  ruleId: string;
  behaviour: Behaviour;
  severity: Severity;
  tenantId: TenantId;
  userId: string;
  summary: string;
  attempt: boolean;
  /** The record's CreationTime (ISO-8601 UTC with Z). */
  occurredAt: string;
  /** Grouping key beyond tenant+user+rule: the rule name, destination address, app id … */
  target?: string;
  /** IP the action came from, when the record says. */
  clientIp?: string;
  /** Facts that made the rule fire (for the alert's evidence and `rules explain`). */
  facts?: Record<string, unknown>;
}
