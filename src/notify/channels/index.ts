// Every channel type, in one explicit list; building the registry fails on duplicate types. Channel
// configs are validated here at start, every problem listed together.
import type { z } from 'zod';
import { OperatorError } from '../../errors.ts';
import type { Channel } from '../types.ts';
import { teamsConfig, createTeamsChannel } from './teams.ts';
import { slackConfig, createSlackChannel } from './slack.ts';
import { emailConfig, createEmailChannel } from './email.ts';
import { webhookConfig, createWebhookChannel } from './webhook.ts';
import { memoryConfig, createMemoryChannel } from './memory.ts';

export interface ChannelDeps {
  now?: () => Date;
}

export interface ChannelType {
  type: string;
  schema: z.ZodType;
  create(config: never, deps: ChannelDeps): Channel;
}

function channelType<S extends z.ZodType>(type: string, schema: S, create: (c: z.infer<S>, deps: ChannelDeps) => Channel): ChannelType {
  return { type, schema, create: create as ChannelType['create'] };
}

export const CHANNEL_TYPES: ChannelType[] = [
  channelType('teams', teamsConfig, (c) => createTeamsChannel(c)),
  channelType('slack', slackConfig, (c) => createSlackChannel(c)),
  channelType('email', emailConfig, (c) => createEmailChannel(c)),
  channelType('webhook', webhookConfig, (c, d) => createWebhookChannel(c, d)),
  channelType('memory', memoryConfig, (c, d) => createMemoryChannel(c, d)),
];

/** Type name → channel type; throws on a duplicate type (a bug, caught by the first test run). */
export function channelRegistry(types: ChannelType[] = CHANNEL_TYPES): Map<string, ChannelType> {
  const reg = new Map<string, ChannelType>();
  for (const t of types) {
    if (reg.has(t.type)) throw new Error(`duplicate channel type ${t.type}`);
    reg.set(t.type, t);
  }
  return reg;
}

export interface NotifySection {
  channels: ReadonlyArray<{ name: string; type: string; [k: string]: unknown }>;
  routes: ReadonlyArray<{ channels: readonly string[] }>;
}

/** Every problem in `notify.channels` / `notify.routes`, as "path: message" lines (empty = fine). */
export function checkChannels(notify: NotifySection, types: ChannelType[] = CHANNEL_TYPES): string[] {
  const reg = channelRegistry(types);
  const problems: string[] = [];
  const names = new Set<string>();
  notify.channels.forEach((c, i) => {
    const at = `notify.channels[${i}]`;
    if (names.has(c.name)) problems.push(`${at}.name: duplicate channel name ${JSON.stringify(c.name)}`);
    names.add(c.name);
    const t = reg.get(c.type);
    if (!t) {
      problems.push(`${at}.type: unknown channel type ${JSON.stringify(c.type)} (expected ${[...reg.keys()].join(' | ')})`);
      return;
    }
    const r = t.schema.safeParse(c);
    if (!r.success) {
      for (const issue of r.error.issues) problems.push(`${at}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
    }
  });
  notify.routes.forEach((r, i) => {
    r.channels.forEach((name, j) => {
      if (!names.has(name)) problems.push(`notify.routes[${i}].channels[${j}]: no channel named ${JSON.stringify(name)}`);
    });
  });
  return problems;
}

/** Builds every configured channel. Throws TW_NOTIFY_CONFIG_INVALID listing every problem. */
export function createChannels(notify: NotifySection, deps: ChannelDeps = {}, types: ChannelType[] = CHANNEL_TYPES): Map<string, Channel> {
  const problems = checkChannels(notify, types);
  if (problems.length) {
    throw new OperatorError('TW_NOTIFY_CONFIG_INVALID', { count: problems.length }, { details: problems });
  }
  const reg = channelRegistry(types);
  const out = new Map<string, Channel>();
  for (const c of notify.channels) {
    const t = reg.get(c.type)!;
    out.set(c.name, t.create(t.schema.parse(c) as never, deps));
  }
  return out;
}
