// `tenantwatch poll`: one ingest cycle over every enabled tenant (or the ones named), with a progress line
// per tenant on a terminal and a per-tenant report at the end; `--json` prints contracts §1's report.
import type { Command } from 'commander';
import { buildIngest } from '../main.ts';
import { createPoller, type PollProgress, type PollReport } from '../ingest/poller.ts';
import { action, configFor, loggerFor, parseDuration } from './common.ts';
import { OperatorError } from '../errors.ts';

export function registerPoll(program: Command): void {
  program
    .command('poll')
    .description('run one ingest cycle: list and fetch new audit content for every enabled tenant, then report')
    .option('-t, --tenant <tenant...>', 'only these tenants (id, name or default domain)')
    .option('--since <duration>', 'list content published since this long ago (e.g. 2h, 3d; at most 7d) instead of from the cursor')
    .option('--json', 'print the report as JSON (contracts §1)')
    .action(
      action(async (opts: { tenant?: string[]; since?: string; json?: boolean }, c: Command) => {
        const config = configFor(c);
        const logger = loggerFor(config);
        const sinceMs = opts.since === undefined ? undefined : parseDuration(opts.since);
        if (sinceMs !== undefined && sinceMs > 7 * 86_400_000) throw new OperatorError('TW_USAGE', { detail: '--since cannot go back more than 7d (the API keeps 7 days)' });
        const parts = await buildIngest(config, logger);
        const poller = createPoller({ db: parts.store.db, api: parts.api, config, pipeline: parts.pipeline, logger });
        const tty = process.stderr.isTTY === true && !opts.json;
        const onSignal = (): void => {
          process.stderr.write('stopping: finishing blobs in flight…\n');
          void poller.stop();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        let report: PollReport;
        try {
          report = await poller.pollOnce({ tenants: opts.tenant, sinceMs, ignoreBackoff: true, onProgress: tty ? progressPrinter() : undefined });
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await parts.http.close().catch(() => {});
          await parts.store.close();
        }
        if (opts.tenant?.length && report.tenants.length === 0) throw new OperatorError('TW_NOT_FOUND', { what: `tenant ${opts.tenant.join(', ')}` });
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatReport(report));
        return report.totals.errors > 0 ? 1 : 0;
      }),
    );
}

/** One line per tenant when it starts fetching, then at each further quarter of its blobs and when done. */
function progressPrinter(): (p: PollProgress) => void {
  const last = new Map<string, string>();
  return (p) => {
    const step = p.phase === 'fetching' ? `fetching:${p.blobsTotal ? Math.floor((4 * p.blobsDone) / p.blobsTotal) : 4}` : p.phase;
    if (p.phase === 'listing' || last.get(p.tenantId) === step) return;
    last.set(p.tenantId, step);
    const who = p.name ? `${p.name} (${p.tenantId})` : p.tenantId;
    const what = p.phase === 'fetching' ? `blobs ${p.blobsDone}/${p.blobsTotal}` : 'done';
    process.stderr.write(`${who}: ${what}, ${p.records} records${p.errors ? `, ${p.errors} errors` : ''}\n`);
  };
}

/** The human report: one block per tenant, one line per content type, then the totals. */
export function formatReport(r: PollReport): string {
  const lines: string[] = [];
  for (const t of r.tenants) {
    lines.push(`${t.name ?? t.tenantId} (${t.tenantId})`);
    for (const c of t.contentTypes) {
      const lag = c.lagSeconds === null ? 'no records yet' : `lag ${formatLag(c.lagSeconds)}`;
      lines.push(
        `  ${c.contentType.padEnd(27)} blobs ${String(c.blobs).padStart(5)}  records ${String(c.records).padStart(7)}  duplicates ${String(c.duplicates).padStart(5)}  malformed ${String(c.malformed).padStart(4)}  errors ${String(c.errors).padStart(3)}  ${lag}`,
      );
      if (c.subscriptionStarted) lines.push('    subscription started now: Microsoft can take up to 12 hours to publish the first content');
      if (c.lost) lines.push(`    LOST: content from ${c.lost.from} to ${c.lost.to} fell out of the 7-day retention before it was read`);
      for (const m of c.errorMessages.slice(0, 5)) lines.push(`    error: ${m}`);
    }
  }
  const t = r.totals;
  lines.push(`total: ${r.tenants.length} tenant(s), ${t.blobs} blobs, ${t.records} new records, ${t.duplicates} duplicates dropped, ${t.malformed} malformed, ${t.errors} errors`);
  return lines.join('\n') + '\n';
}

function formatLag(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}
