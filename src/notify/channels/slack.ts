// Slack: an incoming-webhook URL (a credential), sent Block Kit. Attacker text only ever goes into
// plain_text objects, escaped (&, <, >), with broadcast mentions and bare URLs defused.
// https://api.slack.com/reference/surfaces/formatting#escaping
import { z } from 'zod';
import { markSecretKey, secret } from '../../config.ts';
import { escapeSlack } from '../escape.ts';
import { postJson } from '../http-post.ts';
import type { Channel, NotificationMessage } from '../types.ts';
import { factsOf, linksOf, titleOf } from '../view.ts';

markSecretKey('webhookUrl');

export const slackConfig = z
  .object({
    name: z.string(),
    type: z.literal('slack'),
    webhookUrl: secret(z.url({ protocol: /^https?$/ })),
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
  })
  .strict();
export type SlackConfig = z.infer<typeof slackConfig>;

const plain = (text: string) => ({ type: 'plain_text', text, emoji: false });

export function renderSlack(m: NotificationMessage): unknown {
  const v = m.view;
  const e = escapeSlack;
  const facts = factsOf(v);
  const blocks: unknown[] = [
    { type: 'header', text: plain(e(titleOf(v), 150)) },
    { type: 'section', text: plain(e(v.summary, 1000)) },
  ];
  // Slack allows at most 10 fields per section.
  for (let i = 0; i < facts.length; i += 10) {
    blocks.push({ type: 'section', fields: facts.slice(i, i + 10).map(([k, val]) => plain(`${k}: ${e(val, 300)}`)) });
  }
  const links = linksOf(m);
  if (links.length) {
    blocks.push({
      type: 'actions',
      elements: links.map((l, i) => ({
        type: 'button',
        text: plain(l.label),
        url: l.url,
        ...(i === 0 && m.remediateUrl ? { style: 'danger' } : {}),
      })),
    });
  }
  return { text: e(`${titleOf(v)}: ${v.tenantName ?? v.tenantId}`, 300), blocks, unfurl_links: false, unfurl_media: false };
}

export function createSlackChannel(c: SlackConfig): Channel {
  return {
    name: c.name,
    type: 'slack',
    timeoutMs: c.timeoutMs,
    render: renderSlack,
    send: (m, o) =>
      postJson({ url: c.webhookUrl, body: JSON.stringify(renderSlack(m)), headers: { 'Idempotency-Key': m.key }, signal: o.signal, timeoutMs: c.timeoutMs }),
  };
}
