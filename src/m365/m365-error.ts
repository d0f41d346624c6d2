// The error every Microsoft failure becomes: a coded OperatorError plus what the caller needs to branch
// on (the Microsoft code, the HTTP status, whether a retry could help). Never carries a token or body.
import { OperatorError } from '../errors.ts';
import { scrub } from '../log.ts';

export type M365Resource = 'login' | 'management' | 'graph' | 'exchange';

export interface M365ErrorInit {
  resource: M365Resource;
  tenantId: string;
  status?: number;
  upstreamCode?: string;
  /** Microsoft's message, scrubbed and shortened. */
  upstreamMessage?: string;
  retryable?: boolean;
  details?: string[];
  cause?: unknown;
  /** What to do about it, when more specific than the code's hint (e.g. the consent URL). */
  fix?: string;
}

export class M365Error extends OperatorError {
  readonly resource: M365Resource;
  readonly tenantId: string;
  readonly status: number | undefined;
  readonly upstreamMessage: string | undefined;
  readonly retryable: boolean;
  readonly fix: string | undefined;

  constructor(code: string, params: Record<string, unknown>, init: M365ErrorInit) {
    const safe: Record<string, unknown> = {};
    for (const [k, v] of Object.entries({ resource: init.resource, tenantId: init.tenantId, status: init.status ?? '-', ...params })) {
      safe[k] = typeof v === 'string' ? scrub(v) : v;
    }
    super(code, safe, {
      upstreamCode: init.upstreamCode,
      details: (init.details ?? []).map(scrub),
      cause: init.cause,
    });
    this.name = 'M365Error';
    this.resource = init.resource;
    this.tenantId = init.tenantId;
    this.status = init.status;
    this.upstreamMessage = init.upstreamMessage === undefined ? undefined : shorten(scrub(init.upstreamMessage));
    this.retryable = init.retryable ?? false;
    this.fix = init.fix;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      resource: this.resource,
      tenantId: this.tenantId,
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.fix ? { fix: this.fix } : {}),
    };
  }
}

export function isM365Error(e: unknown): e is M365Error {
  return e instanceof M365Error;
}

/** Microsoft messages can be long (stack-like Exchange texts); keep the first line, bounded. */
export function shorten(s: string, max = 300): string {
  const first = s.split(/\r?\n/, 1)[0] ?? '';
  return first.length > max ? `${first.slice(0, max)}…` : first;
}
