// One table of coded operator errors. docs/errors.md is generated from it (`npm run docs:errors`) and a
// test keeps the two in step. Add a row here; never reuse or rename a code.

import { M365_ERRORS as m365Errors } from './m365/errors.ts';
import { TENANT_ERRORS as tenantErrors } from './tenants/errors.ts';
import { INGEST_ERRORS as ingestErrors } from './ingest/errors.ts';
import { DETECT_ERRORS as detectErrors } from './detect/errors.ts';
import { ALERT_ERRORS as alertErrors } from './alerts/errors.ts';
import { NOTIFY_ERRORS as notifyErrors } from './notify/errors.ts';
import { REMEDIATE_ERRORS as remediateErrors } from './remediate/errors.ts';
import { WEB_ERRORS as webErrors } from './web/errors.ts';

export interface ErrorSpec {
  /** Message template; {name} is replaced by the matching parameter. */
  message: string;
  /** Process exit code when the error ends a CLI command: 1 operational, 2 bad usage/configuration. */
  exit: 1 | 2;
  /** HTTP status when the error answers an API request. */
  http: number;
  /** What the operator can do about it. */
  hint: string;
}

export const ERRORS = {
  TW_CONFIG_INVALID: {
    message: 'the configuration has {count} problem(s)',
    exit: 2,
    http: 500,
    hint: 'Fix every listed problem; `tenantwatch config example` prints a commented example.',
  },
  TW_CONFIG_UNREADABLE: {
    message: 'cannot read configuration file {path}: {reason}',
    exit: 2,
    http: 500,
    hint: 'Check the path given with --config or TENANTWATCH_CONFIG.',
  },
  TW_USAGE: {
    message: '{detail}',
    exit: 2,
    http: 400,
    hint: 'Run the command with --help.',
  },
  TW_STORE_UNREACHABLE: {
    message: 'cannot connect to the store at {host}: {reason}',
    exit: 1,
    http: 503,
    hint: 'Check store.url (host, port, database) and that the database server is running.',
  },
  TW_STORE_URL_INVALID: {
    message: 'store.url {url} is not a sqlite: or postgres:// URL',
    exit: 2,
    http: 500,
    hint: 'Use sqlite:./data/tenantwatch.db or postgres://user@host:5432/db.',
  },
  TW_MIGRATION_FAILED: {
    message: 'migration {step} failed: {reason}',
    exit: 1,
    http: 500,
    hint: 'Earlier steps stay applied; fix the cause and run `tenantwatch db migrate` again.',
  },
  TW_NOT_FOUND: {
    message: '{what} not found',
    exit: 1,
    http: 404,
    hint: 'Check the identifier; list what exists with the matching `list` command.',
  },
  TW_INTERNAL: {
    message: 'internal error: {detail}',
    exit: 1,
    http: 500,
    hint: 'This is a bug; the log holds the details.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export type ErrorTable = Record<string, ErrorSpec>;

/** Each module owns its codes in `<module>/errors.ts` (plain data); this is the one explicit list. */
const moduleTables: ErrorTable[] = [
  m365Errors,
  tenantErrors,
  ingestErrors,
  detectErrors,
  alertErrors,
  notifyErrors,
  remediateErrors,
  webErrors,
];

let merged: ErrorTable | undefined;

export function allErrors(): ErrorTable {
  if (merged) return merged;
  const out: ErrorTable = { ...ERRORS };
  for (const table of moduleTables) {
    for (const [code, spec] of Object.entries(table)) {
      if (code in out) throw new Error(`duplicate error code ${code}`);
      out[code] = spec;
    }
  }
  merged = out;
  return out;
}

function render(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => (k in params ? String(params[k]) : `{${k}}`));
}

/** An expected, documented failure the operator can act on. Never carries secrets. */
export class OperatorError extends Error {
  readonly code: string;
  readonly exitCode: 1 | 2;
  readonly httpStatus: number;
  readonly hint: string;
  readonly details: readonly string[];
  /** Upstream code (AADSTS…, AF…, Graph error.code) when Microsoft said no. */
  readonly upstreamCode: string | undefined;

  constructor(
    code: string,
    params: Record<string, unknown> = {},
    opts: { details?: readonly string[]; upstreamCode?: string; cause?: unknown } = {},
  ) {
    const spec = allErrors()[code] ?? ERRORS.TW_INTERNAL;
    super(render(spec.message, params), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OperatorError';
    this.code = code;
    this.exitCode = spec.exit;
    this.httpStatus = spec.http;
    this.hint = spec.hint;
    this.details = opts.details ?? [];
    this.upstreamCode = opts.upstreamCode;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      ...(this.upstreamCode ? { upstreamCode: this.upstreamCode } : {}),
      ...(this.details.length ? { details: this.details } : {}),
    };
  }
}

export function twError(code: ErrorCode | (string & {}), params: Record<string, unknown> = {}, opts?: ConstructorParameters<typeof OperatorError>[2]): OperatorError {
  return new OperatorError(code, params, opts);
}

export function isOperatorError(e: unknown): e is OperatorError {
  return e instanceof OperatorError;
}

/** Markdown for docs/errors.md, generated from the table. */
export function errorsMarkdown(table: ErrorTable = allErrors()): string {
  const rows = Object.entries(table)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, s]) => `| \`${code}\` | ${s.message.replace(/\|/g, '\\|')} | ${s.exit} | ${s.http} | ${s.hint.replace(/\|/g, '\\|')} |`);
  return [
    '# Error codes',
    '',
    'Generated from `src/errors.ts` (and the tables modules register) by `npm run docs:errors`; a test fails when this',
    'file and the code disagree. Exit codes: 1 operational failure, 2 bad usage or configuration.',
    '',
    '| code | message | exit | HTTP | what to do |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
