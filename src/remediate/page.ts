// Server-rendered HTML of the Secure and Remediate confirmation flow. Every value is escaped; no inline
// script or style (the page works under `default-src 'self'`); one stylesheet served beside it.
import { stepSpec, type StepId } from './catalogue.ts';
import type { Indicators, RemediationAlert } from './evidence.ts';
import type { StepResult } from './playbook-types.ts';

export function esc(v: unknown): string {
  return String(v ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export const STYLESHEET_PATH = '/remediate-assets/remediate.css';

export const STYLESHEET = `body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1b1f24;background:#fafbfc}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d8dee4;vertical-align:top}
.box{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:1rem 1.2rem;margin:1rem 0}.warn{border-color:#d4a72c;background:#fff8c5}.bad{border-color:#cf222e;background:#ffebe9}
.ok{color:#1a7f37}.failed{color:#cf222e}.skipped,.planned{color:#57606a}label{display:block;margin:.3rem 0}button{font-size:1rem;padding:.5rem 1.2rem;background:#cf222e;color:#fff;border:0;border-radius:6px;cursor:pointer}
code.secret{font-size:1.3rem;background:#fff;border:2px dashed #1b1f24;padding:.3rem .6rem;display:inline-block;user-select:all}small{color:#57606a}input[type=text]{font-size:1rem;padding:.3rem;width:20rem}`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">
<title>${esc(title)} · tenantwatch</title><link rel="stylesheet" href="${STYLESHEET_PATH}"></head>
<body><h1>${esc(title)}</h1>
${body}`;
}

const END = '\n</body></html>\n';

export interface ConfirmView {
  alert: RemediationAlert;
  steps: StepId[];
  indicators: Indicators;
  expiresAt: string;
  action: string;
  csrf: string;
  /** The logged-in console user, when there is one. */
  user?: { username: string; role: string };
  /** Anonymous visitors: ask for a name (mode 'name') or send them to log in (mode 'login'). */
  anonymous: 'name' | 'login' | false;
  passwordMode: 'random' | 'force-change';
}

function list(set: Set<string>): string {
  return [...set].slice(0, 20).map((x) => `<code>${esc(x)}</code>`).join(', ');
}

export function confirmPage(v: ConfirmView): string {
  const a = v.alert;
  const ind = v.indicators;
  const evidence: string[] = [];
  if (ind.ruleNames.size) evidence.push(`<li>Inbox rules named: ${list(ind.ruleNames)}</li>`);
  if (ind.addresses.size) evidence.push(`<li>Destinations: ${list(ind.addresses)}</li>`);
  if (ind.transportRuleNames.size) evidence.push(`<li>Transport rules: ${list(ind.transportRuleNames)}</li>`);
  if (ind.appIds.size) evidence.push(`<li>Applications: ${list(ind.appIds)}</li>`);
  const steps = v.steps
    .map((s) => {
      const spec = stepSpec(s);
      const extra = s === 'reset-password'
        ? v.passwordMode === 'random'
          ? ' The new password is shown once, on the next page, to you only.'
          : ' The new password is shown to nobody; the user must change it (self-service or helpdesk).'
        : '';
      return `<label><input type="checkbox" name="steps" value="${esc(s)}" checked> <strong>${esc(spec.title)}</strong> — ${esc(spec.description)}${esc(extra)}</label>`;
    })
    .join('\n');
  let who: string;
  if (v.user) who = `<p>You are signed in to the console as <strong>${esc(v.user.username)}</strong> (${esc(v.user.role)}); the run is recorded under that name.</p>`;
  else if (v.anonymous === 'name') {
    who = `<p><label>Your name (recorded in the remediation log with your address): <input type="text" name="name" required maxlength="100" autocomplete="name"></label></p>`;
  } else who = '';
  const canPress = v.user !== undefined || v.anonymous === 'name';
  const form = canPress
    ? `<form method="post" action="${esc(v.action)}">
<input type="hidden" name="csrf" value="${esc(v.csrf)}">
<div class="box">${steps}
<label><input type="checkbox" name="removeRules" value="1"> Remove the matching inbox rules instead of disabling them (cannot be undone)</label></div>
${who}
<p><button type="submit">Secure and Remediate</button></p>
</form>`
    : `<div class="box warn"><p>Sign in to the tenantwatch console in this browser with a role that may remediate (admin or analyst), then open this link again.</p></div>`;
  return layout(
    'Secure and Remediate',
    `<div class="box">
<p><strong>${esc(a.summary)}</strong></p>
<table>
<tr><th>User</th><td>${esc(a.userId)}</td></tr>
<tr><th>Tenant</th><td>${esc(a.tenantId)}</td></tr>
<tr><th>Alert</th><td>${esc(a.id)} · ${esc(a.behaviour)} · ${esc(a.severity)} · ${esc(a.status ?? '')}</td></tr>
</table>
${evidence.length ? `<p>The evidence names:</p><ul>${evidence.join('')}</ul><p><small>Only inbox rules matching these are touched, hidden ones included; other rules are left alone.</small></p>` : ''}
</div>
<h2>What will be done to ${esc(a.userId)}</h2>
<p><small>Nothing has changed yet. Opening this page changes nothing; only the button does. This link works once and expires ${esc(v.expiresAt)}.</small></p>
${form}`,
  ) + END;
}

export function problemPage(title: string, message: string, status: number): { status: number; html: string } {
  return { status, html: layout(title, `<div class="box bad"><p>${esc(message)}</p><p><small>Nothing was changed.</small></p></div>`) + END };
}

/** The head of the results page; rows stream in as steps finish, then `resultsEnd`. */
export function resultsStart(alert: RemediationAlert, actor: string): string {
  return layout(
    'Remediation running',
    `<p>Alert ${esc(alert.id)} · ${esc(alert.userId)} · pressed by ${esc(actor)}</p>
<table><tr><th>Step</th><th>Result</th><th>What happened</th></tr>\n`,
  );
}

export function resultRow(r: StepResult): string {
  const cls = r.status === 'succeeded' ? 'ok' : r.status;
  const err = r.error ? `<br><small>Microsoft: ${esc(r.error.code ? `${r.error.code}: ` : '')}${esc(r.error.message)}</small>${r.error.fix ? `<br><small>Fix: ${esc(r.error.fix)}</small>` : ''}` : '';
  const items = r.items?.length
    ? `<ul>${r.items.map((i) => `<li>${esc(i.name)}${i.hidden ? ' (hidden)' : ''}: ${esc(i.status)}${i.error ? ` — ${esc(i.error.message)}` : ''}</li>`).join('')}</ul>`
    : '';
  return `<tr><td>${esc(r.step)}</td><td class="${esc(cls)}">${esc(r.status)}</td><td>${esc(r.detail)}${err}${items}</td></tr>\n`;
}

export function resultsEnd(runId: string, status: string, newPassword?: string): string {
  const pw = newPassword
    ? `<div class="box warn"><p>New password — shown this once, stored nowhere; give it to the user through a trusted channel (they must change it at next sign-in):</p><p><code class="secret">${esc(newPassword)}</code></p></div>`
    : '';
  return `</table>
<div class="box"><p>Run <code>${esc(runId)}</code>: <strong>${esc(status)}</strong>. The remediation log in the console holds every step with its before and after values; reversible steps can be undone there or with <code>tenantwatch remediate --undo ${esc(runId)}</code>.</p></div>
${pw}${END}`;
}
