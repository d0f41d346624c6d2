// Signed "Secure and Remediate" links: HMAC-SHA256 over a small JSON payload, bound to one alert (and its
// tenant and user) and a set of steps, expiring, single-use through a nonce the store records at use.
// Verifying a link never changes anything; only the confirmation POST records the nonce.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.ts';
import { OperatorError } from '../errors.ts';
import { STEP_IDS, orderSteps, type StepId } from './catalogue.ts';

const VERSION = 'v1';
const DOMAIN = 'tenantwatch-remediate-link-v1';
/** Tokens longer than this are refused before any parsing (hostile input is bounded). */
export const MAX_TOKEN_LENGTH = 2048;

export interface LinkClaims {
  alertId: string;
  steps: StepId[];
  nonce: string;
  /** ISO-8601 UTC. */
  issuedAt: string;
  expiresAt: string;
}

export interface SignedLink {
  token: string;
  /** `${web.publicUrl}/remediate/${token}` when the config has a public URL. */
  url?: string;
  nonce: string;
  expiresAt: string;
}

export type LinkConfig = { remediate: Pick<Config['remediate'], 'linkSecret' | 'linkTtlHours'>; web?: Pick<Config['web'], 'publicUrl'> };

export type LinkProblem = 'malformed' | 'bad-signature' | 'expired' | 'not-yet-valid';

export type LinkVerdict = { ok: true; claims: LinkClaims } | { ok: false; reason: LinkProblem };

function secretOf(config: LinkConfig): string {
  const s = config.remediate.linkSecret;
  if (!s) throw new OperatorError('TW_REMEDIATE_NO_LINK_SECRET');
  return s;
}

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(`${DOMAIN}.${payload}`).digest();
}

/**
 * Signs a link for one alert and a set of steps (the alert fixes tenant and user). `ttlHours` defaults to `remediate.linkTtlHours` (24 h).
 * Notifications put `url` (or `/remediate/<token>` under the console's address) behind their button.
 */
export function signRemediationLink(
  config: LinkConfig,
  input: { alertId: string; steps: readonly StepId[] },
  opts: { ttlHours?: number; now?: Date } = {},
): SignedLink {
  const secret = secretOf(config);
  const now = opts.now ?? new Date();
  const ttlMs = (opts.ttlHours ?? config.remediate.linkTtlHours ?? 24) * 3_600_000;
  const nonce = randomBytes(16).toString('base64url');
  // Compact (the token travels in a URL path): steps as a bit mask over the catalogue order.
  const payload = {
    a: input.alertId,
    s: orderSteps(input.steps).reduce((m, st) => m | (1 << STEP_IDS.indexOf(st)), 0),
    n: nonce,
    i: Math.floor(now.getTime() / 1000),
    e: Math.floor((now.getTime() + ttlMs) / 1000),
  };
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  const token = `${VERSION}.${body}.${mac(secret, body).toString('base64url')}`;
  const base = config.web?.publicUrl?.replace(/\/+$/, '');
  return {
    token,
    ...(base ? { url: `${base}/remediate/${token}` } : {}),
    nonce,
    expiresAt: new Date(payload.e * 1000).toISOString(),
  };
}

/** Checks form, signature (constant time) and lifetime. Single use is checked against the store by the caller. */
export function verifyRemediationLink(config: LinkConfig, token: string, opts: { now?: Date } = {}): LinkVerdict {
  const secret = secretOf(config);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !/^[A-Za-z0-9_-]+$/.test(parts[1]) || !/^[A-Za-z0-9_-]+$/.test(parts[2])) {
    return { ok: false, reason: 'malformed' };
  }
  const given = Buffer.from(parts[2], 'base64url');
  const want = mac(secret, parts[1]);
  if (given.length !== want.length || !timingSafeEqual(given, want)) return { ok: false, reason: 'bad-signature' };
  let p: unknown;
  try {
    p = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const o = p as Record<string, unknown>;
  if (
    !o || typeof o !== 'object' ||
    typeof o.a !== 'string' || typeof o.n !== 'string' || typeof o.i !== 'number' || typeof o.e !== 'number' ||
    typeof o.s !== 'number' || !Number.isInteger(o.s) || o.s <= 0 || o.s >= 1 << STEP_IDS.length
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const nowS = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (nowS >= o.e) return { ok: false, reason: 'expired' };
  // Small clock skew between the signing and the verifying host is tolerated.
  if (o.i > nowS + 300) return { ok: false, reason: 'not-yet-valid' };
  return {
    ok: true,
    claims: {
      alertId: o.a,
      steps: STEP_IDS.filter((_, i) => ((o.s as number) & (1 << i)) !== 0),
      nonce: o.n,
      issuedAt: new Date(o.i * 1000).toISOString(),
      expiresAt: new Date(o.e * 1000).toISOString(),
    },
  };
}

/**
 * The CSRF token of a link's confirmation form: bound to the link (its nonce) and to the random value in
 * the browser's `tw_rl` cookie, so a forged cross-site POST lacks it and a token from one link cannot
 * confirm another.
 */
export function linkCsrfToken(config: LinkConfig, nonce: string, cookieValue: string): string {
  return createHmac('sha256', secretOf(config)).update(`tenantwatch-remediate-csrf-v1.${nonce}.${cookieValue}`).digest('base64url');
}

export function checkLinkCsrf(config: LinkConfig, nonce: string, cookieValue: string | undefined, given: unknown): boolean {
  if (!cookieValue || typeof given !== 'string' || given.length > 200) return false;
  const want = Buffer.from(linkCsrfToken(config, nonce, cookieValue));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}
