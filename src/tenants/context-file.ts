// The tenant context file (contracts §3): one YAML file describing one or more tenants' accepted
// domains, recipients, trusted IPs and exclusions. Every problem is listed, with its path.
import YAML from 'yaml';
import { z } from 'zod';
import { BEHAVIOURS, type TenantContext } from '../model.ts';
import { parseCidr } from '../detect/facts/ip.ts';

const domainName = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .transform((s) => s.toLowerCase().replace(/\.+$/, ''))
  .refine((s) => /^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)+$/.test(s) || /^xn--/.test(s), 'not a domain name');

const acceptedDomain = z.union([
  domainName,
  z.object({ domain: domainName, matchSubdomains: z.boolean().default(false) }).strict(),
]);

const cidr = z
  .string()
  .trim()
  .refine((s) => parseCidr(s) !== undefined, 'not an IP address or CIDR range (203.0.113.0/24, 2001:db8::/32)');

const exclusion = z
  .object({
    id: z.string().optional(),
    behaviour: z.enum(BEHAVIOURS).optional(),
    ruleId: z.string().optional(),
    user: z.string().optional(),
    destination: z.string().optional(),
    ipRange: cidr.optional(),
    reason: z.string().optional(),
    expiresAt: z.string().optional(),
  })
  .strict()
  .refine((e) => e.behaviour || e.ruleId || e.user || e.destination || e.ipRange, 'an exclusion needs at least one of behaviour, ruleId, user, destination, ipRange');

const tenant = z
  .object({
    id: z
      .string()
      .trim()
      .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected the tenant GUID (OrganizationId)'),
    name: z.string().trim().min(1).optional(),
    acceptedDomains: z.array(acceptedDomain).min(1, 'list at least one accepted domain'),
    recipients: z
      .array(z.object({ identity: z.string().min(1), address: z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'expected an SMTP address'), type: z.string().default('MailContact') }).strict())
      .default([]),
    trustedIps: z.array(cidr).default([]),
    exclusions: z.array(exclusion).default([]),
  })
  .strict();

const file = z.object({ tenants: z.array(tenant).min(1, 'list at least one tenant') }).strict();

/** Parses a tenant context file; `problems` lists every problem (path: message); tenants only when there are none. */
export function parseTenantContextFile(text: string): { tenants: TenantContext[]; problems: string[] } {
  let data: unknown;
  try {
    data = YAML.parse(text.replace(/^\uFEFF/, ''), { maxAliasCount: 100 });
  } catch (e) {
    return { tenants: [], problems: [`not YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
  const r = file.safeParse(data);
  if (!r.success) {
    return { tenants: [], problems: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`) };
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  const tenants: TenantContext[] = r.data.tenants.map((t, i) => {
    const id = t.id.toLowerCase();
    if (seen.has(id)) problems.push(`tenants.${i}.id: tenant ${id} is listed twice`);
    seen.add(id);
    return {
      tenantId: id,
      name: t.name ?? id,
      acceptedDomains: t.acceptedDomains.map((d) => (typeof d === 'string' ? { domain: d, matchSubdomains: false } : { domain: d.domain, matchSubdomains: d.matchSubdomains })),
      recipients: t.recipients.map((x) => ({ identity: x.identity, address: x.address, type: x.type })),
      trustedIps: t.trustedIps,
      exclusions: t.exclusions,
      known: true,
    };
  });
  return problems.length ? { tenants: [], problems } : { tenants, problems };
}

/** A context for a tenant with only --accepted-domains known (replay). */
export function contextFromDomains(tenantId: string, domains: readonly string[]): TenantContext {
  const list = domains.map((d) => d.trim().toLowerCase()).filter(Boolean);
  return {
    tenantId,
    name: tenantId,
    acceptedDomains: list.map((d) => (d.startsWith('*.') ? { domain: d.slice(2), matchSubdomains: true } : { domain: d, matchSubdomains: false })),
    recipients: [],
    trustedIps: [],
    exclusions: [],
    known: list.length > 0,
  };
}
