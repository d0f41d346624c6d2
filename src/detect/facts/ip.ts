// IP helpers without I/O: parse IPv4/IPv6 to bigint, CIDR membership, reserved ranges.

/** An IP (already normalized: no port/brackets) → [version, value], or undefined. */
export function ipToBigInt(ip: string): { v: 4 | 6; n: bigint } | undefined {
  if (ip.includes('.') && !ip.includes(':')) {
    const parts = ip.split('.');
    if (parts.length !== 4) return undefined;
    let n = 0n;
    for (const p of parts) {
      if (!/^\d{1,3}$/.test(p)) return undefined;
      const x = Number(p);
      if (x > 255) return undefined;
      n = (n << 8n) | BigInt(x);
    }
    return { v: 4, n };
  }
  if (!ip.includes(':')) return undefined;
  let s = ip.toLowerCase();
  // embedded IPv4 tail
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  if (v4) {
    const t = ipToBigInt(v4[1]);
    if (!t) return undefined;
    const hi = Number((t.n >> 16n) & 0xffffn).toString(16);
    const lo = Number(t.n & 0xffffn).toString(16);
    s = s.slice(0, s.length - v4[1].length) + `${hi}:${lo}`;
  }
  const dbl = s.split('::');
  if (dbl.length > 2) return undefined;
  const head = dbl[0] ? dbl[0].split(':') : [];
  const tail = dbl.length === 2 && dbl[1] ? dbl[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (dbl.length === 1 ? head.length !== 8 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(dbl.length === 2 ? missing : 0).fill('0'), ...tail];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return { v: 6, n };
}

export interface Cidr {
  v: 4 | 6;
  base: bigint;
  bits: number;
}

/** '203.0.113.0/24', '2001:db8::/32' or a single address → Cidr, or undefined. */
export function parseCidr(s: string): Cidr | undefined {
  const [addr, len] = s.trim().split('/');
  const ip = ipToBigInt(addr);
  if (!ip) return undefined;
  const max = ip.v === 4 ? 32 : 128;
  const bits = len === undefined ? max : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return undefined;
  const shift = BigInt(max - bits);
  return { v: ip.v, base: (ip.n >> shift) << shift, bits };
}

export function inCidr(ip: { v: 4 | 6; n: bigint }, c: Cidr): boolean {
  if (ip.v !== c.v) return false;
  const shift = BigInt((c.v === 4 ? 32 : 128) - c.bits);
  return (ip.n >> shift) << shift === c.base;
}

/** A dotted quad → unsigned 32-bit number, or -1 (no allocation). */
export function ipv4ToNumber(ip: string): number {
  let parts = 0;
  let digits = 0;
  let value = 0;
  let acc = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++parts > 3) return -1;
      acc = acc * 256 + value;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return -1;
    } else return -1;
  }
  if (parts !== 3 || digits === 0) return -1;
  return acc * 256 + value;
}

interface FastCidr {
  v4: boolean;
  /** IPv4: network and mask as numbers */
  base4: number;
  size4: number;
  c?: Cidr;
}

const cidrCache = new Map<string, FastCidr | null>();

function fastCidr(r: string): FastCidr | null {
  let f = cidrCache.get(r);
  if (f === undefined) {
    const c = parseCidr(r);
    f = c ? (c.v === 4 ? { v4: true, base4: Number(c.base), size4: 2 ** (32 - c.bits) } : { v4: false, base4: 0, size4: 0, c }) : null;
    if (cidrCache.size < 10000) cidrCache.set(r, f);
  }
  return f;
}

/** Whether an IP falls in any of the CIDR ranges (unparseable ranges are ignored). */
export function ipInRanges(ip: string, ranges: readonly string[]): boolean {
  if (!ip || ranges.length === 0) return false;
  const n4 = ipv4ToNumber(ip);
  if (n4 >= 0) {
    for (const r of ranges) {
      const f = fastCidr(r);
      if (f && f.v4 && n4 >= f.base4 && n4 < f.base4 + f.size4) return true;
    }
    return false;
  }
  const parsed = ipToBigInt(ip);
  if (!parsed) return false;
  for (const r of ranges) {
    const f = fastCidr(r);
    if (f && !f.v4 && f.c && inCidr(parsed, f.c)) return true;
  }
  return false;
}

const RESERVED = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24', '192.0.2.0/24',
  '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/3',
  '::/128', '::1/128', 'fc00::/7', 'fe80::/10', '2001:db8::/32', 'ff00::/8', '64:ff9b::/96',
];

/** Private, loopback, link-local, documentation and other non-routable addresses (no geography). */
export function isReservedIp(ip: string): boolean {
  return ipInRanges(ip, RESERVED);
}
