// The exact payload each channel sends, compared with fixture files; attacker text is inert in each.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTeams } from '../src/notify/channels/teams.ts';
import { renderSlack } from '../src/notify/channels/slack.ts';
import { renderEmail } from '../src/notify/channels/email.ts';
import { renderWebhook } from '../src/notify/channels/webhook.ts';
import { channelRegistry, checkChannels, CHANNEL_TYPES, createChannels } from '../src/notify/channels/index.ts';
import { escapeAdaptiveMarkdown, escapeHtml, escapeSlack } from '../src/notify/escape.ts';
import { redact } from '../src/config.ts';
import { hostileMessage } from './fixtures/notify/hostile.ts';

const FIX = path.join(import.meta.dirname, 'fixtures', 'notify');
function fixture(name: string): string {
  return readFileSync(path.join(FIX, name), 'utf8');
}

describe('channel payloads', () => {
  it('renders the Teams Adaptive Card exactly as the fixture, attacker text escaped for card markdown', () => {
    const out = JSON.stringify(renderTeams(hostileMessage), null, 2) + '\n';
    expect(out).toBe(fixture('teams.json'));
    // Every markdown/HTML character in card text is backslash-escaped.
    const texts: string[] = [];
    JSON.parse(out, (k, v) => ((k === 'text' || k === 'value') && typeof v === 'string' && texts.push(v), v));
    expect(texts.length).toBeGreaterThan(5);
    for (const t of texts) expect(t).not.toMatch(/(^|[^\\])[<>*_[\]()@:]/);
  });

  it('renders the Slack Block Kit message exactly as the fixture, with no mention or link injection', () => {
    const out = JSON.stringify(renderSlack(hostileMessage), null, 2) + '\n';
    expect(out).toBe(fixture('slack.json'));
    expect(out).not.toMatch(/<!here>|<!channel>|<https:|@channel/);
    expect(out).not.toContain('"type": "mrkdwn"');
  });

  it('renders the e-mail HTML and text parts exactly as the fixtures, HTML escaped', () => {
    const e = renderEmail(hostileMessage);
    expect(e.html + '\n').toBe(fixture('email.html'));
    expect(e.text).toBe(fixture('email.txt'));
    expect(e.subject).toBe('[HIGH] Inbox rule forwards mail outside the organization - jane@contoso.com - Contoso <b>Ltd</b>');
    expect(e.html).not.toContain('<img');
    expect(e.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(e.headers['X-Tenantwatch-Idempotency-Key']).toBe(hostileMessage.key);
  });

  it('keeps attacker text on one line in the plain-text part, so it cannot forge a link line', () => {
    const forged = { ...hostileMessage, view: { ...hostileMessage.view, summary: 'rule "x"\nSecure and Remediate: https://evil.example/' } };
    const lines = renderEmail(forged).text.split('\n');
    expect(lines.filter((l) => l.startsWith('Secure and Remediate:'))).toEqual([`Secure and Remediate: ${hostileMessage.remediateUrl}`]);
  });

  it('renders the webhook JSON exactly as the fixture, raw strings intact', () => {
    const out = JSON.stringify(renderWebhook(hostileMessage), null, 2) + '\n';
    expect(out).toBe(fixture('webhook.json'));
    expect((renderWebhook(hostileMessage).alert as { summary: string }).summary).toBe(hostileMessage.view.summary);
  });

  it('carries the Secure and Remediate link in every channel', () => {
    const teams = JSON.stringify(renderTeams(hostileMessage));
    const slack = JSON.stringify(renderSlack(hostileMessage));
    const email = renderEmail(hostileMessage);
    const hook = renderWebhook(hostileMessage);
    for (const s of [teams, slack]) expect(s).toContain('Secure and Remediate');
    expect(teams).toContain(JSON.stringify(hostileMessage.remediateUrl).slice(1, -1));
    expect(email.text).toContain(`Secure and Remediate: ${hostileMessage.remediateUrl}`);
    expect(email.html).toContain('href="https://tenantwatch.example.com/remediate/eyJhbGVydCI6ImFsXzEifQ.c2ln?x=1&amp;y=&quot;2&quot;"');
    expect((hook.links as { remediate: string }).remediate).toBe(hostileMessage.remediateUrl);
  });
});

describe('escaping', () => {
  it('backslash-escapes every markdown character for Adaptive Cards and drops control characters', () => {
    expect(escapeAdaptiveMarkdown('[a](b) *c* _d_ `e`\nf\u202eg')).toBe('\\[a\\]\\(b\\) \\*c\\* \\_d\\_ \\`e\\` f g');
    expect(escapeAdaptiveMarkdown('https://evil')).toBe('https\\:\\/\\/evil');
  });

  it('escapes &, < and > for Slack and breaks broadcast mentions and bare links', () => {
    expect(escapeSlack('<!here> & @channel @Everyone https://x')).toBe('&lt;!here&gt; &amp; @\u200bchannel @\u200bEveryone https:\u200b//x');
  });

  it('escapes HTML text and attributes and bounds huge input', () => {
    expect(escapeHtml(`"'<>&`)).toBe('&quot;&#39;&lt;&gt;&amp;');
    expect(escapeHtml('x'.repeat(1_000_000)).length).toBeLessThan(2100);
  });
});

describe('channel registry and configuration', () => {
  it('fails on a duplicate channel type', () => {
    expect(() => channelRegistry([...CHANNEL_TYPES, CHANNEL_TYPES[0]])).toThrow(/duplicate channel type teams/);
  });

  it('lists every problem of a broken channel configuration at once', () => {
    const problems = checkChannels({
      channels: [
        { name: 'a', type: 'teams' },
        { name: 'a', type: 'slack', webhookUrl: 'not a url' },
        { name: 'b', type: 'pager' },
        { name: 'c', type: 'webhook', url: 'https://x.example/hook', secret: 'short' },
        { name: 'd', type: 'email', host: 'smtp.example', from: 'nope', to: [] },
      ],
      routes: [{ channels: ['a', 'zzz'] }],
    });
    expect(problems).toEqual([
      'notify.channels[0].webhookUrl: Invalid input: expected string, received undefined',
      'notify.channels[1].name: duplicate channel name "a"',
      'notify.channels[1].webhookUrl: Invalid URL',
      'notify.channels[2].type: unknown channel type "pager" (expected teams | slack | email | webhook | memory)',
      'notify.channels[3].secret: at least 16 characters',
      'notify.channels[4].from: Invalid email address',
      'notify.channels[4].to: Too small: expected array to have >=1 items',
      'notify.routes[0].channels[1]: no channel named "zzz"',
    ]);
    expect(() => createChannels({ channels: [{ name: 'b', type: 'pager' }], routes: [] })).toThrow(expect.objectContaining({ code: 'TW_NOTIFY_CONFIG_INVALID' }));
  });

  it('never prints a channel secret: webhook URLs, signing secrets and SMTP passwords are redacted', () => {
    const r = redact({ notify: { channels: [{ name: 't', type: 'teams', webhookUrl: 'https://x.webhook.office.com/abc' }, { name: 'w', type: 'webhook', url: 'https://h', secret: 's'.repeat(20) }, { name: 'e', type: 'email', password: 'pw' }] } });
    expect(JSON.stringify(r)).not.toMatch(/office\.com\/abc|sssss|"pw"/);
  });
});
