// Recipients and external-ness. "External" is judged against the tenant's accepted domains, compared
// exactly (case-insensitive; a subdomain only when the accepted domain has matchSubdomains), never
// guessed from the user's own domain. Unknown context → 'unknown'.
import { domainToASCII } from 'node:url';
import type { TenantContext, KnownRecipient } from '../../model.ts';

export type RecipientKind = 'smtp' | 'legacyDn' | 'name';

export interface Recipient {
  /** What the record said for this recipient (trimmed, bounded). */
  raw: string;
  kind: RecipientKind;
  /** Lower-cased SMTP address when one is known (given, or resolved through the tenant's recipients). */
  address?: string;
  /** Lower-cased domain of `address`. */
  domain?: string;
  /** Set when a display name / alias was resolved through the tenant's recipients. */
  resolvedFrom?: string;
  /** The tenant recipient's type (MailContact, SharedMailbox …) when resolved. */
  recipientType?: string;
}

export type Externality = 'internal' | 'external' | 'unknown';

const MAX_RECIPIENTS = 64;
const MAX_VALUE = 8192;

/** A plausible `local@domain` (no spaces, one @, a dotted domain of hostname characters). */
export function parseSmtp(s: string): { address: string; domain: string } | undefined {
  let t = s.trim();
  if (t.length === 0 || t.length > 512) return undefined;
  if (t.length > 5 && (t.charCodeAt(4) === 58 || t.charCodeAt(4) === 58) && t.slice(0, 5).toLowerCase() === 'smtp:') t = t.slice(5).trim();
  if (t.startsWith('<') && t.endsWith('>')) t = t.slice(1, -1).trim();
  if (t.length > 7 && t.slice(0, 7).toLowerCase() === 'mailto:') t = t.slice(7);
  const at = t.lastIndexOf('@');
  if (at <= 0 || at === t.length - 1) return undefined;
  const local = t.slice(0, at);
  let domain = t.slice(at + 1).toLowerCase();
  if (/[\s<>()[\]",;:\\]/.test(domain) || /\s/.test(local)) return undefined;
  while (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (!/[^\x20-\x7e]/.test(domain)) {
    if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(domain)) return undefined;
  } else {
    const ascii = domainToASCII(domain);
    if (!ascii) return undefined;
    domain = ascii;
  }
  return { address: `${local.toLowerCase()}@${domain}`, domain };
}

function isLegacyDn(s: string): boolean {
  const t = s.trim().toLowerCase();
  return t.startsWith('ex:/o=') || t.startsWith('/o=') || t.startsWith('x500:/o=');
}

/** Splits one recipient value into its parts: ';' lists, bracket forms, comma lists of addresses. */
function splitValue(value: string): string[] {
  const out: string[] = [];
  const v = value.length > MAX_VALUE ? value.slice(0, MAX_VALUE) : value;
  for (const piece0 of v.split(/[;\r\n]+/)) {
    const piece = piece0.trim();
    if (!piece) continue;
    // `"Name" [SMTP:x@y]`, `Name [EX:/o=...]`, `Name <x@y>`: take what is inside the brackets.
    const bracketed: string[] = [];
    const re = /\[([^\]]{1,1024})\]|<([^>]{1,512})>/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(piece)) !== null && bracketed.length < MAX_RECIPIENTS) bracketed.push((m[1] ?? m[2]).trim());
    if (bracketed.length > 0) {
      out.push(...bracketed);
      continue;
    }
    if (piece.includes(',')) {
      const parts = piece
        .split(',')
        .map((p) => p.trim().replace(/^["']|["']$/g, ''))
        .filter(Boolean);
      if (parts.length > 1 && parts.every((p) => p.includes('@'))) {
        out.push(...parts);
        continue;
      }
    }
    out.push(piece.replace(/^["']+|["']+$/g, '').trim());
    if (out.length >= MAX_RECIPIENTS) break;
  }
  return out.slice(0, MAX_RECIPIENTS);
}

function resolveName(name: string, recipients: readonly KnownRecipient[]): KnownRecipient | undefined {
  const n = name.trim().toLowerCase();
  if (!n) return undefined;
  for (const r of recipients) {
    if (r.identity.toLowerCase() === n) return r;
  }
  for (const r of recipients) {
    const a = r.address.toLowerCase();
    if (a === n || a.split('@')[0] === n) return r;
  }
  return undefined;
}

/**
 * The recipients named by one or more recipient values (ForwardTo, RedirectTo, ForwardingAddress …):
 * ';' lists, `smtp:`/`SMTP:` prefixes, display forms `"Name" [SMTP:x@y]`, legacy Exchange DNs
 * (`[EX:/o=ExchangeLabs/...]`, internal by construction), and display names or aliases resolved
 * through the tenant's recipients.
 */
export function parseRecipients(values: string | readonly string[], ctx?: Pick<TenantContext, 'recipients'>): Recipient[] {
  const list = typeof values === 'string' ? [values] : values;
  const out: Recipient[] = [];
  const seen = new Set<string>();
  for (const value of list) {
    if (!value) continue;
    for (const part of splitValue(value)) {
      if (out.length >= MAX_RECIPIENTS) return out;
      const raw = part.length > 512 ? part.slice(0, 512) : part;
      let rec: Recipient;
      if (isLegacyDn(raw)) {
        rec = { raw, kind: 'legacyDn' };
        const resolved = ctx ? resolveName(legacyDnCommonName(raw), ctx.recipients) : undefined;
        if (resolved) Object.assign(rec, resolvedFields(resolved, raw));
      } else {
        const smtp = parseSmtp(raw);
        if (smtp) rec = { raw, kind: 'smtp', address: smtp.address, domain: smtp.domain };
        else {
          rec = { raw, kind: 'name' };
          const resolved = ctx ? resolveName(raw, ctx.recipients) : undefined;
          if (resolved) Object.assign(rec, resolvedFields(resolved, raw));
        }
      }
      const key = rec.address ?? `${rec.kind}:${raw.toLowerCase()}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(rec);
    }
  }
  return out;
}

function resolvedFields(r: KnownRecipient, from: string): Partial<Recipient> {
  const smtp = parseSmtp(r.address);
  return smtp ? { address: smtp.address, domain: smtp.domain, resolvedFrom: from, recipientType: r.type } : { resolvedFrom: from, recipientType: r.type };
}

function legacyDnCommonName(dn: string): string {
  const i = dn.toLowerCase().lastIndexOf('/cn=');
  if (i < 0) return '';
  let cn = dn.slice(i + 4);
  // Exchange Online DNs end with cn=<guid>-<alias>
  const dash = cn.lastIndexOf('-');
  if (/^[0-9a-f]{32}-/i.test(cn) && dash > 0) cn = cn.slice(dash + 1);
  return cn;
}

interface DomainIndex {
  exact: Set<string>;
  suffixes: string[];
}

const indexCache = new WeakMap<object, DomainIndex>();

function domainIndex(ctx: Pick<TenantContext, 'acceptedDomains'>): DomainIndex {
  let idx = indexCache.get(ctx);
  if (!idx) {
    idx = { exact: new Set(), suffixes: [] };
    for (const d of ctx.acceptedDomains) {
      let dom = d.domain.trim().toLowerCase();
      while (dom.endsWith('.')) dom = dom.slice(0, -1);
      if (dom.startsWith('*.')) {
        dom = dom.slice(2);
        idx.suffixes.push('.' + dom);
      } else if (d.matchSubdomains) idx.suffixes.push('.' + dom);
      idx.exact.add(dom);
    }
    indexCache.set(ctx, idx);
  }
  return idx;
}

/** Whether a domain is one of the tenant's accepted domains (exact, or a subdomain of a matchSubdomains one). */
export function isAcceptedDomain(domain: string, ctx: Pick<TenantContext, 'acceptedDomains'>): boolean {
  let d = domain.trim().toLowerCase();
  while (d.endsWith('.')) d = d.slice(0, -1);
  if (!d) return false;
  const idx = domainIndex(ctx);
  if (idx.exact.has(d)) return true;
  for (const s of idx.suffixes) if (d.length > s.length && d.endsWith(s)) return true;
  return false;
}

/** Internal / external / unknown for one recipient, against the tenant context. */
export function externality(r: Recipient, ctx: TenantContext | undefined): Externality {
  if (r.kind === 'legacyDn' && !r.address) return 'internal';
  if (!ctx || !ctx.known || ctx.acceptedDomains.length === 0) return 'unknown';
  if (!r.domain) return 'unknown';
  return isAcceptedDomain(r.domain, ctx) ? 'internal' : 'external';
}

/** The recipients that are outside the tenant (empty when the context is unknown). */
export function externalRecipients(rs: readonly Recipient[], ctx: TenantContext | undefined): Recipient[] {
  const out: Recipient[] = [];
  for (const r of rs) if (externality(r, ctx) === 'external') out.push(r);
  return out;
}

/** The best printable form of a recipient. */
export function recipientLabel(r: Recipient): string {
  return r.address ?? r.raw;
}
