// Composition helpers for main.ts and the CLI: links in notifications, and the ports the web server
// consumes (channel test, the memory channel's inbox). Plain functions over the config.
import type { Kysely } from 'kysely';
import type { Config } from '../config.ts';
import type { Database } from '../store/schema.ts';
import { signRemediationLink } from '../remediate/links.ts';
import { defaultSteps } from '../remediate/catalogue.ts';
import type { Channel, NotificationMessage, NotificationView, SendResult } from './types.ts';
import { sendNow, startDispatcher, type Dispatcher, type DispatcherDeps } from './dispatcher.ts';
import { testView } from './view.ts';
import { memoryInboxes } from './channels/memory.ts';
import type { Logger } from '../log.ts';

export interface NotifyLinks {
  alertUrl?: (alertId: string) => string | undefined;
  linkFor?: (view: NotificationView) => string | undefined;
}

/** Console and Secure-and-Remediate links, when web.publicUrl (and remediate.linkSecret) are configured. */
export function notifyLinks(config: Pick<Config, 'web' | 'remediate'>, now: () => Date = () => new Date()): NotifyLinks {
  const base = config.web.publicUrl?.replace(/\/+$/, '');
  if (!base) return {};
  const out: NotifyLinks = { alertUrl: (id) => `${base}/alerts/${encodeURIComponent(id)}` };
  if (config.remediate.linkSecret) {
    out.linkFor = (v) => {
      const steps = defaultSteps(v.behaviour);
      if (steps.length === 0) return undefined;
      return signRemediationLink(config, { alertId: v.alertId, steps }, { now: now() }).url;
    };
  }
  return out;
}

/** The dispatcher as main.ts starts it, from the config. */
export function startNotifyDispatcher(config: Pick<Config, 'web' | 'remediate' | 'notify'>, deps: Omit<DispatcherDeps, 'maxAttempts' | 'alertUrl' | 'linkFor'>): Dispatcher {
  return startDispatcher({ ...deps, maxAttempts: config.notify.maxAttempts, ...notifyLinks(config) });
}

/** A test message through one channel, now (not through the outbox). */
export async function sendTestMessage(channel: Channel, links: NotifyLinks = {}, now = new Date()): Promise<SendResult> {
  const view = testView(now.toISOString());
  const m: NotificationMessage = { key: `test.${channel.name}.${now.getTime()}`, view };
  const a = links.alertUrl?.('test');
  if (a) m.alertUrl = a.replace(/\/alerts\/test$/, '/');
  return sendNow(channel, m);
}

/** For the web server: `ChannelsPort`. */
export function channelsPort(channels: ReadonlyMap<string, Channel>, opts: { db?: Kysely<Database>; logger?: Logger; links?: NotifyLinks } = {}) {
  return {
    async sendTest(name: string, actor: string): Promise<{ ok: boolean; error?: string }> {
      const ch = channels.get(name);
      if (!ch) return { ok: false, error: `no channel named ${name}` };
      const r = await sendTestMessage(ch, opts.links);
      opts.logger?.info({ channel: name, actor, ok: r.ok }, 'channel test message');
      if (opts.db) {
        await opts.db
          .insertInto('audit_trail')
          .values({ at: new Date().toISOString(), actor, action: 'channel-test', subject: name, detail_json: JSON.stringify(r.ok ? { ok: true } : { ok: false, error: r.error }) })
          .execute();
      }
      return r.ok ? { ok: true } : { ok: false, error: r.error };
    },
  };
}

/** For the web server: `NotificationsPort` — the memory channels' deliveries, newest first. */
export function notificationsPort() {
  return {
    async list(): Promise<Array<Record<string, unknown>>> {
      const all = memoryInboxes().flatMap((ch) =>
        ch.deliveries().map((d) => ({ channel: ch.name, key: d.key, at: d.at, alertId: d.message.view.alertId, event: d.message.view.event, severity: d.message.view.severity, teams: d.teams, slack: d.slack, email: d.email, webhook: d.webhook })),
      );
      return all.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    },
  };
}
