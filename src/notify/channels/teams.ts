// Microsoft Teams: a Workflows ("Post to a channel when a webhook request is received") or incoming-webhook
// URL, sent an Adaptive Card. The URL is a credential. Card text is Adaptive Card markdown: escaped.
// https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
import { z } from 'zod';
import { markSecretKey, secret } from '../../config.ts';
import { escapeAdaptiveMarkdown } from '../escape.ts';
import { postJson } from '../http-post.ts';
import type { Channel, NotificationMessage } from '../types.ts';
import { factsOf, linksOf, titleOf } from '../view.ts';

markSecretKey('webhookUrl');

export const teamsConfig = z
  .object({
    name: z.string(),
    type: z.literal('teams'),
    webhookUrl: secret(z.url({ protocol: /^https?$/ })),
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
  })
  .strict();
export type TeamsConfig = z.infer<typeof teamsConfig>;

const SEVERITY_COLOR: Record<string, string> = {
  critical: 'Attention',
  high: 'Attention',
  medium: 'Warning',
  low: 'Accent',
  informational: 'Default',
};

export function renderTeams(m: NotificationMessage): unknown {
  const v = m.view;
  const md = escapeAdaptiveMarkdown;
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body: [
            { type: 'TextBlock', text: md(titleOf(v)), weight: 'Bolder', size: 'Medium', color: SEVERITY_COLOR[v.severity] ?? 'Default', wrap: true },
            { type: 'TextBlock', text: md(v.summary, 1000), wrap: true },
            { type: 'FactSet', facts: factsOf(v).map(([title, value]) => ({ title: md(title), value: md(value) })) },
          ],
          actions: linksOf(m).map((l) => ({ type: 'Action.OpenUrl', title: l.label, url: l.url })),
        },
      },
    ],
  };
}

export function createTeamsChannel(c: TeamsConfig): Channel {
  return {
    name: c.name,
    type: 'teams',
    timeoutMs: c.timeoutMs,
    render: renderTeams,
    send: (m, o) =>
      postJson({ url: c.webhookUrl, body: JSON.stringify(renderTeams(m)), headers: { 'Idempotency-Key': m.key }, signal: o.signal, timeoutMs: c.timeoutMs }),
  };
}
