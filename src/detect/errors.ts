// Coded operator errors owned by detect/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const DETECT_ERRORS = {
  TW_RULES_INVALID: {
    message: 'the rule pack has {count} problem(s)',
    exit: 2,
    http: 500,
    hint: 'Fix every listed rule file (schema in docs/rules.md); `tenantwatch rules list` shows what loaded.',
  },
  TW_RULE_NOT_FOUND: {
    message: 'no rule with id {id}',
    exit: 2,
    http: 404,
    hint: '`tenantwatch rules list` shows the rule ids.',
  },
  TW_RULE_CASES_FAILED: {
    message: '{failed} of {total} rule case(s) failed',
    exit: 1,
    http: 500,
    hint: 'Each failing case is listed with what happened; fix the rule or the case.',
  },
  TW_REPLAY_NO_INPUT: {
    message: 'no audit records could be read from {paths}',
    exit: 1,
    http: 400,
    hint: 'Give JSON (a content blob array), JSON lines or a Purview audit CSV export, or a directory holding .json/.jsonl/.csv files.',
  },
  TW_CONTEXT_FILE_INVALID: {
    message: 'tenant context file {path} has {count} problem(s)',
    exit: 2,
    http: 400,
    hint: 'The format is in docs/rules.md (and contracts §3): tenants: [{id, name, acceptedDomains, recipients, trustedIps, exclusions}].',
  },
  TW_RECORD_UNREADABLE: {
    message: 'cannot read the record in {path}: {reason}',
    exit: 2,
    http: 400,
    hint: 'Give one audit record as JSON (an object, or an array whose first element is the record).',
  },
} as const satisfies Record<string, ErrorSpec>;
