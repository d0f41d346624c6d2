// Logging: pino, JSON by default, pretty on a terminal. Secrets, tokens, passwords and Authorization
// headers are redacted by path, and any string that looks like a bearer token or a URL password is
// scrubbed by the formatter as a second line of defence.
import pino, { type Logger, type DestinationStream } from 'pino';
import { SECRET_KEYS, redactUrlCredentials } from './config.ts';

export type { Logger };

const SCRUB = [
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs
  /\b(client_secret|client_assertion|password|newPassword|access_token|sig|token)=([^&\s"]+)/gi,
];

export function scrub(s: string): string {
  let out = redactUrlCredentials(s);
  out = out.replace(SCRUB[0], '$1 [redacted]');
  out = out.replace(SCRUB[1], '[redacted-jwt]');
  out = out.replace(SCRUB[2], '$1=[redacted]');
  return out;
}

function redactPaths(): string[] {
  const keys = [...SECRET_KEYS, 'newPassword', 'passwordProfile', 'clientAssertion', 'cookie', 'set-cookie'];
  const paths: string[] = [];
  for (const k of keys) {
    paths.push(k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`);
  }
  paths.push('req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.Authorization', '*.headers.authorization', 'res.headers["set-cookie"]');
  return paths;
}

export interface LogOptions {
  level?: string;
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const pretty = opts.pretty ?? (process.stderr.isTTY === true && !opts.destination);
  const base = {
    level: opts.level ?? 'info',
    redact: { paths: redactPaths(), censor: '[redacted]' },
    formatters: {
      log(obj: Record<string, unknown>) {
        return scrubDeep(obj) as Record<string, unknown>;
      },
    },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? scrub(a) : a)));
      },
    },
    serializers: {
      err: (e: unknown) => {
        const s = pino.stdSerializers.err(e as Error) as unknown as Record<string, unknown>;
        return scrubDeep(s);
      },
    },
  };
  if (opts.destination) return pino(base, opts.destination);
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino(base, pino.destination(2));
}

function scrubDeep(v: unknown, depth = 0): unknown {
  if (depth > 8) return v;
  if (typeof v === 'string') return scrub(v);
  if (Array.isArray(v)) return v.map((x) => scrubDeep(x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEYS.has(k) && x ? '[redacted]' : scrubDeep(x, depth + 1);
    return out;
  }
  return v;
}

/** A logger that discards everything (tests, quiet CLI paths). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
