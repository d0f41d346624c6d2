// `tenantwatch channels list|test <name>|health`: the notification channels from the configuration.
import type { Command } from 'commander';
import { OperatorError } from '../errors.ts';
import { createChannels } from '../notify/channels/index.ts';
import { notifyLinks, sendTestMessage } from '../notify/wiring.ts';
import { notifyHealth, retryDeadLetters } from '../notify/outbox.ts';
import { action, configFor, storeFor } from './common.ts';

export function registerChannels(program: Command): void {
  const cmd = program.command('channels').description('notification channels: list, send a test message, delivery health');
  cmd
    .command('list')
    .description('the configured channels and routes (secrets never shown)')
    .action(
      action(async (_o: unknown, c: Command) => {
        const config = configFor(c);
        createChannels(config.notify);
        for (const ch of config.notify.channels) process.stdout.write(`${ch.name}  ${ch.type}\n`);
        if (config.notify.channels.length === 0) process.stdout.write('no channels configured (notify.channels)\n');
        if (config.notify.routes.length === 0) process.stdout.write('routes: none (every alert goes to every channel)\n');
        for (const r of config.notify.routes) process.stdout.write(`route -> ${r.channels.join(', ')}${r.minSeverity ? ` severity>=${r.minSeverity}` : ''}${r.tenants ? ` tenants=${r.tenants.join(',')}` : ''}${r.behaviours ? ` behaviours=${r.behaviours.join(',')}` : ''}\n`);
      }),
    );
  cmd
    .command('test')
    .description('send a test message through one channel now and print the result')
    .argument('<name>')
    .action(
      action(async (name: string, _o: unknown, c: Command) => {
        const config = configFor(c);
        const channels = createChannels(config.notify);
        const ch = channels.get(name);
        if (!ch) throw new OperatorError('TW_NOTIFY_NO_CHANNEL', { name: name.slice(0, 100) });
        try {
          const r = await sendTestMessage(ch, notifyLinks(config));
          if (r.ok) {
            process.stdout.write(`ok ${name} (${ch.type}): ${r.detail ?? 'accepted'}\n`);
            return 0;
          }
          throw new OperatorError('TW_NOTIFY_SEND_FAILED', { name, reason: `${r.error}${r.retry ? ' (temporary)' : ''}` });
        } finally {
          await ch.close?.();
        }
      }),
    );
  cmd
    .command('health')
    .description('outbox health: pending, dead letters (gave up after notify.maxAttempts), per channel')
    .option('--json', 'print as JSON')
    .option('--retry-dead [channel]', 'put dead-lettered notifications back in the queue (all, or of one channel)')
    .action(
      action(async (o: { json?: boolean; retryDead?: string | boolean }, c: Command) => {
        const store = await storeFor(configFor(c));
        try {
          if (o.retryDead) {
            const n = await retryDeadLetters(store.db, new Date().toISOString(), typeof o.retryDead === 'string' ? o.retryDead : undefined);
            process.stdout.write(`requeued ${n} notification(s)\n`);
          }
          const h = await notifyHealth(store.db);
          if (o.json) {
            process.stdout.write(JSON.stringify(h) + '\n');
            return h.dead > 0 ? 1 : 0;
          }
          process.stdout.write(`pending ${h.pending}, sending ${h.sending}, sent ${h.sent}, dead ${h.dead}${h.oldestPendingAt ? `, oldest pending since ${h.oldestPendingAt}` : ''}\n`);
          for (const [name, ch] of Object.entries(h.byChannel)) process.stdout.write(`  ${name}: pending ${ch.pending}, dead ${ch.dead}${ch.lastError ? `, last error: ${ch.lastError}` : ''}\n`);
          for (const d of h.deadLetters.slice(0, 20)) process.stdout.write(`  dead: ${d.id} after ${d.attempts} attempt(s): ${d.lastError ?? ''}\n`);
          return h.dead > 0 ? 1 : 0;
        } finally {
          await store.close();
        }
      }),
    );
}
