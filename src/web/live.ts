// Server-sent events for the console: one hub per server. Alerts changes are found by polling the
// alerts port's version (works when another process wrote them), and any module may publish directly.
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import type { AlertsPort } from './ports.ts';

export interface LiveHub {
  attach(res: ServerResponse): void;
  publish(event: string, data: unknown): void;
  clients(): number;
  close(): void;
}

export function createLiveHub(opts: { alerts?: AlertsPort; intervalMs: number; logger?: Logger }): LiveHub {
  const clients = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let last: string | undefined;
  let busy = false;

  const send = (res: ServerResponse, chunk: string) => {
    try {
      res.write(chunk);
    } catch {
      clients.delete(res);
    }
  };
  const publish = (event: string, data: unknown) => {
    const chunk = `event: ${event.replace(/[\r\n]/g, '')}\ndata: ${JSON.stringify(data ?? null)}\n\n`;
    for (const c of clients) send(c, chunk);
  };

  async function version(): Promise<string | undefined> {
    if (!opts.alerts) return undefined;
    if (opts.alerts.version) return opts.alerts.version();
    const page = await opts.alerts.list({ limit: 50 });
    return createHash('sha256')
      .update(JSON.stringify(page.items.map((a) => [a.id, a.status, a.count, a.lastSeen])))
      .digest('hex');
  }

  async function tick(): Promise<void> {
    if (busy || clients.size === 0) return;
    busy = true;
    try {
      const v = await version();
      if (v !== undefined && last !== undefined && v !== last) publish('alerts', { version: v });
      last = v;
    } catch (e) {
      opts.logger?.warn({ err: (e as Error).message }, 'live: alerts version check failed');
    } finally {
      busy = false;
    }
  }

  function start(): void {
    if (timer) return;
    timer = setInterval(() => void tick(), opts.intervalMs);
    heartbeat = setInterval(() => {
      for (const c of clients) send(c, ': keep-alive\n\n');
    }, 15_000);
    timer.unref();
    heartbeat.unref();
  }

  function stopIfIdle(): void {
    if (clients.size > 0) return;
    clearInterval(timer);
    clearInterval(heartbeat);
    timer = heartbeat = undefined;
  }

  return {
    attach(res) {
      clients.add(res);
      res.on('close', () => {
        clients.delete(res);
        stopIfIdle();
      });
      send(res, `retry: 3000\nevent: hello\ndata: {}\n\n`);
      start();
      void tick();
    },
    publish,
    clients: () => clients.size,
    close() {
      for (const c of clients) c.end();
      clients.clear();
      stopIfIdle();
    },
  };
}
