// buildServer(deps): the console, the JSON API (contracts §6), health and metrics. It never listens by
// itself; main.ts calls listen(), tests use inject(). Route modules are registered from one list.
import { existsSync } from 'node:fs';
import path from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { sql, type Kysely } from 'kysely';
import client from 'prom-client';
import type { Config } from '../config.ts';
import type { Database } from '../store/schema.ts';
import { isOperatorError, OperatorError } from '../errors.ts';
import { silentLogger, scrub, type Logger } from '../log.ts';
import { csrfOk, defaultPermission, guard, resolveAuth } from './auth.ts';
import { createLiveHub, type LiveHub } from './live.ts';
import type { AlertsPort, ChannelsPort, ExclusionsPort, NotificationsPort, ReadyCheck, RouteHelpers, RouteRegistrar, TenantsPort } from './ports.ts';
import { registerSessionRoutes } from './routes/session.ts';
import { registerAlertRoutes } from './routes/alerts.ts';
import { registerTenantRoutes } from './routes/tenants.ts';
import { registerSettingsRoutes } from './routes/settings.ts';
import { registerUserRoutes } from './routes/users.ts';
import { registerLiveRoutes } from './routes/live.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { createM365Clients, type M365Clients } from '../m365/clients.ts';
import { registerRemediationRoutes } from '../remediate/routes.ts';
import { storeAlerts, storeChannels, storeTenants, validateChannel } from './wiring.ts';
import { exclusionsPort } from '../alerts/ports.ts';
import { notificationsPort } from '../notify/wiring.ts';
import { PROJECT_ROOT } from '../paths.ts';

export interface WebDeps {
  db: Kysely<Database>;
  config: Readonly<Config>;
  logger?: Logger;
  alerts?: AlertsPort;
  exclusions?: ExclusionsPort;
  tenants?: TenantsPort;
  channels?: ChannelsPort;
  notifications?: NotificationsPort;
  /** Channel-type specific checks (the notify module's schemas) on top of the config file's schema. */
  validateChannel?: (channel: Record<string, unknown>) => string[];
  /** Route modules owned by others: registerRemediationRoutes, registerIngestWebhook … */
  routes?: RouteRegistrar[];
  /** Extra readiness checks (loops alive …) beside "store reachable". */
  ready?: ReadyCheck[];
  metricsRegistry?: client.Registry;
  /** Microsoft clients for remediation and tenant actions; built from the config on first use when absent. */
  m365?: M365Clients;
  /** Register the remediation routes of src/remediate (default true). */
  remediation?: boolean;
  /** Directory of the console build; default console/dist of this package; false serves none. */
  consoleDir?: string | false;
  bodyLimit?: number;
  loginRateLimit?: { max: number; timeWindowMs: number };
  liveIntervalMs?: number;
}

/** Everything a route module of web/ gets. */
export interface WebContext extends WebDeps, RouteHelpers {
  live: LiveHub;
  logger: Logger;
}

export const DEFAULT_CONSOLE_DIR = path.join(PROJECT_ROOT, 'console/dist');

/** The one list of web/'s own route modules. */
const ROUTES: Array<(app: FastifyInstance, ctx: WebContext) => void | Promise<void>> = [
  registerHealthRoutes,
  registerSessionRoutes,
  registerAlertRoutes,
  registerTenantRoutes,
  registerSettingsRoutes,
  registerUserRoutes,
  registerLiveRoutes,
];

export async function buildServer(deps: WebDeps): Promise<FastifyInstance> {
  const logger = deps.logger ?? silentLogger();
  const bodyLimit = deps.bodyLimit ?? 256 * 1024;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    trustProxy: deps.config.web.trustProxy,
    routerOptions: { maxParamLength: 200 },
    // Alert ids and paths never need huge query strings.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }) as unknown as FastifyInstance;

  // Clients are built on first use, so a console without Microsoft configuration still starts.
  let ownClients: M365Clients | undefined;
  const clients = () => deps.m365 ?? (ownClients ??= createM365Clients(deps.config, { logger }));
  const lazy = <T extends object>(get: () => T): T =>
    new Proxy({} as T, {
      get: (_t, p) => {
        const target = get() as Record<PropertyKey, unknown>;
        const v = target[p];
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  const hasMemory = deps.config.notify.channels.some((c) => c.type === 'memory');
  deps = {
    ...deps,
    alerts: deps.alerts ?? storeAlerts(deps.db),
    exclusions: deps.exclusions ?? exclusionsPort(deps.db),
    tenants: deps.tenants ?? storeTenants({ db: deps.db, config: deps.config, clients, logger }),
    channels: deps.channels ?? storeChannels(deps.db, deps.config),
    notifications: deps.notifications ?? (hasMemory ? notificationsPort() : undefined),
    validateChannel: deps.validateChannel ?? validateChannel,
  };

  const live = createLiveHub({ alerts: deps.alerts, intervalMs: deps.liveIntervalMs ?? 1000, logger });
  const ctx: WebContext = {
    ...deps,
    logger,
    live,
    currentUser: async (req) => (await resolveAuth(deps.db, req))?.user,
    checkCsrf: async (req) => {
      await resolveAuth(deps.db, req);
      return csrfOk(req);
    },
    publish: (event, data) => live.publish(event, data),
  };

  app.setErrorHandler((err: FastifyError | OperatorError, req, reply) => {
    if (isOperatorError(err)) {
      if (err.code === 'TW_WEB_RATE_LIMITED') void reply.header('retry-after', '60');
      return reply.status(err.httpStatus).send({ error: err.toJSON() });
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      return reply.status(413).send({ error: new OperatorError('TW_WEB_BODY_TOO_LARGE', { limit: bodyLimit }).toJSON() });
    }
    if (status === 429) {
      return reply.status(429).send({ error: new OperatorError('TW_WEB_RATE_LIMITED', { retryAfter: reply.getHeader('retry-after') ?? 'a minute' }).toJSON() });
    }
    if (status >= 400 && status < 500) {
      return reply.status(status).send({ error: new OperatorError('TW_WEB_BAD_REQUEST', { detail: scrub(err.message).slice(0, 300) }).toJSON() });
    }
    req.log.error({ err: scrub(String(err.stack ?? err.message)) }, 'request failed');
    return reply.status(500).send({ error: new OperatorError('TW_INTERNAL', { detail: 'see the service log' }).toJSON() });
  });

  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
    },
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  await app.register(cookie);
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, context) => new OperatorError('TW_WEB_RATE_LIMITED', { retryAfter: context.after }),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'tenantwatch API', version: '1', description: 'JSON API of the tenantwatch console (contracts §6).' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'tw_session' },
          csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [], csrf: [] }, { bearer: [] }],
    },
  });

  // Every /api route states who may call it; routes registered by other modules get the default policy.
  app.addHook('onRoute', (route) => {
    const url = route.url ?? '';
    if (!url.startsWith('/api/')) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    route.config = { ...(route.config ?? {}), permission: route.config?.permission ?? defaultPermission(String(methods[0]), url) };
  });
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/')) return;
    await guard(deps.db, req, reply);
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/api/')) void reply.header('cache-control', 'no-store');
    return payload;
  });
  app.addHook('onClose', async () => {
    live.close();
    await ownClients?.close().catch(() => {});
  });

  for (const register of ROUTES) await register(app, ctx);
  if (deps.remediation !== false) {
    await registerRemediationRoutes(app, {
      db: deps.db as Parameters<typeof registerRemediationRoutes>[1]['db'],
      config: deps.config,
      graph: lazy(() => clients().graph),
      exchange: lazy(() => clients().exchange),
      currentUser: ctx.currentUser,
      checkCsrf: ctx.checkCsrf,
      publish: ctx.publish,
      logger,
    });
  }
  for (const register of deps.routes ?? []) await register(app, ctx);

  app.get('/api/openapi.json', { config: { permission: 'public' }, schema: { hide: true } }, async () => app.swagger());

  const consoleDir = deps.consoleDir === undefined ? DEFAULT_CONSOLE_DIR : deps.consoleDir;
  if (consoleDir && existsSync(path.join(consoleDir, 'index.html'))) {
    await app.register(fastifyStatic, {
      root: consoleDir,
      wildcard: false,
      index: false,
      setHeaders: (res, file) => {
        void res.header('cache-control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
    app.get('/', { schema: { hide: true } }, (_req, reply) => reply.header('cache-control', 'no-cache').sendFile('index.html'));
    app.setNotFoundHandler((req, reply) => {
      if (req.method === 'GET' && !req.url.startsWith('/api/') && !path.extname(req.url.split('?')[0])) {
        return reply.header('cache-control', 'no-cache').sendFile('index.html');
      }
      return reply.status(404).send({ error: new OperatorError('TW_NOT_FOUND', { what: `route ${req.method} ${req.url.split('?')[0].slice(0, 200)}` }).toJSON() });
    });
  } else {
    app.setNotFoundHandler((req, reply) =>
      reply.status(404).send({ error: new OperatorError('TW_NOT_FOUND', { what: `route ${req.method} ${req.url.split('?')[0].slice(0, 200)}` }).toJSON() }),
    );
  }
  return app;
}

/** Store reachable: a trivial query. */
export async function storeReachable(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
