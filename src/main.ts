// The composition root: the only place that builds concrete adapters. Reads nothing itself (the config
// is parsed once by the caller), opens the store, builds every module and starts the loops the roles ask
// for: poll jobs (worker: pg-boss on PostgreSQL, the in-process scheduler on SQLite), the notification
// dispatcher (worker) and the web server with the webhook receiver (web). stop() finishes in-flight work (blobs being committed, notifications being sent),
// persists cursors and closes the store.
import type { Config } from './config.ts';
import { OperatorError } from './errors.ts';
import { createPoller, type Poller, type PollerDeps } from './ingest/poller.ts';
import { normalizeRecord } from './ingest/normalize.ts';
import { registerIngestWebhook, WEBHOOK_PATH } from './ingest/webhook.ts';
import type { Logger } from './log.ts';
import { createM365Http, type M365Http } from './m365/http.ts';
import { createManagementApi, type ManagementApi } from './m365/management-api.ts';
import { createTokenProvider } from './m365/token.ts';
import type { DetectorLike, PipelineDeps } from './pipeline.ts';
import { recordDetections } from './alerts/record.ts';
import type { Dispatcher } from './notify/dispatcher.ts';
import { startNotifyDispatcher } from './notify/wiring.ts';
import { observeSignInRecords } from './enrich/baseline.ts';
import { withStoredNotifySettings } from './web/settings.ts';
import { createM365Clients } from './m365/clients.ts';
import { startContextRefresh } from './tenants/refresh.ts';
import type { TokenProvider } from './m365/token.ts';
import { createChannels } from './notify/channels/index.ts';
import { openStore, type Store } from './store/db.ts';
import { migrateToLatest } from './store/migrate.ts';
import { loadTenantContext } from './tenants/context.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';
import { createDetector } from './detect/detector.ts';
import { createGeoLookup } from './enrich/geo.ts';
import type { GeoLookup } from './enrich/geo.ts';
import { createPollJobs } from './scale/jobs.ts';
import { startBossScheduler, startLocalScheduler, type Scheduler } from './scale/scheduler.ts';
import { createClusterBudget, type ClusterBudget } from './scale/budget.ts';

export type Role = 'all' | 'worker' | 'web';

export interface StartOptions {
  roles: Role | Role[];
  logger: Logger;
  /** Detection (src/detect); records are stored and counted without it. */
  detector?: DetectorLike;
  /** Test seams for the poller (lease, retry base, clock). */
  poller?: Partial<Pick<PollerDeps, 'leaseMs' | 'retryBaseMs' | 'initialLookbackMs' | 'now'>>;
  /** Run poll jobs (default true for workers); false leaves polling to explicit service.poller.pollOnce() calls. */
  pollLoop?: boolean;
}

export interface Service {
  stop(): Promise<void>;
  webUrl?: string;
  poller?: Poller;
  /** The scheduler (src/scale) this process sends or runs poll jobs through: pg-boss on PostgreSQL, in-process on SQLite. */
  scheduler?: Scheduler;
  store: Store;
}

export interface IngestParts {
  store: Store;
  tokens: TokenProvider;
  http: M365Http;
  api: ManagementApi;
  pipeline: PipelineDeps;
  /** PostgreSQL: the cluster-wide per-tenant request budget the HTTP client spends (src/scale/budget.ts). */
  budget?: ClusterBudget;
}

/** The detector from configuration: built-in rules + detect.ruleDirs, overrides, offline geo (shared with alert enrichment). */
export function buildPipelineDetector(config: Readonly<Config>): { detector: DetectorLike; geo?: GeoLookup } {
  const { pack, problems } = loadRulePackFromDirs(config.detect.ruleDirs);
  if (problems.length) throw new OperatorError('TW_RULES_INVALID', { count: problems.length }, { details: problems });
  const geo = config.enrich.geo === 'none' ? undefined : createGeoLookup({ cityDb: config.enrich.cityDb, asnDb: config.enrich.asnDb });
  return { detector: createDetector({ pack, geo, overrides: config.detect.overrides }), geo };
}

/** Opens the store (migrated) and builds the Management API client and the record pipeline (with detection). */
export async function buildIngest(config: Readonly<Config>, logger: Logger, detector?: DetectorLike): Promise<IngestParts> {
  let geo: GeoLookup | undefined;
  if (!detector) ({ detector, geo } = buildPipelineDetector(config));
  const store = await openStore(config.store.url);
  const report = await migrateToLatest(store.db);
  if (!report.ok) {
    await store.close();
    const failed = report.steps.find((s) => s.status === 'failed');
    throw new OperatorError('TW_MIGRATION_FAILED', { step: failed?.name ?? '?', reason: failed?.error ?? '?' });
  }
  const tokens = createTokenProvider({ config, logger });
  // Several processes share PostgreSQL: the per-tenant request budget is the cluster's, kept in the store.
  // SQLite is one process: the HTTP client's own budget is the whole budget.
  const budget =
    store.dialect === 'postgres' ? createClusterBudget({ db: store.db, requestsPerMinute: config.microsoft.requestsPerMinutePerTenant, logger }) : undefined;
  const http = createM365Http({ config, tokens, logger, budget });
  const api = createManagementApi({ config, http, logger });
  const pipeline: PipelineDeps = {
    normalize: (raw) => normalizeRecord(raw),
    detector,
    loadContext: (db, tenantId) => loadTenantContext(db, tenantId),
    recordDetections: (trx, detections, ctx) => recordDetections(trx, detections, { config, geo, context: (t) => (t === ctx.tenantId ? ctx : undefined) }),
    observeRecords: (trx, records) => observeSignInRecords(trx, records, geo),
    maxRawRecordBytes: config.ingest.maxRawRecordBytes,
    logger,
  };
  return { store, tokens, http, api, pipeline, budget };
}

/** The webhook address and auth id, when webhook mode is on (both must be configured). */
export function webhookTarget(config: Readonly<Config>): { address: string; authId: string } | undefined {
  if (!config.ingest.webhook.enabled) return undefined;
  const missing: string[] = [];
  if (!config.web.publicUrl) missing.push('web.publicUrl');
  if (!config.ingest.webhook.authId) missing.push('ingest.webhook.authId');
  if (missing.length) throw new OperatorError('TW_INGEST_WEBHOOK_CONFIG', { missing: missing.join(' and ') });
  return { address: `${config.web.publicUrl!.replace(/\/+$/, '')}${WEBHOOK_PATH}`, authId: config.ingest.webhook.authId! };
}

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

export async function startService(config: Readonly<Config>, opts: StartOptions): Promise<Service> {
  const roles = new Set(Array.isArray(opts.roles) ? opts.roles : [opts.roles]);
  const worker = roles.has('all') || roles.has('worker');
  const web = roles.has('all') || roles.has('web');
  const logger = opts.logger;
  const webhook = webhookTarget(config);
  const parts = await buildIngest(config, logger, opts.detector);
  const { store } = parts;
  const stops: Array<() => Promise<void>> = [];

  let poller: Poller | undefined;
  let dispatcher: Dispatcher | undefined;
  let scheduler: Scheduler | undefined;
  const runJobs = worker && opts.pollLoop !== false;
  try {
    poller = createPoller({ db: store.db, api: parts.api, config, pipeline: parts.pipeline, logger, webhook: worker ? webhook : undefined, ...opts.poller });
    let webUrl: string | undefined;
    // The web server (and its webhook receiver) listens before the poller's first cycle starts
    // subscriptions with a webhook: Microsoft validates the address during subscriptions/start.
    if (web) {
      const p = poller;
      // Imported only by web processes: a worker never loads fastify, its plugins or the console's files.
      const { buildServer } = await import('./web/server.ts');
      const app = await buildServer({
        db: store.db,
        config,
        logger,
        // The console's Microsoft calls (remediation, tenant checks) share this process's token cache and budget.
        m365: createM365Clients(config, { logger, tokens: parts.tokens, http: parts.http }),
        routes: [
          async (a) =>
            registerIngestWebhook(a, {
              db: store.db,
              config,
              logger,
              registerNotified: async (blobs) => {
                const n = await p.registerNotified(blobs);
                // A worker's poller (webhook mode) has just started fetching them itself (poller.registerNotified);
                // a web-only process hands them to any worker: one poll job per announced tenant × content type.
                if (scheduler && n > 0 && !(worker && webhook)) {
                  const keys = new Map(blobs.map((b) => [`${b.tenantId}|${b.contentType}`, { tenantId: b.tenantId, contentType: b.contentType }]));
                  await scheduler.enqueue([...keys.values()]);
                }
                return n;
              },
            }),
        ],
      });
      const { host, port } = parseListen(config.web.listen);
      const addr = await app.listen({ host, port });
      webUrl = addr;
      stops.push(async () => app.close());
      logger.info({ url: addr }, 'web server listening');
    }
    // Poll jobs (tenant × content type, src/scale/jobs.ts), planned every ingest.pollIntervalSeconds and sent
    // by webhook notifications. PostgreSQL: pg-boss spreads them over every worker process; web processes only
    // send jobs. SQLite (one process): the same jobs from the in-process scheduler.
    const jobs = runJobs
      ? createPollJobs({ db: store.db, api: parts.api, config, pipeline: parts.pipeline, logger, webhook, owner: poller.owner, ...opts.poller })
      : undefined;
    if (store.dialect === 'postgres' && (web || jobs)) {
      const sch = await startBossScheduler({ url: config.store.url, db: store.db, config, logger, jobs, role: [...roles].join('+') });
      scheduler = sch;
      stops.push(async () => sch.stop());
    } else if (jobs) {
      const sch = startLocalScheduler({ db: store.db, config, logger, jobs, role: [...roles].join('+') });
      scheduler = sch;
      stops.push(async () => sch.stop());
    }
    if (worker) {
      stops.push(async () => poller!.stop());
      // Channels and routes saved from the console (settings table) win over the file's.
      const notifyConfig = await withStoredNotifySettings(store.db, config);
      const channels = createChannels(notifyConfig.notify);
      // Console links and signed Secure-and-Remediate links when web.publicUrl / remediate.linkSecret are set.
      dispatcher = startNotifyDispatcher(notifyConfig, {
        db: store.db,
        channels,
        logger,
        onError: (e) => logger.error({ err: (e as Error)?.message }, 'dispatcher error'),
      });
      stops.push(async () => dispatcher!.stop());
      // Tenant contexts (accepted domains, recipients) and health stay fresh: every 6 h, first after 5 min
      // (onboarding has just loaded them; `tenants health` refreshes on demand).
      const clients = createM365Clients(config, { logger, tokens: parts.tokens, http: parts.http });
      const refresher = startContextRefresh({ db: store.db, config, clients, logger }, { initialDelayMs: 5 * 60_000 });
      stops.push(async () => refresher.stop());
    }
    let stopped: Promise<void> | undefined;
    return {
      webUrl,
      poller,
      scheduler,
      store,
      stop: () =>
        (stopped ??= (async () => {
          // Web first (no new webhook work), then the loops finish what they hold, then the store.
          for (const s of stops) await s().catch((e) => logger.error({ err: (e as Error)?.message }, 'stop failed'));
          await parts.http.close().catch(() => {});
          await store.close();
        })()),
    };
  } catch (e) {
    for (const s of stops) await s().catch(() => {});
    await parts.http.close().catch(() => {});
    await store.close();
    throw e;
  }
}
