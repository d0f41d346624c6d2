// Tenant exclusions (contracts §3) applied to detections: every field an exclusion gives must match.
import type { Detection, Exclusion } from '../model.ts';
import { ipInRanges } from './facts/ip.ts';

function destinations(d: Detection): string[] {
  const out: string[] = [];
  if (d.target) out.push(...d.target.split(','));
  for (const [k, v] of Object.entries(d.facts ?? {})) {
    if (Array.isArray(v) && /External|Destinations/.test(k)) for (const x of v) if (typeof x === 'string' && x.includes('@')) out.push(x);
  }
  return out.map((x) => x.trim().toLowerCase()).filter(Boolean);
}

/** `*@domain`, `*.domain`, or an exact address. */
function destinationMatches(pattern: string, value: string): boolean {
  const p = pattern.trim().toLowerCase();
  if (p.startsWith('*@')) {
    const at = value.lastIndexOf('@');
    return at >= 0 && value.slice(at + 1) === p.slice(2);
  }
  if (p.startsWith('*.')) {
    const at = value.lastIndexOf('@');
    const dom = at >= 0 ? value.slice(at + 1) : value;
    return dom === p.slice(2) || dom.endsWith(p.slice(1));
  }
  return p === value;
}

/** Whether one exclusion covers a detection (expired exclusions never do). */
export function exclusionMatches(e: Exclusion, d: Detection): boolean {
  if (e.expiresAt && Date.parse(e.expiresAt) < Date.parse(d.occurredAt)) return false;
  if (e.behaviour && e.behaviour !== d.behaviour) return false;
  if (e.ruleId && e.ruleId !== d.ruleId) return false;
  if (e.user && e.user.trim().toLowerCase() !== d.userId.toLowerCase() && e.user.trim() !== '*') return false;
  if (e.ipRange && !(d.clientIp && ipInRanges(d.clientIp, [e.ipRange]))) return false;
  if (e.destination) {
    const ds = destinations(d);
    if (ds.length === 0 || !ds.every((x) => destinationMatches(e.destination!, x))) return false;
  }
  return !!(e.behaviour || e.ruleId || e.user || e.ipRange || e.destination);
}

/** The first exclusion covering the detection, if any. */
export function matchingExclusion(exclusions: readonly Exclusion[], d: Detection): Exclusion | undefined {
  return exclusions.find((e) => exclusionMatches(e, d));
}
