// `tenantwatch run`: the long-running service (poller + dispatcher + web server, or one role of them).
// SIGTERM/SIGINT stop it gracefully: the web server stops taking requests, blobs in flight are committed,
// cursors persisted, notifications in flight finish; then the process exits 0.
import { getHeapStatistics } from 'node:v8';
import type { Command } from 'commander';
import { startService, type Role } from '../main.ts';
import { OperatorError } from '../errors.ts';
import { action, configFor, loggerFor } from './common.ts';

const ROLES: Role[] = ['all', 'worker', 'web'];

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the service: poll every tenant, detect, alert, notify, serve the console and webhook receiver')
    .option('--role <role>', 'all | worker (poller + dispatcher) | web (console, API, webhook receiver)', 'all')
    .action(
      action(async (opts: { role: string }, c: Command) => {
        if (!ROLES.includes(opts.role as Role)) throw new OperatorError('TW_USAGE', { detail: `--role must be one of ${ROLES.join(', ')}` });
        const config = configFor(c);
        const logger = loggerFor(config);
        // The heap limit decides how far V8 lets garbage grow before collecting (docs/deployment.md, worker memory).
        logger.info({ role: opts.role, heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 1048576) }, 'starting');
        const service = await startService(config, { roles: opts.role as Role, logger });
        process.stdout.write(`tenantwatch running (role ${opts.role})${service.webUrl ? ` on ${service.webUrl}` : ''}\n`);
        await new Promise<void>((resolve) => {
          const onSignal = (sig: string): void => {
            logger.info({ signal: sig }, 'stopping');
            resolve();
          };
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
        });
        await service.stop();
        process.stdout.write('tenantwatch stopped\n');
        return 0;
      }),
    );
}
