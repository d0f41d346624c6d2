// Small key/value state for history-based rules (signin-anomaly, shared-destination). Detection reads
// and updates it through this interface; replay backs it with memory, the service with the store
// (detect_state), preloading the keys of a batch with historyKeys().
export interface HistoryKey {
  /** Tenant GUID, or '*' for state shared across tenants. */
  tenantId: string;
  key: string;
}

export interface History {
  get(tenantId: string, key: string): unknown;
  set(tenantId: string, key: string, value: unknown): void;
}

export const CROSS_TENANT = '*';

/** Per-user sign-in baseline. */
export interface SigninState {
  /** Successful sign-ins seen. */
  n: number;
  /** country code → last seen (epoch ms). */
  c: Record<string, number>;
  /** ASN → last seen. */
  a: Record<string, number>;
  /** IP → last seen (bounded). */
  i: Record<string, number>;
}

/** Who forwarded to one external address (cross-tenant). */
export interface DestinationState {
  e: Array<{ t: string; u: string; at: number }>;
}

export const MAX_IPS = 64;
export const MAX_COUNTRIES = 32;
export const MAX_ASNS = 64;
export const MAX_DEST_ENTRIES = 50;
export const SHARED_WINDOW_MS = 7 * 24 * 3600 * 1000;

export function signinKey(userId: string): string {
  return `signin:${userId.toLowerCase()}`;
}

export function destinationKey(address: string): string {
  return `dest:${address.toLowerCase()}`;
}

/** A mail contact created in the audit log: its name/alias → external address (resolves ForwardingAddress). */
export function contactKey(name: string): string {
  return `contact:${name.trim().toLowerCase()}`;
}

const SIGNIN_OPS = new Set(['userloggedin', 'userloginfailed']);
export function isSigninOperation(op: string): boolean {
  return SIGNIN_OPS.has(op.toLowerCase());
}

/** In-memory history (replay, tests) that remembers which keys changed. */
export function createMemoryHistory(): History & { dirty(): Array<HistoryKey & { value: unknown }>; size(): number } {
  const map = new Map<string, unknown>();
  const changed = new Set<string>();
  const k = (t: string, key: string) => `${t}\u0000${key}`;
  return {
    get: (t, key) => map.get(k(t, key)),
    set: (t, key, value) => {
      map.set(k(t, key), value);
      changed.add(k(t, key));
    },
    dirty: () => {
      const out = [...changed].map((c) => {
        const [tenantId, key] = c.split('\u0000');
        return { tenantId, key, value: map.get(c) };
      });
      changed.clear();
      return out;
    },
    size: () => map.size,
  };
}

/** Drops the oldest entries of a last-seen map beyond a bound. */
export function pruneMap(m: Record<string, number>, max: number): void {
  const keys = Object.keys(m);
  if (keys.length <= max) return;
  keys.sort((a, b) => m[a] - m[b]);
  for (let i = 0; i < keys.length - max; i++) delete m[keys[i]];
}
