// Injected faults (POST /_sim/faults): match requests by path (substring, or a glob with `*`), tenant
// and method, then answer with a status (+Retry-After), a delay, a dropped connection, a truncated or
// malformed body — `count` times, or until cleared.
import { z } from 'zod';

export const faultSchema = z.object({
  match: z.object({
    path: z.string().min(1).max(500).optional(),
    tenantId: z.string().min(1).max(100).optional(),
    method: z.string().min(1).max(10).optional(),
  }).strict().default({}),
  status: z.number().int().min(100).max(599).optional(),
  retryAfter: z.number().min(0).max(86_400).optional(),
  count: z.number().int().min(1).optional(),
  delayMs: z.number().int().min(0).max(600_000).optional(),
  dropConnection: z.boolean().optional(),
  truncateBody: z.boolean().optional(),
  malformedJson: z.boolean().optional(),
  /** Custom response body (any JSON, or a string sent as is) for `status`. */
  body: z.unknown().optional(),
}).strict();

export type FaultSpec = z.infer<typeof faultSchema>;
export interface Fault extends FaultSpec {
  id: string;
  remaining: number | null;
  hits: number;
}

/** Glob match without regular expressions: `*` matches any run of characters. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export function pathMatches(pattern: string, url: string): boolean {
  if (pattern.includes('*')) return globMatch(pattern, url) || globMatch(pattern, url.split('?')[0]!);
  return url.includes(pattern);
}

export interface Faults {
  add(spec: FaultSpec): Fault;
  remove(id: string): boolean;
  clear(): void;
  list(): Fault[];
  /** Finds the first fault matching a request and consumes one of its uses. */
  take(method: string, url: string, tenantId: string | undefined): Fault | undefined;
}

export function createFaults(): Faults {
  let faults: Fault[] = [];
  let next = 1;
  return {
    add(spec) {
      const f: Fault = { ...spec, id: `fault-${next++}`, remaining: spec.count ?? null, hits: 0 };
      faults.push(f);
      return f;
    },
    remove(id) {
      const before = faults.length;
      faults = faults.filter((f) => f.id !== id);
      return faults.length !== before;
    },
    clear() {
      faults = [];
    },
    list() {
      return faults.slice();
    },
    take(method, url, tenantId) {
      for (const f of faults) {
        const m = f.match;
        if (m.method && m.method.toUpperCase() !== method.toUpperCase()) continue;
        if (m.tenantId && (!tenantId || m.tenantId.toLowerCase() !== tenantId.toLowerCase())) continue;
        if (m.path && !pathMatches(m.path, url)) continue;
        f.hits++;
        if (f.remaining !== null) {
          f.remaining--;
          if (f.remaining <= 0) faults = faults.filter((x) => x !== f);
        }
        return f;
      }
      return undefined;
    },
  };
}
