// `tenantwatch exclusions list|add|remove`: operator-defined suppressions (kept alerts, no notification).
import os from 'node:os';
import type { Command } from 'commander';
import { OperatorError } from '../errors.ts';
import { addExclusion, listExclusions, removeExclusion } from '../alerts/exclusions.ts';
import { action, configFor, parseDuration, storeFor } from './common.ts';

export function registerExclusions(program: Command): void {
  const cmd = program.command('exclusions').description('suppress alerts by tenant, user, destination, IP range (with expiry and reason)');
  cmd
    .command('list')
    .option('--json', 'print as JSON')
    .action(
      action(async (o: { json?: boolean }, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          const xs = await listExclusions(store.db, { includeExpired: true });
          if (o.json) process.stdout.write(JSON.stringify(xs) + '\n');
          else if (xs.length === 0) process.stdout.write('no exclusions\n');
          else
            for (const x of xs) {
              const scope = [x.tenantId && `tenant=${x.tenantId}`, x.user && `user=${x.user}`, x.behaviour && `behaviour=${x.behaviour}`, x.ruleId && `rule=${x.ruleId}`, x.destination && `destination=${x.destination}`, x.ipRange && `ip=${x.ipRange}`].filter(Boolean).join(' ');
              process.stdout.write(`${x.id}  ${scope}  until ${x.expiresAt ?? 'forever'}  "${x.reason}" (${x.createdBy})\n`);
            }
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('add')
    .requiredOption('--reason <text>', 'why (shown on every suppressed alert)')
    .option('--tenant <id>', 'only this tenant (default: every tenant)')
    .option('--user <upn>')
    .option('--behaviour <behaviour>')
    .option('--rule <ruleId>')
    .option('--destination <address>', 'an address or *@domain')
    .option('--ip <cidr>', 'an IP address or CIDR range')
    .option('--for <duration>', 'expires after, e.g. 7d')
    .option('--until <time>', 'expires at (ISO-8601)')
    .action(
      action(async (o: { reason: string; tenant?: string; user?: string; behaviour?: string; rule?: string; destination?: string; ip?: string; for?: string; until?: string }, c: Command) => {
        let expiresAt = o.until ? new Date(o.until) : undefined;
        if (o.for) expiresAt = new Date(Date.now() + parseDuration(o.for));
        if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new OperatorError('TW_USAGE', { detail: '--until is not a time' });
        const store = await storeFor(configFor(c));
        try {
          let actor = 'cli';
          try {
            actor = `${os.userInfo().username}@${os.hostname()}`;
          } catch {
            /* keep "cli" */
          }
          const id = await addExclusion(store.db, { reason: o.reason, tenantId: o.tenant, user: o.user, behaviour: o.behaviour, ruleId: o.rule, destination: o.destination, ipRange: o.ip, expiresAt: expiresAt?.toISOString(), createdBy: actor }, new Date().toISOString());
          process.stdout.write(`${id}\n`);
        } finally {
          await store.close();
        }
      }),
    );
  cmd
    .command('remove')
    .argument('<id>')
    .action(
      action(async (id: string, _o: unknown, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          if (!(await removeExclusion(store.db, id))) throw new OperatorError('TW_NOT_FOUND', { what: `exclusion ${id.slice(0, 100)}` });
          process.stdout.write(`removed ${id}\n`);
        } finally {
          await store.close();
        }
      }),
    );
}
