// Child process for notify-crash.test.ts: runs a dispatcher against the given store and receiver until
// the outbox is empty, then prints "done". The parent SIGKILLs it at random points.
import { openStore } from '../src/store/db.ts';
import { createChannels } from '../src/notify/channels/index.ts';
import { startDispatcher } from '../src/notify/dispatcher.ts';
import { notifyHealth } from '../src/notify/outbox.ts';

const [storeUrl, receiverUrl, secret] = process.argv.slice(2);
setTimeout(() => process.exit(3), 60_000).unref();
const store = await openStore(storeUrl, { poolSize: 4 });
const notify = {
  channels: [
    { name: 'hook-a', type: 'webhook', url: `${receiverUrl}/a`, secret, timeoutMs: 2000 },
    { name: 'hook-b', type: 'webhook', url: `${receiverUrl}/b`, secret, timeoutMs: 2000 },
  ],
  routes: [],
};
const d = startDispatcher({ db: store.db, channels: createChannels(notify), pollMs: 5, leaseMs: 2500, perChannelConcurrency: 3, baseBackoffMs: 10 });
process.stdout.write('ready\n');
for (;;) {
  const h = await notifyHealth(store.db);
  if (h.pending + h.sending === 0) break;
  await new Promise((r) => setTimeout(r, 10));
}
await d.stop();
await store.close();
process.stdout.write('done\n');
