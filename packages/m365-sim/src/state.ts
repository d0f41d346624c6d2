// A tenant's directory and mailbox state, built deterministically from its world entry and a seed.
import { createHash, randomUUID } from 'node:crypto';
import type { SimAcceptedDomain, SimInboxRule, SimMailbox, SimRecipient, SimTenant, SimTransportRule, SimUser, WorldTenant } from './types.ts';

/** Every app role tenantwatch needs; granted by default where the app is consented. */
export const DEFAULT_APP_ROLES: readonly string[] = [
  'ActivityFeed.Read',
  'Organization.Read.All',
  'Domain.Read.All',
  'User.Read.All',
  'User.EnableDisableAccount.All',
  'User.RevokeSessions.All',
  'User-PasswordProfile.ReadWrite.All',
  'MailboxSettings.ReadWrite',
  'AuditLog.Read.All',
  'Directory.Read.All',
  'DelegatedPermissionGrant.ReadWrite.All',
  'DelegatedAdminRelationship.Read.All',
  'Exchange.ManageAsApp',
];

/** A small deterministic generator (mulberry32). */
export interface Rng {
  next(): number; // [0,1)
  int(max: number): number; // [0,max)
  u32(): number;
  pick<T>(items: readonly T[]): T;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const u32 = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    u32,
    next: () => u32() / 4294967296,
    int: (max) => Math.floor((u32() / 4294967296) * max),
    pick: (items) => items[Math.floor((u32() / 4294967296) * items.length)],
  };
}

/** A 32-bit seed derived from text (tenant id …) and a number. */
export function seedFrom(text: string, seed = 0): number {
  const h = createHash('sha256').update(`${seed}:${text}`).digest();
  return h.readUInt32BE(0);
}

const hex = (rng: Rng, n: number): string => {
  let s = '';
  while (s.length < n) s += rng.u32().toString(16).padStart(8, '0');
  return s.slice(0, n);
};

/** A version-4 shaped GUID from the generator. */
export function guid(rng: Rng): string {
  const h = hex(rng, 32);
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** An Exchange RuleIdentity: unsigned 64-bit, always above 2^53, as a decimal string. */
export function ruleIdentity(rng: Rng): string {
  const hi = BigInt(0x00200000 + (rng.u32() % (0xffffffff - 0x00200000)));
  const lo = BigInt(rng.u32());
  return ((hi << 32n) | lo).toString();
}

/** A Graph messageRule id: opaque base64 of 8 bytes (`AQAAAJ5dZqA=`-like), derived from the RuleIdentity. */
export function graphRuleId(ruleIdent: string): string {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(Number(BigInt(ruleIdent) & 0xffffffffn), 4);
  return b.toString('base64');
}

/** A PUID like `10032D8CE35C6F6F`, stable per object id. */
export function puidOf(objectId: string): string {
  return `1003${createHash('sha1').update(objectId).digest('hex').slice(0, 12).toUpperCase()}`;
}

/** A SID like `S-1-5-21-…`, stable per object id. */
export function sidOf(objectId: string): string {
  const h = createHash('sha1').update(`sid:${objectId}`).digest();
  return `S-1-5-21-${h.readUInt32BE(0)}-${h.readUInt32BE(4)}-${h.readUInt32BE(8)}-${h.readUInt32BE(12) % 100000000}`;
}

/** The tenant's initial `*.onmicrosoft.com` domain (derived from its name when the world gives none). */
export function initialDomainOf(t: Pick<SimTenant, 'domains' | 'name'>): string {
  const found = t.domains.find((d) => d.toLowerCase().endsWith('.onmicrosoft.com'));
  if (found) return found.toLowerCase();
  const slug = t.name.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 27) || 'tenant';
  return `${slug}.onmicrosoft.com`;
}

/** The default (first non-initial) domain. */
export function defaultDomainOf(t: Pick<SimTenant, 'domains' | 'name'>): string {
  return t.domains.find((d) => !d.toLowerCase().endsWith('.onmicrosoft.com'))?.toLowerCase() ?? initialDomainOf(t);
}

/** Datacenter names used in Exchange record ObjectIds and OriginatingServer, stable per tenant. */
export function exchangeForest(tenantId: string): { forest: string; server: () => string } {
  const h = createHash('sha1').update(`forest:${tenantId}`).digest();
  const regions = ['EURPR04A010', 'NAMPR03A004', 'FRAP264A010', 'GBRP123A002', 'APCPR01A005'];
  const prefixes = ['DB9PR04MB', 'AM9PR04MB', 'PR1P264MB', 'CH2PR11MB', 'SY4PR01MB'];
  const i = h[0] % regions.length;
  let n = h.readUInt16BE(2);
  return {
    forest: `${regions[i]}.PROD.OUTLOOK.COM`,
    server: () => {
      n = (n * 7 + 13) % 10000;
      return `${prefixes[i]}${String(n).padStart(4, '0')} (15.20.${8000 + (n % 600)}.${String(n % 40).padStart(3, '0')})`;
    },
  };
}

function displayNameFromUpn(upn: string): string {
  const local = upn.split('@')[0] ?? upn;
  return local
    .split(/[._-]+/)
    .filter(Boolean)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join(' ');
}

export function emptyRule(rng: Rng, name: string, priority: number): SimInboxRule {
  const ident = ruleIdentity(rng);
  return {
    graphId: graphRuleId(ident),
    ruleIdentity: ident,
    name,
    enabled: true,
    hidden: false,
    priority,
    conditions: {},
    forwardTo: [],
    forwardAsAttachmentTo: [],
    redirectTo: [],
    deleteMessage: false,
    moveToFolder: null,
    markAsRead: false,
    stopProcessingRules: false,
  };
}

/**
 * Tenants built in this process, weakly held, with their GDAP state: lets the partner's view list the
 * world's tenants when the core gives no `listTenants` (callers keep only those their context owns).
 */
const built: Array<WeakRef<SimTenant>> = [];

export function builtTenants(): SimTenant[] {
  const out: SimTenant[] = [];
  for (let i = built.length - 1; i >= 0; i--) {
    const t = built[i].deref();
    if (t) out.push(t);
    else built.splice(i, 1);
  }
  return out.reverse();
}

/** Builds a tenant's full state. Same entry and seed → same state. */
export function createTenant(entry: WorldTenant, seed: number): SimTenant {
  const tenant = buildTenant(entry, seed);
  built.push(new WeakRef(tenant));
  return tenant;
}

/** Users and mailboxes (the bulk of a tenant), from their own seeded stream so they can be built lazily. */
function buildDirectory(entry: WorldTenant, seed: number): { users: SimUser[]; mailboxes: Map<string, SimMailbox> } {
  const rng = createRng(seedFrom(`${entry.id}:directory`, seed));
  const users: SimUser[] = entry.users.map((u) => ({
    id: guid(rng),
    upn: u.upn.toLowerCase(),
    displayName: u.displayName ?? displayNameFromUpn(u.upn),
    mail: u.upn.toLowerCase(),
    accountEnabled: true,
    sessionsRevokedAt: null,
    passwordChangedAt: null,
    forceChangePasswordNextSignIn: false,
    federated: u.federated ?? false,
    isAdmin: u.admin ?? false,
    usageLocation: 'US',
  }));

  const mailboxes = new Map<string, SimMailbox>();
  for (const u of users) {
    const rules: SimInboxRule[] = [];
    // Exchange's own hidden system rule: visible only with Get-InboxRule -IncludeHidden.
    const junk = emptyRule(rng, 'Junk E-mail Rule', 0);
    junk.hidden = true;
    junk.moveToFolder = 'Junk Email';
    rules.push(junk);
    const roll = rng.next();
    const worldRules = (entry.inboxRules ?? []).some((r) => r.user.toLowerCase() === u.upn);
    if (worldRules) {
      // The world names this mailbox's rules itself.
    } else if (roll < 0.35) {
      const r = emptyRule(rng, 'Newsletters', rules.length);
      r.conditions = { FromAddressContainsWords: ['newsletter'] };
      r.moveToFolder = 'Newsletters';
      rules.push(r);
    } else if (roll < 0.55) {
      const r = emptyRule(rng, 'Receipts', rules.length);
      r.conditions = { SubjectContainsWords: ['receipt', 'order confirmation'] };
      r.moveToFolder = 'Receipts';
      r.markAsRead = true;
      rules.push(r);
    }
    mailboxes.set(u.upn, {
      upn: u.upn,
      guid: guid(rng),
      primarySmtpAddress: u.upn,
      forwardingSmtpAddress: null,
      forwardingAddress: null,
      deliverToMailboxAndForward: false,
      owaEnabled: true,
      rules,
    });
  }
  for (const wr of entry.inboxRules ?? []) {
    const mb = mailboxes.get(wr.user.toLowerCase());
    if (!mb) continue;
    const r = emptyRule(rng, wr.name, mb.rules.filter((x) => !x.hidden).length + 1);
    r.hidden = wr.hidden ?? false;
    r.forwardTo = wr.forwardTo ?? [];
    r.moveToFolder = wr.moveToFolder ?? null;
    r.deleteMessage = wr.deleteMessage ?? false;
    r.markAsRead = wr.markAsRead ?? false;
    if (wr.subjectContainsWords?.length) r.conditions.SubjectContainsWords = wr.subjectContainsWords;
    mb.rules.push(r);
  }

  return { users, mailboxes };
}

/** Defines `key` as a value computed on first read (or replaced on first write). */
function lazy<T extends object>(obj: T, key: keyof T & string, make: () => unknown): void {
  const settle = (value: unknown): void => {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  };
  Object.defineProperty(obj, key, {
    configurable: true,
    enumerable: true,
    get() {
      const v = make();
      settle(v);
      return v;
    },
    set(v: unknown) {
      settle(v);
    },
  });
}

function buildTenant(entry: WorldTenant, seed: number): SimTenant {
  const rng = createRng(seedFrom(entry.id, seed));
  const domains = entry.domains.map((d) => d.toLowerCase());
  const base = { domains, name: entry.name };
  const initial = initialDomainOf(base);
  const allDomains = domains.includes(initial) ? domains : [...domains, initial];
  const primary = defaultDomainOf(base);

  const recipients: SimRecipient[] = (entry.recipients ?? []).map((r) => ({
    identity: r.identity,
    alias: r.identity.replace(/[^A-Za-z0-9]/g, '').slice(0, 64) || 'contact',
    recipientTypeDetails: r.type,
    primarySmtpAddress: r.address.toLowerCase(),
    externalEmailAddress: r.type === 'MailContact' || r.type === 'MailUser' ? `SMTP:${r.address}` : null,
  }));
  if (!recipients.some((r) => r.recipientTypeDetails === 'MailContact')) {
    recipients.push({
      identity: 'External Accountant',
      alias: 'ExternalAccountant',
      recipientTypeDetails: 'MailContact',
      primarySmtpAddress: 'books@accounting-partner.example',
      externalEmailAddress: 'SMTP:books@accounting-partner.example',
    });
  }

  const acceptedDomains: SimAcceptedDomain[] = entry.acceptedDomains?.length
    ? entry.acceptedDomains.map((d) => ({
        domainName: d.domain.toLowerCase(),
        domainType: 'Authoritative',
        default: d.domain.toLowerCase() === primary,
        matchSubDomains: d.matchSubdomains ?? false,
      }))
    : allDomains.map((d) => ({ domainName: d, domainType: 'Authoritative', default: d === primary, matchSubDomains: false }));
  if (!acceptedDomains.some((d) => d.default) && acceptedDomains.length) acceptedDomains[0].default = true;

  const transportRules: SimTransportRule[] = [
    { name: 'External sender disclaimer', state: 'Enabled', mode: 'Enforce', priority: 0, blindCopyTo: [], redirectMessageTo: [], copyTo: [] },
  ];

  const tenant = {
    id: entry.id,
    name: entry.name,
    domains: allDomains,
    consented: entry.consented,
    roles: entry.roles ? [...entry.roles] : entry.consented ? [...DEFAULT_APP_ROLES] : [],
    canResetPasswords: entry.canResetPasswords ?? true,
    canResetAdminPasswords: entry.canResetAdminPasswords ?? false,
    gdap: entry.gdap,
    auditLogEnabled: entry.auditLogEnabled,
    auditLogEffectiveAt: 0,
    hasP1: entry.hasP1 ?? true,
    users: [] as SimUser[],
    mailboxes: new Map<string, SimMailbox>(),
    recipients,
    acceptedDomains,
    transportRules,
    subscriptions: new Map(),
    signIns: [],
    oauthGrants: [],
    appServicePrincipalId: guid(rng),
  };
  // Users and mailboxes are built on first use: a generated world can hold thousands of tenants that
  // only the Management API ever touches.
  let dir: ReturnType<typeof buildDirectory> | undefined;
  const directory = (): ReturnType<typeof buildDirectory> => (dir ??= buildDirectory(entry, seed));
  lazy(tenant, 'users', () => directory().users);
  lazy(tenant, 'mailboxes', () => directory().mailboxes);
  return tenant;
}

/** Finds a user by object id, UPN or mail (case-insensitive). */
export function findUser(t: SimTenant, key: string): SimUser | undefined {
  const k = key.toLowerCase();
  return t.users.find((u) => u.id === k || u.upn === k || u.mail.toLowerCase() === k);
}

/**
 * Finds a mailbox the way Exchange resolves an Identity: UPN/address, GUID, alias (local part),
 * display name or object id.
 */
export function findMailbox(t: SimTenant, key: string): SimMailbox | undefined {
  const k = key.trim().toLowerCase();
  const direct = t.mailboxes.get(k);
  if (direct) return direct;
  for (const mb of t.mailboxes.values()) {
    if (mb.guid === k || mb.primarySmtpAddress === k || mb.upn.split('@')[0] === k) return mb;
  }
  const u = t.users.find((x) => x.id === k || x.displayName.toLowerCase() === k);
  return u ? t.mailboxes.get(u.upn) : undefined;
}

export function userOfMailbox(t: SimTenant, mb: SimMailbox): SimUser | undefined {
  return t.users.find((u) => u.upn === mb.upn);
}

/** A new runtime id (request ids, record ids): not part of the seeded state. */
export function newId(): string {
  return randomUUID();
}

/** A new inbox rule at runtime (scenarios, New-InboxRule), with RuleIdentity above 2^53. */
export function newRule(t: SimTenant, mb: SimMailbox, name: string): SimInboxRule {
  const rng = createRng(seedFrom(`${t.id}:${mb.guid}:${name}:${mb.rules.length}:${randomUUID()}`));
  return emptyRule(rng, name, mb.rules.filter((r) => !r.hidden).length + 1);
}

/** A new GUID at runtime. */
export function runtimeGuid(): string {
  return randomUUID();
}

/** Object id of the Microsoft Graph service principal in a tenant (the resourceId of Graph grants), stable per tenant. */
export function graphServicePrincipalId(t: Pick<SimTenant, 'id'>): string {
  const h = createHash('sha256').update(`graph-sp:${t.id}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
