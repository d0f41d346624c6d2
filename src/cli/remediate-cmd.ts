// `tenantwatch remediate <alert id> [--steps a,b] [--dry-run] [--undo <run id>]`: runs the remediation
// playbook from the terminal, prints one line per step; a new password goes to this terminal only, once.
import os from 'node:os';
import type { Command } from 'commander';
import { OperatorError } from '../errors.ts';
import { createExchangeClient } from '../m365/exchange.ts';
import { createGraphClient } from '../m365/graph.ts';
import { createM365Http } from '../m365/http.ts';
import { createTokenProvider } from '../m365/token.ts';
import { STEP_IDS } from '../remediate/catalogue.ts';
import { listRuns } from '../remediate/log-store.ts';
import { exchangePort, graphPort } from '../remediate/m365-adapter.ts';
import type { RunResult, StepResult } from '../remediate/playbook-types.ts';
import { parseSteps, remediateAlert } from '../remediate/service.ts';
import { undoRun } from '../remediate/undo.ts';
import { action, configFor, loggerFor, storeFor } from './common.ts';

interface Opts {
  steps?: string;
  dryRun?: boolean;
  undo?: string;
  removeRules?: boolean;
  passwordMode?: 'random' | 'force-change';
  list?: boolean;
  json?: boolean;
  actor?: string;
}

const MARK: Record<string, string> = { succeeded: 'ok  ', failed: 'FAIL', skipped: 'skip', planned: 'plan' };

export function formatStep(r: StepResult): string {
  const lines = [`${MARK[r.status] ?? r.status} ${r.step}: ${r.detail}`];
  if (r.error) {
    lines.push(`     microsoft: ${r.error.code ? `${r.error.code}: ` : ''}${r.error.message}`);
    if (r.error.fix) lines.push(`     fix: ${r.error.fix}`);
  }
  for (const i of r.items ?? []) lines.push(`     - ${i.name}${i.hidden ? ' (hidden)' : ''}: ${i.status}${i.why ? ` (${i.why})` : ''}${i.error ? ` — ${i.error.message}` : ''}`);
  return lines.join('\n');
}

function actorName(given?: string): string {
  if (given) return given.slice(0, 100);
  try {
    return `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    return `cli@${os.hostname()}`;
  }
}

export function registerRemediate(program: Command): void {
  program
    .command('remediate')
    .description('secure an account: run the remediation playbook for an alert (or undo a run, or list runs)')
    .argument('[alertId]', 'the alert to remediate')
    .option('--steps <list>', `comma-separated steps (default: pre-selected by the alert's behaviour): ${STEP_IDS.join(', ')}`)
    .option('--dry-run', 'list exactly what would change (rules, forwarding values) without changing anything')
    .option('--undo <runId>', 'revert the reversible steps of an earlier run')
    .option('--remove-rules', 'remove the matching inbox rules instead of disabling them (cannot be undone)')
    .option('--password-mode <mode>', 'random (shown once, here) | force-change (nobody sees it); default remediate.passwordMode')
    .option('--list', 'list recent remediation runs (of the alert, when given)')
    .option('--actor <name>', 'who is running this (default: OS user@host)')
    .option('--json', 'print the run as JSON (the new password is then on stdout too)')
    .action(
      action(async (alertId: string | undefined, opts: Opts, c: Command) => {
        const config = configFor(c);
        const logger = loggerFor(config);
        const store = await storeFor(config);
        const out = process.stdout;
        try {
          if (opts.list) {
            const runs = await listRuns(store.db, { alertId, limit: 50 });
            if (opts.json) out.write(JSON.stringify(runs) + '\n');
            else for (const r of runs) out.write(`${r.startedAt} ${r.id} ${r.undoOf ? `undo of ${r.undoOf}` : r.alertId} ${r.status} by ${r.actor} via ${r.source}: ${r.steps.map((s) => `${s.step}=${s.status}`).join(' ')}\n`);
            return 0;
          }
          if (opts.passwordMode !== undefined && opts.passwordMode !== 'random' && opts.passwordMode !== 'force-change') {
            throw new OperatorError('TW_USAGE', { detail: '--password-mode must be random or force-change' });
          }
          if (!opts.undo && !alertId) throw new OperatorError('TW_USAGE', { detail: 'give an alert id, or --undo <run id>, or --list' });
          const steps = opts.steps === undefined ? undefined : parseSteps(opts.steps);
          const tokens = createTokenProvider({ config, logger });
          const http = createM365Http({ config, tokens, logger });
          try {
            const deps = {
              db: store.db, config, logger,
              graph: graphPort(createGraphClient(http, config)),
              exchange: exchangePort(createExchangeClient(http, config)),
            };
            const onStep = opts.json ? undefined : (r: StepResult) => out.write(formatStep(r) + '\n');
            const actor = actorName(opts.actor);
            const origin = `cli on ${os.hostname()}`;
            let r: RunResult;
            if (opts.undo) r = await undoRun(deps, { runId: opts.undo, actor, source: 'cli', origin, dryRun: opts.dryRun, onStep });
            else {
              r = await remediateAlert(deps, {
                alertId: alertId!, steps, actor, source: 'cli', origin, dryRun: opts.dryRun, ruleAction: opts.removeRules ? 'remove' : 'disable', passwordMode: opts.passwordMode, onStep,
              });
            }
            if (opts.json) out.write(JSON.stringify(r) + '\n');
            else {
              out.write(`run ${r.runId}${r.undoOf ? ` (undo of ${r.undoOf})` : ''}: ${r.status}\n`);
              // The one place a new password is shown: this terminal, once. Never logged.
              if (r.newPassword) out.write(`new password for ${r.steps.find((s) => s.step === 'reset-password')?.target ?? 'the user'} (shown once, stored nowhere): ${r.newPassword}\n`);
            }
            return r.status === 'failed' || r.status === 'partially-succeeded' ? 1 : 0;
          } finally {
            await http.close();
          }
        } finally {
          await store.close();
        }
      }),
    );
}
