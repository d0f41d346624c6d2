// Small helpers shared by web/'s route modules.
import type { z } from 'zod';
import { OperatorError } from '../../errors.ts';
import { problemsOf } from '../settings.ts';

/** Validates a body with zod; every problem is listed in the 400 answer. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, prefix = 'body'): z.infer<T> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const details = problemsOf(r.error.issues, prefix);
    throw new OperatorError('TW_WEB_BAD_REQUEST', { detail: details[0] ?? 'invalid body' }, { details });
  }
  return r.data;
}

export function need<T>(port: T | undefined, what: string): T {
  if (!port) throw new OperatorError('TW_WEB_UNAVAILABLE', { what });
  return port;
}

export function notFound(what: string): OperatorError {
  return new OperatorError('TW_NOT_FOUND', { what });
}
