// Remediation over HTTP: the Secure and Remediate confirmation flow for signed links (GET shows, only the
// CSRF-protected POST acts) and the JSON API (contracts §6): POST /api/alerts/{id}/remediate,
// GET /api/remediations, GET /api/remediations/{runId}, POST /api/remediations/{runId}/undo,
// GET /api/alerts/{id}/remediation-plan.
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { OperatorError, isOperatorError } from '../errors.ts';
import { scrub, silentLogger, type Logger } from '../log.ts';
import type { Db } from '../store/db.ts';
import { nowIso } from '../store/db.ts';
import type { ExchangeClient } from '../m365/exchange.ts';
import type { GraphClient } from '../m365/graph.ts';
import { CATALOGUE, defaultSteps, orderSteps, type StepId } from './catalogue.ts';
import { indicatorsOf } from './evidence.ts';
import { checkLinkCsrf, linkCsrfToken, verifyRemediationLink, type LinkProblem } from './links.ts';
import { claimLinkNonce, getRun, linkUse, listRuns, setLinkRun, type RunRow } from './log-store.ts';
import { exchangePort, graphPort } from './m365-adapter.ts';
import { confirmPage, problemPage, resultRow, resultsEnd, resultsStart, STYLESHEET, STYLESHEET_PATH } from './page.ts';
import type { PlaybookDeps } from './playbook.ts';
import type { RunResult, StepResult } from './playbook-types.ts';
import type { RemediationExchange, RemediationGraph } from './ports.ts';
import { loadAlert, loadRelatedAlerts } from './alert-source.ts';
import { parseSteps, remediateAlert, requireAlert } from './service.ts';
import { undoRun } from './undo.ts';

/** Roles that may run or undo a remediation. */
export const REMEDIATE_ROLES: readonly string[] = ['admin', 'analyst'];

export interface RemediationUser {
  username: string;
  role: string;
}

export interface RemediationRouteDeps {
  db: Db;
  config: Readonly<Config>;
  /** The m365/ clients (or ready-made ports, which win). */
  graph?: GraphClient;
  exchange?: ExchangeClient;
  ports?: { graph: RemediationGraph; exchange: RemediationExchange };
  /** The console user of the request, when logged in (session cookie or API token). */
  currentUser(req: FastifyRequest): Promise<RemediationUser | undefined> | RemediationUser | undefined;
  /** True when the request carries the session's CSRF token or uses an API token (web/). */
  checkCsrf?(req: FastifyRequest): Promise<boolean> | boolean;
  /** Pushes an event to live consoles. */
  publish?(event: string, data: unknown): void;
  logger?: Logger;
  /**
   * Who may press a link's confirm button: 'login' requires a console login with a remediating role;
   * 'name' also lets someone without a console session confirm by typing a name (recorded with the
   * client address); 'auto' (default) is 'login' when the console has users and 'name' when it has none.
   */
  linkIdentity?: 'name' | 'login' | 'auto';
  now?: () => Date;
}

const LINK_COOKIE = 'tw_rl';
const PAGE_CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-robots-tag', 'noindex, nofollow')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', PAGE_CSP);
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function originOf(req: FastifyRequest): string {
  const ua = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].replace(/[\r\n]/g, ' ').slice(0, 160) : '';
  return `${req.ip}${ua ? ` (${ua})` : ''}`;
}

const PROBLEMS: Record<LinkProblem | 'unknown-alert' | 'used' | 'csrf' | 'forbidden' | 'login' | 'name' | 'no-steps', [string, number]> = {
  malformed: ['This link is not valid', 400],
  'bad-signature': ['This link is not valid', 403],
  expired: ['This link has expired', 410],
  'not-yet-valid': ['This link is not valid yet', 400],
  'unknown-alert': ['Unknown alert', 404],
  used: ['This link was already used', 409],
  csrf: ['The confirmation could not be verified', 403],
  forbidden: ['You may not remediate', 403],
  login: ['Sign in first', 401],
  name: ['Your name is needed', 400],
  'no-steps': ['No step selected', 400],
};

function sendProblem(reply: FastifyReply, kind: keyof typeof PROBLEMS, message: string): FastifyReply {
  const [title, status] = PROBLEMS[kind];
  const p = problemPage(title, message, status);
  return pageHeaders(reply).status(p.status).send(p.html);
}

const LINK_MESSAGES: Record<LinkProblem, string> = {
  malformed: 'The address is damaged or incomplete. Open the Secure and Remediate button from the notification again, or act from the console.',
  'bad-signature': 'This link was not issued by this tenantwatch, or it was altered. Act from the console instead.',
  expired: 'Secure and Remediate links work for a limited time. Act from the console, where the alert is still listed.',
  'not-yet-valid': "The link's issue time lies in the future; check this server's clock.",
};

function parseForm(body: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    const cur = out[k];
    if (cur === undefined) out[k] = v;
    else if (Array.isArray(cur)) {
      if (cur.length < 50) cur.push(v);
    } else out[k] = [cur, v];
  }
  return out;
}

function one(v: unknown): string | undefined {
  return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
}

/** The public shape of a run (API and console). */
export function runView(r: RunRow | RunResult): Record<string, unknown> {
  return { ...r };
}

export async function registerRemediationRoutes(app: FastifyInstance, deps: RemediationRouteDeps): Promise<void> {
  const logger = deps.logger ?? silentLogger();
  const ports = deps.ports ?? (deps.graph && deps.exchange ? { graph: graphPort(deps.graph), exchange: exchangePort(deps.exchange) } : undefined);
  const playbook = (): PlaybookDeps => {
    if (!ports) throw new OperatorError('TW_REMEDIATE_NO_CLIENTS');
    return { db: deps.db, graph: ports.graph, exchange: ports.exchange, config: deps.config, logger, now: deps.now };
  };
  const linkMode = deps.linkIdentity ?? 'auto';
  const linkIdentity = async (): Promise<'name' | 'login'> => {
    if (linkMode !== 'auto') return linkMode;
    // The console is "configured with users" when web/ has at least one enabled user.
    const row = await deps.db.selectFrom('web_users').select('username').where('disabled', '=', 0).limit(1).executeTakeFirst().catch(() => undefined);
    return row ? 'login' : 'name';
  };
  const secure = (deps.config.web.publicUrl ?? '').startsWith('https:');

  await app.register(async (scope) => {
    if (!scope.hasContentTypeParser('application/x-www-form-urlencoded')) {
      scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
        done(null, parseForm(String(body)));
      });
    }
    scope.setErrorHandler((err, req, reply) => {
      if (isOperatorError(err)) return reply.status(err.httpStatus).send({ error: err.toJSON() });
      const status = (err as { statusCode?: number }).statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return reply.status(status).send({ error: new OperatorError('TW_USAGE', { detail: scrub(String((err as Error).message)).slice(0, 300) }).toJSON() });
      }
      logger.error({ err: scrub(String((err as Error).stack ?? err)) }, 'remediation request failed');
      return reply.status(500).send({ error: new OperatorError('TW_INTERNAL', { detail: 'see the service log' }).toJSON() });
    });

    scope.get(STYLESHEET_PATH, { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
    );

    async function checkLink(req: FastifyRequest, reply: FastifyReply) {
      const token = (req.params as { '*': string })['*'] ?? '';
      const verdict = verifyRemediationLink(deps.config, token, { now: deps.now?.() });
      if (!verdict.ok) {
        sendProblem(reply, verdict.reason, LINK_MESSAGES[verdict.reason]);
        return undefined;
      }
      const alert = await loadAlert(deps.db, verdict.claims.alertId);
      if (!alert) {
        sendProblem(reply, 'unknown-alert', 'The alert this link was issued for does not exist here (a link from another installation?).');
        return undefined;
      }
      const used = await linkUse(deps.db, verdict.claims.nonce);
      if (used) {
        sendProblem(reply, 'used', `This link was used at ${used.usedAt} by ${used.actor}${used.runId ? ` (run ${used.runId})` : ''}. Each link works once; see the remediation log in the console.`);
        return undefined;
      }
      return { token, claims: verdict.claims, alert };
    }

    // GET never changes anything: link previews in Teams/Slack and mail scanners follow links.
    scope.get('/remediate/*', { schema: { hide: true } }, async (req, reply) => {
      const link = await checkLink(req, reply);
      if (!link) return reply;
      const user = await deps.currentUser(req);
      let cookie = cookieOf(req, LINK_COOKIE);
      if (!cookie || !/^[A-Za-z0-9_-]{20,100}$/.test(cookie)) {
        cookie = randomBytes(24).toString('base64url');
        void reply.header('set-cookie', `${LINK_COOKIE}=${cookie}; Path=/remediate; HttpOnly; SameSite=Strict; Max-Age=86400${secure ? '; Secure' : ''}`);
      }
      if (user && !REMEDIATE_ROLES.includes(user.role)) {
        return sendProblem(reply, 'forbidden', `You are signed in as ${user.username} with the role ${user.role}; only admin and analyst may remediate.`);
      }
      const related = await loadRelatedAlerts(deps.db, link.alert);
      const html = confirmPage({
        alert: link.alert,
        steps: link.claims.steps,
        indicators: indicatorsOf([link.alert, ...related]),
        expiresAt: link.claims.expiresAt,
        action: `/remediate/${link.token}`,
        csrf: linkCsrfToken(deps.config, link.claims.nonce, cookie),
        user: user ? { username: user.username, role: user.role } : undefined,
        anonymous: user ? false : await linkIdentity(),
        passwordMode: deps.config.remediate.passwordMode,
      });
      return pageHeaders(reply).send(html);
    });

    scope.post('/remediate/*', { schema: { hide: true }, bodyLimit: 16 * 1024 }, async (req, reply) => {
      const link = await checkLink(req, reply);
      if (!link) return reply;
      const form = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
      if (!checkLinkCsrf(deps.config, link.claims.nonce, cookieOf(req, LINK_COOKIE), one(form.csrf))) {
        return sendProblem(reply, 'csrf', 'The form was not sent from the confirmation page of this link in this browser. Open the link again and press the button there.');
      }
      const user = await deps.currentUser(req);
      let actor: string;
      if (user) {
        if (!REMEDIATE_ROLES.includes(user.role)) return sendProblem(reply, 'forbidden', `The role ${user.role} may not remediate; only admin and analyst may.`);
        actor = user.username;
      } else if ((await linkIdentity()) === 'login') {
        return sendProblem(reply, 'login', 'Sign in to the tenantwatch console with a role that may remediate, then open the link again.');
      } else {
        // eslint-disable-next-line no-control-regex
        const name = (one(form.name) ?? '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 100);
        if (!name) return sendProblem(reply, 'name', 'Enter your name on the confirmation page: it is recorded with the run.');
        actor = `${name} (via link, not signed in)`;
      }
      const chosen = new Set([form.steps].flat().filter((s): s is string => typeof s === 'string'));
      // Only steps the link was signed for; a forged extra step is dropped, never added.
      const steps = orderSteps(link.claims.steps.filter((s) => chosen.has(s)));
      if (steps.length === 0) return sendProblem(reply, 'no-steps', 'Select at least one step.');
      const origin = originOf(req);
      const pb = playbook();
      if (!(await claimLinkNonce(deps.db, { nonce: link.claims.nonce, alertId: link.alert.id, actor, origin, at: nowIso(deps.now?.()) }))) {
        return sendProblem(reply, 'used', 'This link was used a moment ago. Each link works once.');
      }
      const stream = new PassThrough();
      stream.write(resultsStart(link.alert, actor));
      void (async () => {
        try {
          const r = await remediateAlert(pb, {
            alertId: link.alert.id, steps, actor, source: 'link', origin, linkNonce: link.claims.nonce,
            ruleAction: one(form.removeRules) === '1' ? 'remove' : 'disable',
            onStep: (s: StepResult) => stream.write(resultRow(s)),
          }, link.alert);
          await setLinkRun(deps.db, link.claims.nonce, r.runId);
          deps.publish?.('remediation', { runId: r.runId, alertId: r.alertId, status: r.status });
          stream.end(resultsEnd(r.runId, r.status, r.newPassword));
        } catch (e) {
          logger.error({ err: scrub(String((e as Error)?.message ?? e)) }, 'remediation from a link failed');
          stream.end(`</table><div class="box bad"><p>The run stopped: ${scrub(String((e as Error)?.message ?? e)).replace(/[<>&"']/g, '')}</p></div></body></html>\n`);
        }
      })();
      return pageHeaders(reply).status(200).send(stream);
    });

    // ---- JSON API (contracts §6) ----
    async function requireRemediator(req: FastifyRequest): Promise<RemediationUser> {
      const user = await deps.currentUser(req);
      if (!user) throw new OperatorError('TW_REMEDIATE_UNAUTHENTICATED');
      if (deps.checkCsrf && !(await deps.checkCsrf(req))) throw new OperatorError('TW_REMEDIATE_CSRF');
      if (!REMEDIATE_ROLES.includes(user.role)) throw new OperatorError('TW_REMEDIATE_FORBIDDEN', { role: user.role });
      return user;
    }
    async function requireReader(req: FastifyRequest): Promise<RemediationUser> {
      const user = await deps.currentUser(req);
      if (!user) throw new OperatorError('TW_REMEDIATE_UNAUTHENTICATED');
      return user;
    }
    const apiSource = (req: FastifyRequest) => (/^Bearer\s/i.test(String(req.headers.authorization ?? '')) ? 'api' : 'console') as 'api' | 'console';

    scope.post('/api/alerts/:id/remediate', { config: { permission: 'remediate' }, bodyLimit: 16 * 1024, schema: { tags: ['remediation'], summary: 'Run the remediation playbook for an alert ({steps?, dryRun?, ruleAction?, passwordMode?}) → {runId, status, steps}' } }, async (req) => {
      const user = await requireRemediator(req);
      const { id } = req.params as { id: string };
      const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
      const steps = body.steps === undefined ? undefined : parseSteps(body.steps);
      const ruleAction = body.ruleAction === 'remove' ? 'remove' : 'disable';
      const passwordMode = body.passwordMode === 'random' || body.passwordMode === 'force-change' ? body.passwordMode : undefined;
      const r = await remediateAlert(playbook(), {
        alertId: id, steps, actor: user.username, source: apiSource(req), origin: originOf(req), dryRun: body.dryRun === true, ruleAction, passwordMode,
      });
      deps.publish?.('remediation', { runId: r.runId, alertId: r.alertId, status: r.status });
      return r;
    });

    scope.get('/api/alerts/:id/remediation-plan', { config: { permission: 'read' }, schema: { tags: ['remediation'], summary: 'Default steps, the step catalogue and what the evidence names' } }, async (req) => {
      await requireReader(req);
      const alert = await requireAlert(deps, (req.params as { id: string }).id);
      const ind = indicatorsOf([alert, ...(await loadRelatedAlerts(deps.db, alert))]);
      return {
        alertId: alert.id,
        defaultSteps: defaultSteps(alert.behaviour),
        catalogue: CATALOGUE,
        passwordMode: deps.config.remediate.passwordMode,
        evidence: { ruleNames: [...ind.ruleNames], ruleIds: [...ind.ruleIds], addresses: [...ind.addresses], transportRules: [...ind.transportRuleNames], appIds: [...ind.appIds] },
      };
    });

    scope.get('/api/remediations', { config: { permission: 'read' }, schema: { tags: ['remediation'], summary: 'The remediation log, newest first (?alertId, tenantId, before, limit)' } }, async (req) => {
      await requireReader(req);
      const q = req.query as Record<string, string | undefined>;
      const limit = Math.min(Math.max(Number(q.limit ?? 50) || 50, 1), 200);
      const items = await listRuns(deps.db, { alertId: q.alertId, tenantId: q.tenantId, before: q.before ?? q.cursor, limit });
      return { items, next: items.length === limit ? items[items.length - 1].startedAt : null };
    });

    scope.get('/api/remediations/:runId', { config: { permission: 'read' }, schema: { tags: ['remediation'], summary: 'One remediation run with its steps' } }, async (req) => {
      await requireReader(req);
      const { runId } = req.params as { runId: string };
      const run = await getRun(deps.db, runId);
      if (!run) throw new OperatorError('TW_REMEDIATE_RUN_NOT_FOUND', { runId: runId.slice(0, 100) });
      return run;
    });

    scope.post('/api/remediations/:runId/undo', { config: { permission: 'remediate' }, bodyLimit: 4 * 1024, schema: { tags: ['remediation'], summary: 'Undo the reversible steps of a run ({dryRun?})' } }, async (req) => {
      const user = await requireRemediator(req);
      const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
      const r = await undoRun(playbook(), { runId: (req.params as { runId: string }).runId, actor: user.username, source: apiSource(req), origin: originOf(req), dryRun: body.dryRun === true });
      deps.publish?.('remediation', { runId: r.runId, alertId: r.alertId, status: r.status, undoOf: r.undoOf });
      return r;
    });
  });
}

export type { StepId };
