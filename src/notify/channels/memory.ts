// An in-process channel for tests and the demo: keeps every delivery with its Teams, Slack and e-mail
// renderings (the demo's notifications page shows them). Can be told to fail, to exercise retries.
import { z } from 'zod';
import type { Channel, NotificationMessage, SendResult } from '../types.ts';
import { renderTeams } from './teams.ts';
import { renderSlack } from './slack.ts';
import { renderEmail, type RenderedEmail } from './email.ts';
import { renderWebhook } from './webhook.ts';

export const memoryConfig = z
  .object({
    name: z.string(),
    type: z.literal('memory'),
    /** Keep at most this many deliveries (oldest dropped first; dropped ones are counted). */
    capacity: z.number().int().positive().max(100_000).default(1000),
    timeoutMs: z.number().int().positive().default(1000),
  })
  .strict();
export type MemoryConfig = z.infer<typeof memoryConfig>;

export interface MemoryDelivery {
  key: string;
  at: string;
  message: NotificationMessage;
  teams: unknown;
  slack: unknown;
  email: RenderedEmail;
  webhook: unknown;
}

export interface MemoryChannel extends Channel {
  deliveries(): MemoryDelivery[];
  /** Deliveries with duplicates (same idempotency key) removed, as a receiver that dedupes sees them. */
  unique(): MemoryDelivery[];
  dropped(): number;
  /** The next `n` sends answer this failure (tests). */
  failNext(n: number, result?: SendResult): void;
  clear(): void;
}

const inboxes = new Map<string, MemoryChannel>();

/** The memory channel of that name created in this process, if any (the demo's notifications page). */
export function memoryInbox(name: string): MemoryChannel | undefined {
  return inboxes.get(name);
}

export function memoryInboxes(): MemoryChannel[] {
  return [...inboxes.values()];
}

export function createMemoryChannel(c: MemoryConfig, deps: { now?: () => Date } = {}): MemoryChannel {
  const now = deps.now ?? (() => new Date());
  let list: MemoryDelivery[] = [];
  let dropped = 0;
  let failures: SendResult[] = [];
  const ch: MemoryChannel = {
    name: c.name,
    type: 'memory',
    timeoutMs: c.timeoutMs,
    render: (m) => ({ teams: renderTeams(m), slack: renderSlack(m), email: renderEmail(m), webhook: renderWebhook(m) }),
    async send(m) {
      const f = failures.shift();
      if (f) return f;
      list.push({ key: m.key, at: now().toISOString(), message: m, teams: renderTeams(m), slack: renderSlack(m), email: renderEmail(m), webhook: renderWebhook(m) });
      if (list.length > c.capacity) {
        dropped += list.length - c.capacity;
        list = list.slice(-c.capacity);
      }
      return { ok: true, detail: 'kept in memory' };
    },
    deliveries: () => [...list],
    unique: () => {
      const seen = new Set<string>();
      return list.filter((d) => (seen.has(d.key) ? false : (seen.add(d.key), true)));
    },
    dropped: () => dropped,
    failNext: (n, result = { ok: false, retry: true, error: 'memory channel told to fail' }) => {
      failures = Array.from({ length: n }, () => result);
    },
    clear: () => {
      list = [];
      dropped = 0;
    },
  };
  inboxes.set(c.name, ch);
  return ch;
}
