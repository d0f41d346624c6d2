// E-mail over SMTP (nodemailer): `tls` (implicit TLS, usually 465), `starttls` (required, usually 587) or
// `none` (plain SMTP, for a local relay). HTML part escaped, plus a plain-text part. The idempotency key
// travels as the Message-ID and an X-Tenantwatch-Idempotency-Key header, so mail systems can dedupe.
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { z } from 'zod';
import { secret } from '../../config.ts';
import { clean, escapeHtml, headerText } from '../escape.ts';
import type { Channel, NotificationMessage, SendResult } from '../types.ts';
import { factsOf, linksOf, titleOf } from '../view.ts';

export const emailConfig = z
  .object({
    name: z.string(),
    type: z.literal('email'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
    user: z.string().optional(),
    password: secret(z.string()).optional(),
    from: z.email(),
    to: z.array(z.email()).min(1),
    /** Extra CA to trust (PEM file); certificate checks are never switched off. */
    caFile: z.string().optional(),
    timeoutMs: z.number().int().positive().max(120_000).default(20_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.password !== undefined && !c.user) ctx.addIssue({ code: 'custom', message: 'password given without user', path: ['user'] });
  });
export type EmailConfig = z.infer<typeof emailConfig>;

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

export function renderEmail(m: NotificationMessage): RenderedEmail {
  const v = m.view;
  const h = escapeHtml;
  const facts = factsOf(v);
  const links = linksOf(m);
  const subject = headerText(`${titleOf(v)} - ${v.userId} - ${v.tenantName ?? v.tenantId}`);
  // Plain text is inert, but a newline in attacker text could forge a line (a fake link): one line each.
  const text = [
    clean(titleOf(v)),
    '',
    clean(v.summary, 1000),
    '',
    ...facts.map(([k, val]) => `${k}: ${clean(val)}`),
    ...(links.length ? ['', ...links.map((l) => `${l.label}: ${clean(l.url, 2000)}`)] : []),
    '',
  ].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:Segoe UI,Arial,sans-serif">',
    `<h2>${h(titleOf(v))}</h2>`,
    `<p>${h(v.summary)}</p>`,
    '<table cellpadding="4">',
    ...facts.map(([k, val]) => `<tr><th align="left">${h(k)}</th><td>${h(val)}</td></tr>`),
    '</table>',
    ...links.map((l) => `<p><a href="${h(l.url)}">${h(l.label)}</a></p>`),
    '</body></html>',
  ].join('\n');
  return { subject, text, html, headers: { 'X-Tenantwatch-Idempotency-Key': m.key } };
}

export function createEmailChannel(c: EmailConfig): Channel {
  const transport = nodemailer.createTransport({
    host: c.host,
    port: c.port,
    secure: c.security === 'tls',
    requireTLS: c.security === 'starttls',
    ignoreTLS: c.security === 'none',
    auth: c.user ? { user: c.user, pass: c.password ?? '' } : undefined,
    connectionTimeout: c.timeoutMs,
    greetingTimeout: c.timeoutMs,
    socketTimeout: c.timeoutMs,
    tls: c.caFile ? { ca: readFileSync(c.caFile, 'utf8') } : undefined,
  });
  const domain = c.from.split('@')[1] ?? 'tenantwatch.invalid';
  return {
    name: c.name,
    type: 'email',
    timeoutMs: c.timeoutMs,
    render: renderEmail,
    async send(m, o): Promise<SendResult> {
      const r = renderEmail(m);
      if (o.signal.aborted) return { ok: false, retry: true, error: 'timed out' };
      try {
        const info = await new Promise<{ response?: string }>((resolve, reject) => {
          const onAbort = () => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
          o.signal.addEventListener('abort', onAbort, { once: true });
          transport
            .sendMail({
              from: c.from,
              to: c.to,
              subject: r.subject,
              text: r.text,
              html: r.html,
              headers: r.headers,
              messageId: `<${m.key.replace(/[^A-Za-z0-9._-]/g, '-')}@${domain}>`,
            })
            .then(resolve, reject)
            .finally(() => o.signal.removeEventListener('abort', onAbort));
        });
        return { ok: true, detail: headerText(info.response ?? 'accepted', 120) };
      } catch (e) {
        const err = e as { responseCode?: number; code?: string; message?: string };
        // 5xx SMTP replies are permanent (bad recipient, auth refused); 4xx and network errors are not.
        const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500;
        const what = err.responseCode ? `SMTP ${err.responseCode}` : (err.code ?? 'error');
        return { ok: false, retry: !permanent, error: `${what}: ${headerText(err.message ?? '', 160)}` };
      }
    },
    close: async () => transport.close(),
  };
}
