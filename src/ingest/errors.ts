// Coded operator errors owned by ingest/ (plain data; merged and documented by src/errors.ts).
import type { ErrorSpec } from '../errors.ts';

export const INGEST_ERRORS = {
  TW_INGEST_API: {
    message: 'the Management Activity API answered {status} {upstream} for tenant {tenantId}: {detail}',
    exit: 1,
    http: 502,
    hint: 'See the Microsoft code in docs/ingest.md; AF20022/AF20023 mean the subscription is missing or disabled (run `tenantwatch poll` again to start it), AF10001 means the app lacks ActivityFeed.Read consent.',
  },
  TW_INGEST_WINDOW: {
    message: 'content window {start} .. {end} breaks the API rules: {reason}',
    exit: 1,
    http: 500,
    hint: 'Windows must have both bounds, be at most 24 hours long and start at most 7 days ago; this is a bug if it happens.',
  },
  TW_INGEST_BLOB_TOO_LARGE: {
    message: 'content blob {contentId} of tenant {tenantId} is larger than ingest.maxBlobBytes ({max} bytes)',
    exit: 1,
    http: 502,
    hint: 'Raise ingest.maxBlobBytes if the blob is genuine; memory use grows with it.',
  },
  TW_INGEST_BLOB_MALFORMED: {
    message: 'content blob {contentId} of tenant {tenantId} is not a JSON array of records: {reason}',
    exit: 1,
    http: 502,
    hint: 'Usually a truncated download; the blob is fetched again on the next cycles until it expires.',
  },
  TW_INGEST_UNTRUSTED_URI: {
    message: 'refusing to send a token to {uri}: it is not a Management Activity API address of tenant {tenantId}',
    exit: 1,
    http: 400,
    hint: 'Content and page addresses must be under microsoft.baseUrls.management for the same tenant.',
  },
  TW_INGEST_CONTENT_LOST: {
    message: 'audit content of tenant {tenantId} ({contentType}) from {from} to {to} fell out of the 7-day retention before it was read',
    exit: 1,
    http: 500,
    hint: 'The service was down (or the tenant unreachable) for longer than 7 days; those records cannot be fetched again from Microsoft.',
  },
  TW_INGEST_WEBHOOK_CONFIG: {
    message: 'webhook mode needs {missing}',
    exit: 2,
    http: 500,
    hint: 'Set web.publicUrl (https) and ingest.webhook.authId, or switch ingest.webhook.enabled off.',
  },
} as const satisfies Record<string, ErrorSpec>;
