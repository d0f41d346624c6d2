// `tenantwatch alerts list|show|ack|resolve|snooze|reopen`: triage from the terminal.
import os from 'node:os';
import type { Command } from 'commander';
import { OperatorError } from '../errors.ts';
import { SEVERITIES, type Severity } from '../model.ts';
import { ALERT_STATUSES, acknowledgeAlert, getAlertDetail, listAlerts, reopenAlert, resolveAlert, snoozeAlert, type AlertStatus, type AlertSummary } from '../alerts/queries.ts';
import { listRuns } from '../remediate/log-store.ts';
import { action, configFor, parseDuration, storeFor } from './common.ts';

function actorName(given?: string): string {
  if (given) return given.slice(0, 100);
  try {
    return `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    return `cli@${os.hostname()}`;
  }
}

/** Terminal output: one line, control characters removed (attacker text must not drive the terminal). */
function line(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function row(a: AlertSummary): string {
  return `${a.id}  ${a.firstSeen}  ${a.severity.padEnd(8)} ${a.status.padEnd(12)} x${String(a.count).padEnd(4)} ${a.tenantId.slice(0, 8)} ${line(a.userId, 60)}  ${line(a.summary, 160)}`;
}

export function registerAlerts(program: Command): void {
  const cmd = program.command('alerts').description('list, inspect and triage alerts');
  cmd
    .command('list')
    .description('alerts, newest first')
    .option('--status <status>', `${ALERT_STATUSES.join(' | ')} (default: all)`)
    .option('--tenant <id>', 'only this tenant')
    .option('--user <upn>', 'only this user')
    .option('--severity <level>', `at least this severity: ${SEVERITIES.join(' | ')}`)
    .option('--limit <n>', 'at most this many', '50')
    .option('--cursor <next>', 'continue after a previous page')
    .option('--json', 'print {"items":[...],"next":...} as in the API')
    .action(
      action(async (o: { status?: string; tenant?: string; user?: string; severity?: string; limit: string; cursor?: string; json?: boolean }, c: Command) => {
        if (o.status && !(ALERT_STATUSES as readonly string[]).includes(o.status)) throw new OperatorError('TW_USAGE', { detail: `--status must be one of ${ALERT_STATUSES.join(', ')}` });
        if (o.severity && !(SEVERITIES as readonly string[]).includes(o.severity)) throw new OperatorError('TW_USAGE', { detail: `--severity must be one of ${SEVERITIES.join(', ')}` });
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new OperatorError('TW_USAGE', { detail: '--limit must be a positive integer' });
        const store = await storeFor(configFor(c));
        try {
          const page = await listAlerts(store.db, { status: o.status as AlertStatus | undefined, tenantId: o.tenant, userId: o.user, minSeverity: o.severity as Severity | undefined, limit, cursor: o.cursor });
          if (o.json) process.stdout.write(JSON.stringify(page) + '\n');
          else {
            for (const a of page.items) process.stdout.write(row(a) + '\n');
            if (page.items.length === 0) process.stdout.write('no alerts\n');
            if (page.next) process.stdout.write(`more: --cursor ${page.next}\n`);
          }
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('show')
    .description('one alert: summary, source, evidence, notifications, remediation runs, activity')
    .argument('<id>')
    .option('--json', 'print the alert detail as JSON (as GET /api/alerts/{id})')
    .action(
      action(async (id: string, o: { json?: boolean }, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          const d = await getAlertDetail(store.db, id, { remediationRuns: (db, alertId) => listRuns(db, { alertId, limit: 50 }) });
          if (!d) throw new OperatorError('TW_ALERT_NOT_FOUND', { id: line(id, 100) });
          if (o.json) {
            process.stdout.write(JSON.stringify(d, null, 2) + '\n');
            return;
          }
          const w = (k: string, v: unknown) => process.stdout.write(`${k.padEnd(14)}${line(String(v ?? ''), 400)}\n`);
          w('alert', d.id);
          w('summary', d.summary);
          w('status', `${d.status}${d.suppressed ? ` (suppressed: ${d.suppressedReason})` : ''}${d.snoozedUntil ? ` until ${d.snoozedUntil}` : ''}`);
          w('severity', d.severity === d.baseSeverity ? d.severity : `${d.severity} (rule: ${d.baseSeverity})`);
          w('tenant', d.tenantId);
          w('user', d.userId);
          w('rule', `${d.ruleId} (${d.behaviour})`);
          w('seen', `${d.firstSeen} .. ${d.lastSeen}, ${d.count} record(s)`);
          const e = d.enrichment;
          if (e?.ip) {
            const g = e.geo;
            const flags = [e.newIp === true && 'new IP for this user', e.newIp === false && 'IP seen before', e.newCountry === true && 'new country for this user', e.newAsn === true && 'new network for this user', !e.baselineKnown && 'no sign-in baseline yet'].filter(Boolean);
            w('from', `${e.ip}${g ? ` ${[g.city, g.countryName ?? g.country].filter(Boolean).join(', ')}${g.asn ? ` AS${g.asn} ${g.asOrg ?? ''}` : ''}` : ''}${flags.length ? `; ${flags.join(', ')}` : ''}`);
          }
          process.stdout.write(`evidence (${d.evidenceCount}):\n`);
          for (const ev of d.evidence.slice(0, 20)) process.stdout.write(`  ${ev.occurredAt} ${line(ev.recordId, 80)}${ev.clientIp ? ` from ${ev.clientIp}` : ''}\n`);
          process.stdout.write(`notifications (${d.notifications.length}):\n`);
          for (const n of d.notifications) process.stdout.write(`  ${n.event} -> ${n.channel}: ${n.status} after ${n.attempts} attempt(s)${n.lastError ? ` (${line(n.lastError, 120)})` : ''}\n`);
          process.stdout.write(`remediation runs (${d.remediationRuns.length}):\n`);
          for (const r of d.remediationRuns as Array<{ id: string; status: string; actor: string; startedAt: string }>) process.stdout.write(`  ${r.startedAt} ${r.id} ${r.status} by ${line(r.actor, 80)}\n`);
          process.stdout.write('activity:\n');
          for (const a of d.activity) process.stdout.write(`  ${a.at} ${line(a.actor, 60)} ${a.action}${a.detail ? ` ${line(JSON.stringify(a.detail), 160)}` : ''}\n`);
        } finally {
          await store.close();
        }
      }),
    );
  const change = (name: string, description: string, run: (db: Parameters<typeof acknowledgeAlert>[0], id: string, o: { actor: string; note?: string; for?: string; until?: string }) => Promise<AlertSummary>, extra?: (c: Command) => Command) => {
    let sub = cmd.command(name).description(description).argument('<id>').option('--note <text>', 'why (kept in the activity trail)').option('--actor <name>', 'who (default: OS user@host)');
    if (extra) sub = extra(sub);
    sub.action(
      action(async (id: string, o: { note?: string; actor?: string; for?: string; until?: string }, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          const a = await run(store.db, id, { ...o, actor: actorName(o.actor) });
          process.stdout.write(`${a.id} ${a.status}${a.snoozedUntil ? ` until ${a.snoozedUntil}` : ''}\n`);
        } finally {
          await store.close();
        }
      }),
    );
  };
  change('ack', 'acknowledge an alert (someone is on it)', (db, id, o) => acknowledgeAlert(db, id, o));
  change('resolve', 'resolve an alert', (db, id, o) => resolveAlert(db, id, o));
  change('reopen', 'reopen a resolved, acknowledged, snoozed or suppressed alert', (db, id, o) => reopenAlert(db, id, o));
  change(
    'snooze',
    'snooze an alert until a time (it reads as open again afterwards)',
    (db, id, o) => {
      let until = o.until;
      if (o.for) until = new Date(Date.now() + parseDuration(o.for)).toISOString();
      if (!until || Number.isNaN(Date.parse(until))) throw new OperatorError('TW_USAGE', { detail: 'give --for <duration> (e.g. 4h) or --until <ISO time>' });
      return snoozeAlert(db, id, new Date(until).toISOString(), o);
    },
    (c) => c.option('--for <duration>', 'e.g. 30m, 4h, 2d').option('--until <time>', 'ISO-8601 time'),
  );
}
