// Secure and Remediate against the real simulator (HTTPS, MSAL): after the `takeover` scenario, the signed
// link's confirmation flow secures the account; GET-prefetch, reuse, expiry, tampering, foreign links,
// CSRF and roles change nothing; dry run, undo, missing permissions and throttling behave as recorded.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { recordDetections } from '../src/alerts/record.ts';
import { createExchangeClient } from '../src/m365/exchange.ts';
import { createGraphClient } from '../src/m365/graph.ts';
import { createM365Http, type M365Http } from '../src/m365/http.ts';
import { createManagementApi } from '../src/m365/management-api.ts';
import { createTokenProvider } from '../src/m365/token.ts';
import { linkCsrfToken, signRemediationLink, verifyRemediationLink } from '../src/remediate/links.ts';
import { registerRemediationRoutes } from '../src/remediate/routes.ts';
import type { StepId } from '../src/remediate/catalogue.ts';
import type { Detection } from '../src/model.ts';
import { createDetector } from '../src/detect/detector.ts';
import { createMemoryHistory } from '../src/detect/history.ts';
import { normalizeRecord } from '../src/detect/normalize.ts';
import { loadRulePackFromDirs } from '../rules/index.ts';
import type { TenantContext } from '../src/model.ts';
import { startSim, type StartedSim } from './helpers/sim.ts';
import { login, seedUsers, webServer } from './helpers/web.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';

const TENANT = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
const CLIENT = '6f1e2d3c-0000-4000-8000-00000000a001';
const SECRET = 'sim-secret-1';
const LINK_SECRET = 'remediation-link-secret-for-tests-0123456789';
const DEST = 'drop@mail-collect.example';
const USERS = ['ava', 'ben', 'cara', 'dan', 'eve', 'finn', 'gus', 'hal', 'ida', 'jo', 'kai', 'lea', 'max', 'ned', 'ola', 'pat', 'quinn'];
const upn = (u: string) => `${u}@contoso.com`;

const world = {
  app: { clientId: CLIENT, clientSecret: SECRET },
  partner: { tenantId: PARTNER, domain: 'msp.example' },
  tenants: [
    {
      id: TENANT,
      name: 'Contoso Ltd',
      domains: ['contoso.com', 'contoso.onmicrosoft.com'],
      consented: true,
      gdap: 'active',
      auditLogEnabled: true,
      users: USERS.map((u) => ({ upn: upn(u), displayName: u })),
      inboxRules: USERS.flatMap((u) => [
        { user: upn(u), name: 'Team updates', moveToFolder: 'Team', subjectContainsWords: ['weekly'] },
        { user: upn(u), name: 'Copy to assistant', forwardTo: ['assistant@contoso.com'] },
      ]),
      subscriptions: ['Audit.AzureActiveDirectory', 'Audit.Exchange'],
    },
  ],
};

let sim: StartedSim;
let store: TestStore;
let config: Readonly<Config>;
let http: M365Http;
let app: FastifyInstance;
const logLines: string[] = [];

const USERS_BY_HEADER: Record<string, { username: string; role: string }> = {
  alice: { username: 'alice', role: 'admin' },
  carl: { username: 'carl', role: 'analyst' },
  vera: { username: 'vera', role: 'viewer' },
};

function detection(user: string, behaviour: Detection['behaviour'], facts: Record<string, unknown>, target: string): Detection {
  return {
    recordId: randomUUID(), ruleId: behaviour, behaviour, severity: 'high', tenantId: TENANT, userId: upn(user),
    summary: `${upn(user)}: ${behaviour} to ${DEST}`, attempt: false, occurredAt: new Date().toISOString(), target, facts,
  };
}

/** Runs the takeover scenario for `user` and records the alerts the detections would raise; returns the inbox-rule alert id. */
async function takeover(user: string): Promise<{ alertId: string; forwardingAlertId: string; ruleName: string }> {
  const r = await sim.control.activity(TENANT, 'takeover', { user: upn(user) });
  const detail = r.detail as { rule: { name: string }; forwarding: { forwardingAddress: string } };
  const recipient = { raw: DEST, kind: 'smtp', address: DEST, domain: 'mail-collect.example' };
  const dets = [
    detection(user, 'inbox-rule-external-forward', { ruleName: detail.rule.name, forwards: [{ action: 'ForwardTo', recipients: [recipient] }], recipients: [recipient], deletes: true }, detail.rule.name),
    detection(user, 'mailbox-forwarding-external', {
      mailbox: upn(user), targets: [{ raw: detail.forwarding.forwardingAddress, kind: 'name', address: DEST, resolvedFrom: detail.forwarding.forwardingAddress, recipientType: 'MailContact' }], cleared: false, keepsCopy: false,
    }, DEST),
  ];
  const changes = await store.db.transaction().execute((trx) => recordDetections(trx, dets, { config }));
  return { alertId: changes[0].alertId, forwardingAlertId: changes[1].alertId, ruleName: detail.rule.name };
}

async function state() {
  return sim.control.state(TENANT);
}
async function userState(user: string) {
  const s = await state();
  return {
    user: s.users.find((u: { upn: string }) => u.upn === upn(user)),
    mailbox: s.mailboxes.find((m: { upn: string }) => m.upn === upn(user)),
  };
}

function cookieFrom(res: { headers: Record<string, unknown> }): string {
  const set = res.headers['set-cookie'];
  const first = (Array.isArray(set) ? set[0] : String(set ?? '')).split(';')[0];
  return first;
}
function csrfFrom(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no csrf field on the page');
  return m[1];
}

async function openAndConfirm(token: string, form: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  const page = await app.inject({ method: 'GET', url: `/remediate/${token}`, headers });
  const cookie = cookieFrom(page) || headers.cookie || '';
  const body = new URLSearchParams();
  body.set('csrf', csrfFrom(page.body));
  for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) body.append(k, x);
  const res = await app.inject({
    method: 'POST', url: `/remediate/${token}`, payload: body.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
  });
  return { page, res };
}

const ALL5: StepId[] = ['block-sign-in', 'revoke-sessions', 'reset-password', 'disable-inbox-rules', 'clear-forwarding'];
/** Calls to Graph or the Exchange admin API (anything that could read or change the tenant). */
const microsoftCalls = (entries: Array<{ method: string; path: string }>) => entries.filter((e) => e.path.startsWith('/v1.0/') || e.path.includes('/adminapi/'));

beforeAll(async () => {
  sim = await startSim({ world });
  store = await freshStore('sqlite');
  config = loadConfig({
    env: {},
    overrides: {
      microsoft: {
        partnerTenantId: PARTNER, clientId: CLIENT, clientSecret: SECRET, caFile: sim.caPath, maxRetries: 2,
        baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url },
      },
      remediate: { linkSecret: LINK_SECRET },
      web: { publicUrl: 'https://tw.example' },
    },
  });
  const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  const logger = createLogger({ level: 'debug', destination: sink as unknown as NonNullable<Parameters<typeof createLogger>[0]>['destination'] });
  const tokens = createTokenProvider({ config, logger });
  http = createM365Http({ config, tokens, logger, maxRetryAfterMs: 1000, backoffBaseMs: 10, backoffMaxMs: 50 });
  app = Fastify({ logger: false });
  await registerRemediationRoutes(app, {
    db: store.db, config, logger,
    graph: createGraphClient(http, config),
    exchange: createExchangeClient(http, config),
    currentUser: (req) => USERS_BY_HEADER[String(req.headers['x-test-user'] ?? '')],
    linkIdentity: 'name',
  });
  await app.ready();
}, 120_000);

afterAll(async () => {
  await app?.close();
  await http?.close();
  await store?.dispose();
  await sim?.stop();
});

describe('Secure and Remediate through a signed link against m365-sim', () => {
  it('secures the account after a takeover: blocked, sessions revoked, hidden rule disabled, benign rules untouched, forwarding cleared, every step logged', async () => {
    const { alertId, ruleName } = await takeover('ava');
    const before = await userState('ava');
    const malicious = before.mailbox.inboxRules.find((r: { name: string }) => r.name === ruleName);
    expect(malicious).toMatchObject({ hidden: true, enabled: true, forwardTo: [DEST], deleteMessage: true });
    expect(before.mailbox.forwardingAddress).toBeTruthy();
    const benignBefore = before.mailbox.inboxRules.filter((r: { name: string }) => r.name !== ruleName);
    expect(benignBefore.length).toBeGreaterThanOrEqual(3); // Junk E-mail Rule (hidden, system) + the two benign ones

    const link = signRemediationLink(config, { alertId, steps: ALL5 });
    expect(link.url).toBe(`https://tw.example/remediate/${link.token}`);
    const seq = Math.max(0, ...(await sim.control.requests()).map((e) => e.seq));
    const { page, res } = await openAndConfirm(link.token, { steps: ALL5, name: 'Dana Night-shift' });

    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).not.toMatch(/<script/i);
    expect(page.body).toContain(upn('ava'));
    for (const s of ALL5) expect(page.body).toContain(`value="${s}" checked`);

    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/Run <code>[0-9a-f-]{36}<\/code>: <strong>succeeded<\/strong>/);
    const password = /<code class="secret">([^<]+)<\/code>/.exec(res.body)?.[1];
    expect(password).toBeDefined();

    const after = await userState('ava');
    expect(after.user.accountEnabled).toBe(false);
    expect(after.user.sessionsRevokedAt).toBeTruthy();
    expect(after.user.passwordChangedAt).toBeTruthy();
    expect(after.user.forceChangePasswordNextSignIn).toBe(true);
    expect(after.mailbox.inboxRules.find((r: { name: string }) => r.name === ruleName)).toMatchObject({ hidden: true, enabled: false });
    for (const b of benignBefore) {
      expect(after.mailbox.inboxRules.find((r: { ruleIdentity: string }) => r.ruleIdentity === b.ruleIdentity)).toEqual(b);
    }
    expect(after.mailbox.forwardingSmtpAddress).toBeNull();
    expect(after.mailbox.forwardingAddress).toBeNull();
    expect(after.mailbox.deliverToMailboxAndForward).toBe(false);

    // The remediation log holds every step, who pressed, from where, and before/after values.
    const runs = await store.db.selectFrom('remediation_runs').selectAll().where('alert_id', '=', alertId).execute();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ source: 'link', status: 'succeeded', actor: 'Dana Night-shift (via link, not signed in)' });
    expect(runs[0].origin).toMatch(/^127\.0\.0\.1/);
    const steps = await store.db.selectFrom('remediation_steps').selectAll().where('run_id', '=', runs[0].id).orderBy('seq').execute();
    expect(steps.map((s) => [s.step, s.status])).toEqual(ALL5.map((s) => [s, 'succeeded']));
    const rules = steps.find((s) => s.step === 'disable-inbox-rules')!;
    expect(JSON.parse(rules.items_json!)).toEqual([expect.objectContaining({ name: ruleName, hidden: true, status: 'succeeded', after: { enabled: false } })]);
    const fwd = steps.find((s) => s.step === 'clear-forwarding')!;
    expect(JSON.parse(fwd.before_json!)).toMatchObject({ forwardingAddress: before.mailbox.forwardingAddress, forwardingAddressResolved: { type: 'MailContact', address: DEST } });
    expect(JSON.parse(fwd.after_json!)).toEqual({ forwardingSmtpAddress: null, forwardingAddress: null, deliverToMailboxAndForward: false });
    expect(JSON.parse(steps[0].before_json!)).toEqual({ accountEnabled: true });

    // The simulator saw the calls, and its audit log holds the records Microsoft would write.
    const calls = await sim.control.requests({ since: seq, tenant: TENANT });
    expect(calls.some((e) => e.method === 'PATCH' && e.path.startsWith('/v1.0/users/') && e.status === 204)).toBe(true);
    expect(calls.some((e) => e.path.endsWith('/revokeSignInSessions') && e.status === 200)).toBe(true);
    const mgmt = createManagementApi({ config, http });
    const ops: string[] = [];
    const end = new Date(Date.now() + 60_000);
    for (const ct of ['Audit.AzureActiveDirectory', 'Audit.Exchange']) {
      for await (const page2 of mgmt.listContent(TENANT, ct, new Date(end.getTime() - 3600_000), end)) {
        for (const item of page2) {
          const blob = await mgmt.fetchBlob(TENANT, item.contentUri, item.contentId);
          if (blob.ok) for (const rec of blob.records as Array<{ Operation: string; ObjectId?: string; Parameters?: Array<{ Name: string; Value: string }> }>) {
            const about = JSON.stringify(rec);
            if (about.includes(upn('ava')) || about.includes(after.user.id) || about.includes(after.mailbox.guid)) ops.push(rec.Operation);
          }
        }
      }
    }
    expect(ops).toEqual(expect.arrayContaining(['Disable account.', 'Reset user password.', 'Disable-InboxRule', 'Set-Mailbox']));

    // The new password was shown once on the page and is nowhere else: log table, trail, service log.
    const dump = JSON.stringify([
      await store.db.selectFrom('remediation_runs').selectAll().execute(),
      await store.db.selectFrom('remediation_steps').selectAll().execute(),
      await store.db.selectFrom('remediation_link_uses').selectAll().execute(),
      await store.db.selectFrom('audit_trail').selectAll().execute(),
      await store.db.selectFrom('alert_activity').selectAll().execute(),
      await store.db.selectFrom('notify_outbox' as never).selectAll().execute().catch(() => []),
    ]);
    expect(dump).not.toContain(password!);
    expect(logLines.join('')).toContain('remediation step');
    expect(logLines.join('')).not.toContain(password!);
    expect(logLines.join('')).not.toContain(SECRET);
    expect(logLines.join('')).not.toContain(LINK_SECRET);
  });

  it('matches the rules and forwarding named by the real rule pack\'s detections of the takeover records', async () => {
    const r = await sim.control.activity(TENANT, 'takeover', { user: upn('pat') });
    const ruleName = (r.detail as { rule: { name: string } }).rule.name;
    const st = await state();
    const mailbox = st.mailboxes.find((m: { upn: string }) => m.upn === upn('pat'));
    const userId = st.users.find((u: { upn: string }) => u.upn === upn('pat')).id;
    // The audit records Microsoft would write, read back through the Management Activity API.
    const mgmt = createManagementApi({ config, http });
    const records: Array<Record<string, unknown>> = [];
    const end = new Date(Date.now() + 60_000);
    for (const ct of ['Audit.AzureActiveDirectory', 'Audit.Exchange']) {
      for await (const items of mgmt.listContent(TENANT, ct, new Date(end.getTime() - 3600_000), end)) {
        for (const item of items) {
          const blob = await mgmt.fetchBlob(TENANT, item.contentUri, item.contentId);
          if (blob.ok) for (const rec of blob.records as Array<Record<string, unknown>>) {
            const about = JSON.stringify(rec);
            if (about.includes(upn('pat')) || about.includes(userId) || about.includes(mailbox.guid)) records.push(rec);
          }
        }
      }
    }
    const ctx: TenantContext = {
      tenantId: TENANT, name: 'Contoso Ltd', known: true, trustedIps: [], exclusions: [],
      acceptedDomains: [{ domain: 'contoso.com', matchSubdomains: false }, { domain: 'contoso.onmicrosoft.com', matchSubdomains: false }],
      recipients: st.recipients.map((x: { identity: string; primarySmtpAddress: string; externalEmailAddress: string | null; recipientTypeDetails: string }) => ({
        identity: x.identity, address: (x.externalEmailAddress ?? x.primarySmtpAddress).replace(/^smtp:/i, ''), type: x.recipientTypeDetails,
      })),
    };
    const detector = createDetector({ pack: loadRulePackFromDirs([]).pack });
    const history = createMemoryHistory();
    const detections: Detection[] = [];
    const seen = new Set<string>();
    for (const raw of records) {
      const n = normalizeRecord(raw);
      if (!n.ok || seen.has(n.record.id)) continue;
      seen.add(n.record.id);
      detections.push(...detector.evaluate(n.record, ctx, history));
    }
    const behaviours = new Set(detections.map((d) => d.behaviour));
    expect(behaviours).toContain('inbox-rule-external-forward');
    expect(behaviours).toContain('mailbox-forwarding-external');
    const changes = await store.db.transaction().execute((trx) => recordDetections(trx, detections, { config, context: () => ctx }));
    const ruleAlert = changes.find((c, i) => detections[i].behaviour === 'inbox-rule-external-forward')!.alertId;

    const plan = (await app.inject({ method: 'GET', url: `/api/alerts/${ruleAlert}/remediation-plan`, headers: { 'x-test-user': 'alice' } })).json();
    expect(plan.evidence.ruleNames).toContain(ruleName.toLowerCase());
    expect(plan.evidence.addresses).toContain(DEST);
    const link = signRemediationLink(config, { alertId: ruleAlert, steps: plan.defaultSteps });
    const { res } = await openAndConfirm(link.token, { steps: plan.defaultSteps, name: 'Pat\'s manager' });
    expect(res.body).toMatch(/<strong>succeeded<\/strong>/);
    const after = await userState('pat');
    expect(after.user.accountEnabled).toBe(false);
    expect(after.mailbox.inboxRules.filter((x: { enabled: boolean }) => !x.enabled).map((x: { name: string }) => x.name)).toEqual([ruleName]);
    expect(after.mailbox.forwardingAddress).toBeNull();
  });

  it('changes nothing when a link is only fetched (link previews and mail scanners)', async () => {
    const { alertId } = await takeover('ben');
    const link = signRemediationLink(config, { alertId, steps: ALL5 });
    const before = await userState('ben');
    const seq = Math.max(0, ...(await sim.control.requests()).map((e) => e.seq));
    for (let i = 0; i < 3; i++) {
      const r = await app.inject({ method: 'GET', url: `/remediate/${link.token}`, headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0' } });
      expect(r.statusCode).toBe(200);
    }
    const head = await app.inject({ method: 'HEAD', url: `/remediate/${link.token}` });
    expect(head.statusCode).toBe(200);
    expect(await userState('ben')).toEqual(before);
    expect(microsoftCalls(await sim.control.requests({ since: seq }))).toEqual([]);
    expect(await store.db.selectFrom('remediation_runs').selectAll().where('alert_id', '=', alertId).execute()).toEqual([]);
    expect(await store.db.selectFrom('remediation_link_uses').selectAll().where('alert_id', '=', alertId).execute()).toEqual([]);
  });

  it('refuses a reused link with a clear page and changes nothing the second time', async () => {
    const { alertId } = await takeover('cara');
    const link = signRemediationLink(config, { alertId, steps: ['block-sign-in'] });
    const first = await openAndConfirm(link.token, { steps: 'block-sign-in', name: 'Ops' });
    expect(first.res.body).toContain('succeeded');
    const again = await app.inject({ method: 'GET', url: `/remediate/${link.token}` });
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain('already used');
    expect(again.body).toContain('Ops (via link, not signed in)');
    const post = await app.inject({
      method: 'POST', url: `/remediate/${link.token}`, payload: `csrf=x&steps=block-sign-in&name=Ops`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieFrom(first.page) },
    });
    expect(post.statusCode).toBe(409);
    expect(await store.db.selectFrom('remediation_runs').selectAll().where('alert_id', '=', alertId).execute()).toHaveLength(1);
  });

  it('refuses expired, tampered, foreign and unknown-alert links with a clear page and changes nothing', async () => {
    const { alertId } = await takeover('dan');
    const before = await userState('dan');
    const expired = signRemediationLink(config, { alertId, steps: ALL5 }, { now: new Date(Date.now() - 25 * 3600_000) });
    const good = signRemediationLink(config, { alertId, steps: ['block-sign-in'] });
    const [v, body, sig] = good.token.split('.');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
    payload.s = 0b11111; // widen the steps
    const tampered = `${v}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
    const foreign = signRemediationLink({ remediate: { linkSecret: 'another-installation-secret-0123456789', linkTtlHours: 24 } }, { alertId, steps: ALL5 });
    const unknown = signRemediationLink(config, { alertId: 'al_doesnotexist', steps: ALL5 });
    const cases: Array<[string, number, RegExp]> = [
      [expired.token, 410, /expired/],
      [tampered, 403, /not issued by this tenantwatch, or it was altered/],
      [foreign.token, 403, /not issued by this tenantwatch/],
      [unknown.token, 404, /does not exist here/],
      ['v1.garbage.garbage', 403, /not valid/],
      ['<script>alert(1)</script>', 400, /damaged/],
    ];
    for (const [token, status, text] of cases) {
      for (const method of ['GET', 'POST'] as const) {
        const r = await app.inject({
          method, url: `/remediate/${encodeURIComponent(token)}`,
          ...(method === 'POST' ? { payload: 'csrf=x&steps=block-sign-in&name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } } : {}),
        });
        expect(r.statusCode, `${method} ${token.slice(0, 20)}`).toBe(status);
        expect(r.body).toMatch(text);
        expect(r.body).toContain('Nothing was changed.');
        expect(r.body).not.toContain('<script>alert');
      }
    }
    expect(await userState('dan')).toEqual(before);
    expect(await store.db.selectFrom('remediation_runs').selectAll().where('alert_id', '=', alertId).execute()).toEqual([]);
  });

  it('refuses a confirmation without the link-bound CSRF token or cookie, and a viewer, and keeps the link usable', async () => {
    const { alertId } = await takeover('eve');
    const link = signRemediationLink(config, { alertId, steps: ['block-sign-in'] });
    const page = await app.inject({ method: 'GET', url: `/remediate/${link.token}` });
    const csrf = csrfFrom(page.body);
    const form = (c: string) => `csrf=${encodeURIComponent(c)}&steps=block-sign-in&name=Mallory`;
    const noCookie = await app.inject({ method: 'POST', url: `/remediate/${link.token}`, payload: form(csrf), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(noCookie.statusCode).toBe(403);
    const otherCookie = await app.inject({ method: 'POST', url: `/remediate/${link.token}`, payload: form(csrf), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'tw_rl=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(otherCookie.statusCode).toBe(403);
    const viewer = await app.inject({ method: 'POST', url: `/remediate/${link.token}`, payload: form(csrf), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieFrom(page), 'x-test-user': 'vera' } });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.body).toContain('may not remediate');
    expect((await userState('eve')).user.accountEnabled).toBe(true);
    // The console user's name is recorded when signed in.
    const ok = await openAndConfirm(link.token, { steps: 'block-sign-in' }, { 'x-test-user': 'carl' });
    expect(ok.res.statusCode).toBe(200);
    const run = await store.db.selectFrom('remediation_runs').selectAll().where('alert_id', '=', alertId).executeTakeFirstOrThrow();
    expect(run.actor).toBe('carl');
    expect((await userState('eve')).user.accountEnabled).toBe(false);
  });

  it('lists in a dry run exactly which rules and forwarding values would change, changing nothing', async () => {
    const { alertId, ruleName } = await takeover('finn');
    const before = await userState('finn');
    const r = await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'alice' }, payload: { steps: ALL5, dryRun: true } });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.status).toBe('dry-run');
    expect(body.newPassword).toBeUndefined();
    const by = Object.fromEntries(body.steps.map((s: { step: string }) => [s.step, s]));
    expect(by['block-sign-in']).toMatchObject({ status: 'planned', detail: expect.stringContaining('from true to false') });
    expect(by['disable-inbox-rules'].status).toBe('planned');
    expect(by['disable-inbox-rules'].detail).toContain(`"${ruleName}" (hidden)`);
    expect(by['disable-inbox-rules'].items.map((i: { name: string }) => i.name)).toEqual([ruleName]);
    expect(by['clear-forwarding'].detail).toContain(`ForwardingAddress "${before.mailbox.forwardingAddress}" (MailContact → ${DEST})`);
    expect(await userState('finn')).toEqual(before);
  });

  it('undoes a run: unblocks sign-in, re-enables the disabled rule and restores the recorded forwarding', async () => {
    const { alertId, ruleName } = await takeover('gus');
    const before = await userState('gus');
    const run = (await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'alice' }, payload: { steps: ['block-sign-in', 'revoke-sessions', 'disable-inbox-rules', 'clear-forwarding'] } })).json();
    expect(run.status).toBe('succeeded');
    expect((await userState('gus')).user.accountEnabled).toBe(false);
    const undo = await app.inject({ method: 'POST', url: `/api/remediations/${run.runId}/undo`, headers: { 'x-test-user': 'carl' }, payload: {} });
    expect(undo.statusCode).toBe(200);
    const u = undo.json();
    expect(u.undoOf).toBe(run.runId);
    expect(Object.fromEntries(u.steps.map((s: { step: string; status: string }) => [s.step, s.status]))).toEqual({
      'restore-forwarding': 'succeeded', 'enable-inbox-rules': 'succeeded', 'revoke-sessions': 'skipped', 'unblock-sign-in': 'succeeded',
    });
    const after = await userState('gus');
    expect(after.user.accountEnabled).toBe(true);
    expect(after.mailbox.inboxRules.find((r: { name: string }) => r.name === ruleName).enabled).toBe(true);
    expect(after.mailbox.forwardingAddress).toBe(before.mailbox.forwardingAddress);
    expect(after.mailbox.deliverToMailboxAndForward).toBe(before.mailbox.deliverToMailboxAndForward);
    // The log keeps both runs; the original's steps point at the undo run; a second undo is refused.
    const list = (await app.inject({ method: 'GET', url: `/api/remediations?alertId=${alertId}`, headers: { 'x-test-user': 'vera' } })).json();
    expect(list.items.map((x: { id: string }) => x.id)).toEqual([u.runId, run.runId]);
    expect(list.items[1].steps.filter((s: { undoneBy: string | null }) => s.undoneBy === u.runId).map((s: { step: string }) => s.step)).toEqual(['block-sign-in', 'disable-inbox-rules', 'clear-forwarding']);
    const twice = await app.inject({ method: 'POST', url: `/api/remediations/${run.runId}/undo`, headers: { 'x-test-user': 'alice' }, payload: {} });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.code).toBe('TW_REMEDIATE_NOT_UNDOABLE');
  });

  it('records a failed password reset with the fix when the app lacks the role, runs the rest, and reports partially-succeeded', async () => {
    const { alertId } = await takeover('hal');
    await sim.control.config(TENANT, { canResetPasswords: false });
    try {
      const r = await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'alice' }, payload: { steps: ALL5 } });
      const body = r.json();
      expect(body.status).toBe('partially-succeeded');
      expect(body.newPassword).toBeUndefined();
      const pw = body.steps.find((s: { step: string }) => s.step === 'reset-password');
      expect(pw).toMatchObject({ status: 'failed', error: { code: 'Authorization_RequestDenied', status: 403 } });
      expect(pw.error.fix).toContain('User Administrator');
      expect(pw.error.fix).toContain('User-PasswordProfile.ReadWrite.All');
      expect(body.steps.filter((s: { status: string }) => s.status === 'succeeded').map((s: { step: string }) => s.step)).toEqual(['block-sign-in', 'revoke-sessions', 'disable-inbox-rules', 'clear-forwarding']);
      const after = await userState('hal');
      expect(after.user.passwordChangedAt).toBeNull();
      expect(after.user.accountEnabled).toBe(false);
      const stored = await store.db.selectFrom('remediation_steps').selectAll().where('run_id', '=', body.runId).where('step', '=', 'reset-password').executeTakeFirstOrThrow();
      expect(JSON.parse(stored.error_json!)).toMatchObject({ code: 'Authorization_RequestDenied' });
    } finally {
      await sim.control.config(TENANT, { canResetPasswords: true });
    }
  });

  it('records a throttled Exchange call as a failed step with the reason while the Graph steps still run', async () => {
    const { alertId } = await takeover('ida');
    await sim.control.faults({ match: { path: '/adminapi/beta/', tenantId: TENANT }, status: 429, retryAfter: 0, count: 100 });
    try {
      const body = (await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'alice' }, payload: { steps: ['block-sign-in', 'disable-inbox-rules', 'clear-forwarding'] } })).json();
      expect(body.status).toBe('partially-succeeded');
      expect(body.steps.map((s: { step: string; status: string }) => [s.step, s.status])).toEqual([
        ['block-sign-in', 'succeeded'], ['disable-inbox-rules', 'failed'], ['clear-forwarding', 'failed'],
      ]);
      expect(body.steps[1].error.message).toMatch(/throttl|429/i);
    } finally {
      await sim.control.clearFaults();
    }
    const after = await userState('ida');
    expect(after.mailbox.forwardingAddress).toBeTruthy();
  });

  it('removes the transport rule a transport-rule alert names and leaves other transport rules alone', async () => {
    await sim.control.activity(TENANT, 'transport-rule-bcc', { ruleName: 'Keep legal copy' });
    await sim.control.activity(TENANT, 'transport-rule-bcc', { ruleName: 'Compliance copy' });
    const det = { ...detection('ola', 'transport-rule-external', { name: 'Compliance copy', recipients: [{ raw: DEST, address: DEST }] }, 'Compliance copy'), ruleId: 'transport-rule-external' };
    const [change] = await store.db.transaction().execute((trx) => recordDetections(trx, [det], { config }));
    const plan = (await app.inject({ method: 'GET', url: `/api/alerts/${change.alertId}/remediation-plan`, headers: { 'x-test-user': 'alice' } })).json();
    expect(plan.defaultSteps).toEqual(['revoke-sessions', 'remove-transport-rule']);
    const body = (await app.inject({ method: 'POST', url: `/api/alerts/${change.alertId}/remediate`, headers: { 'x-test-user': 'alice' }, payload: { steps: ['remove-transport-rule'] } })).json();
    expect(body.steps[0]).toMatchObject({ step: 'remove-transport-rule', status: 'succeeded', items: [{ name: 'Compliance copy', status: 'succeeded' }], undoable: false });
    const names = (await state()).transportRules.map((r: { name: string }) => r.name);
    expect(names).toContain('Keep legal copy');
    expect(names).not.toContain('Compliance copy');
  });

  it('turns Outlook on the web off when asked and undo turns it back on', async () => {
    const { alertId } = await takeover('ola');
    const run = (await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'alice' }, payload: { steps: ['disable-owa'] } })).json();
    expect(run.steps[0]).toMatchObject({ step: 'disable-owa', status: 'succeeded', before: { owaEnabled: true }, after: { owaEnabled: false } });
    expect((await userState('ola')).mailbox.owaEnabled).toBe(false);
    const again = (await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'alice' }, payload: { steps: ['disable-owa'] } })).json();
    expect(again.steps[0]).toMatchObject({ status: 'skipped', detail: expect.stringContaining('already off') });
    const undo = (await app.inject({ method: 'POST', url: `/api/remediations/${run.runId}/undo`, headers: { 'x-test-user': 'alice' }, payload: {} })).json();
    expect(undo.steps).toEqual([expect.objectContaining({ step: 'enable-owa', status: 'succeeded' })]);
    expect((await userState('ola')).mailbox.owaEnabled).toBe(true);
  });

  it('removes the matching rules when asked, says undo cannot bring them back, and hides the password in force-change mode', async () => {
    const { alertId, ruleName } = await takeover('quinn');
    const before = await userState('quinn');
    const run = (await app.inject({
      method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'alice' },
      payload: { steps: ['reset-password', 'disable-inbox-rules'], ruleAction: 'remove', passwordMode: 'force-change' },
    })).json();
    expect(run.status).toBe('succeeded');
    expect(run.newPassword).toBeUndefined();
    expect(run.steps[0]).toMatchObject({ step: 'reset-password', after: { forceChangePasswordNextSignIn: true, mode: 'force-change', passwordShownOnce: false } });
    expect(run.steps[1]).toMatchObject({ status: 'succeeded', undoable: false, items: [{ name: ruleName, after: { removed: true } }] });
    const after = await userState('quinn');
    expect(after.user.passwordChangedAt).toBeTruthy();
    expect(after.user.forceChangePasswordNextSignIn).toBe(true);
    expect(after.mailbox.inboxRules).toEqual(before.mailbox.inboxRules.filter((r: { name: string }) => r.name !== ruleName));
    const undo = await app.inject({ method: 'POST', url: `/api/remediations/${run.runId}/undo`, headers: { 'x-test-user': 'alice' }, payload: {} });
    expect(undo.statusCode).toBe(409);
    expect(undo.json().error.message).toContain('none of its steps changed anything reversible');
  });

  it('answers the JSON API only to signed-in users with a remediating role, and rejects unknown steps', async () => {
    const { alertId } = await takeover('jo');
    const anon = await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, payload: { steps: ['block-sign-in'] } });
    expect(anon.statusCode).toBe(401);
    const viewer = await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'vera' }, payload: { steps: ['block-sign-in'] } });
    expect(viewer.statusCode).toBe(403);
    const bad = await app.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { 'x-test-user': 'alice' }, payload: { steps: ['block-sign-in', 'delete-tenant'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('TW_REMEDIATE_BAD_STEPS');
    const missing = await app.inject({ method: 'POST', url: `/api/alerts/al_nope/remediate`, headers: { 'x-test-user': 'alice' }, payload: {} });
    expect(missing.statusCode).toBe(404);
    expect((await userState('jo')).user.accountEnabled).toBe(true);
    const plan = (await app.inject({ method: 'GET', url: `/api/alerts/${alertId}/remediation-plan`, headers: { 'x-test-user': 'vera' } })).json();
    expect(plan.defaultSteps).toEqual(ALL5);
    expect(plan.evidence.addresses).toContain(DEST);
  });
});

describe('Secure and Remediate inside the console server (sessions, CSRF, roles, API tokens)', () => {
  let web: FastifyInstance;
  let tokens: { adminToken: string; viewerToken: string };

  beforeAll(async () => {
    tokens = await seedUsers(store);
    // The console server registers the remediation routes itself (web/server.ts), with its session user and CSRF check.
    web = await webServer(store, {
      config,
      m365: { tokens: createTokenProvider({ config }), http, graph: createGraphClient(http, config), exchange: createExchangeClient(http, config), management: createManagementApi({ config, http }), close: async () => {} },
    });
    await web.ready();
  });
  afterAll(async () => {
    await web?.close();
  });

  it('runs from the console with the session CSRF token, refuses without it, and records the console user', async () => {
    const { alertId } = await takeover('kai');
    const analyst = await login(web, 'analyst');
    const noCsrf = await web.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { cookie: analyst.cookie }, payload: { steps: ['block-sign-in'] } });
    expect(noCsrf.statusCode).toBe(403);
    const viewer = await login(web, 'viewer');
    const byViewer = await web.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf }, payload: { steps: ['block-sign-in'] } });
    expect(byViewer.statusCode).toBe(403);
    expect((await userState('kai')).user.accountEnabled).toBe(true);
    const ok = await web.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { cookie: analyst.cookie, 'x-csrf-token': analyst.csrf }, payload: { steps: ['block-sign-in', 'clear-forwarding'] } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'succeeded', actor: 'analyst', source: 'console', steps: [{ step: 'block-sign-in', status: 'succeeded' }, { step: 'clear-forwarding', status: 'succeeded' }] });
    const undo = await web.inject({ method: 'POST', url: `/api/remediations/${ok.json().runId}/undo`, headers: { cookie: analyst.cookie, 'x-csrf-token': analyst.csrf }, payload: { dryRun: true } });
    expect(undo.statusCode).toBe(200);
    expect(undo.json().steps.map((s: { step: string; status: string }) => [s.step, s.status])).toEqual([['restore-forwarding', 'planned'], ['unblock-sign-in', 'planned']]);
    const list = await web.inject({ method: 'GET', url: `/api/remediations?alertId=${alertId}`, headers: { authorization: `Bearer ${tokens.viewerToken}` } });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((r: { dryRun: boolean; actor: string }) => [r.actor, r.dryRun])).toEqual([['analyst', true], ['analyst', false]]);
  });

  it('accepts an API token without a CSRF token and records the run as coming from the API', async () => {
    const { alertId } = await takeover('lea');
    const r = await web.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { authorization: `Bearer ${tokens.adminToken}` }, payload: { steps: ['revoke-sessions'] } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ source: 'api', status: 'succeeded', steps: [{ step: 'revoke-sessions', status: 'succeeded', detail: expect.any(String) }] });
    const viewer = await web.inject({ method: 'POST', url: `/api/alerts/${alertId}/remediate`, headers: { authorization: `Bearer ${tokens.viewerToken}` }, payload: { steps: ['revoke-sessions'] } });
    expect(viewer.statusCode).toBe(403);
  });

  it('asks an anonymous visitor to sign in, and refuses an anonymous confirmation, once the console has users', async () => {
    const { alertId } = await takeover('ned');
    const link = signRemediationLink(config, { alertId, steps: ['block-sign-in'] });
    const page = await web.inject({ method: 'GET', url: `/remediate/${link.token}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Sign in to the tenantwatch console');
    expect(page.body).not.toContain('<form');
    const cookie = cookieFrom(page);
    // A valid link-bound CSRF token: the refusal below is about identity, not CSRF.
    const v = verifyRemediationLink(config, link.token);
    if (!v.ok) throw new Error(`link ${v.reason}`);
    const csrf = linkCsrfToken(config, v.claims.nonce, cookie.split('=')[1]);
    const post = await web.inject({
      method: 'POST', url: `/remediate/${link.token}`, payload: `csrf=${encodeURIComponent(csrf)}&steps=block-sign-in&name=Anon`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    });
    expect(post.statusCode).toBe(401);
    expect((await userState('ned')).user.accountEnabled).toBe(true);
    expect(await store.db.selectFrom('remediation_link_uses').selectAll().where('alert_id', '=', alertId).execute()).toEqual([]);
  });

  it('serves the confirmation page under the console CSP and runs the link as the signed-in console user', async () => {
    const { alertId } = await takeover('ava'); // ava's second takeover: a new alert for the new rule
    const admin = await login(web, 'admin');
    const link = signRemediationLink(config, { alertId, steps: ['disable-inbox-rules'] });
    const page = await web.inject({ method: 'GET', url: `/remediate/${link.token}`, headers: { cookie: admin.cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('signed in to the console as <strong>admin</strong>');
    expect(page.body).not.toContain('name="name"');
    const css = await web.inject({ method: 'GET', url: '/remediate-assets/remediate.css' });
    expect(css.headers['content-type']).toContain('text/css');
    const body = `csrf=${encodeURIComponent(csrfFrom(page.body))}&steps=disable-inbox-rules`;
    const res = await web.inject({
      method: 'POST', url: `/remediate/${link.token}`, payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${admin.cookie}; ${cookieFrom(page)}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<strong>succeeded</strong>');
    const run = await store.db.selectFrom('remediation_runs').selectAll().where('alert_id', '=', alertId).executeTakeFirstOrThrow();
    expect(run).toMatchObject({ actor: 'admin', source: 'link' });
  });
});

describe('tenantwatch remediate (CLI) against m365-sim', () => {
  let dir: string;
  let configFile: string;

  function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [path.resolve('bin/tenantwatch.js'), '--config', configFile, ...args], { timeout: 90_000, env: { ...process.env, TENANTWATCH_CONFIG: '' } }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tw-remediate-cli-'));
    configFile = path.join(dir, 'tenantwatch.yaml');
    writeFileSync(configFile, JSON.stringify({
      microsoft: {
        partnerTenantId: PARTNER, clientId: CLIENT, clientSecret: SECRET, caFile: sim.caPath, maxRetries: 1,
        baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url },
      },
      store: { url: store.url },
      remediate: { linkSecret: LINK_SECRET },
      log: { level: 'info', pretty: false },
    }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints a dry run, then runs the steps and prints the new password once to the terminal only', async () => {
    const { alertId, ruleName } = await takeover('max');
    const before = await userState('max');
    const dry = await cli(['remediate', alertId, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`plan block-sign-in: would set accountEnabled of ${upn('max')} from true to false`);
    expect(dry.stdout).toContain(`"${ruleName}" (hidden)`);
    expect(dry.stdout).toContain(`(MailContact → ${DEST})`);
    expect(dry.stdout).toMatch(/run [0-9a-f-]{36}: dry-run/);
    expect(await userState('max')).toEqual(before);

    const run = await cli(['remediate', alertId, '--steps', 'block-sign-in,reset-password,disable-inbox-rules', '--actor', 'night-shift']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ok   block-sign-in: blocked sign-in');
    expect(run.stdout).toContain('ok   reset-password:');
    const password = /\(shown once, stored nowhere\): (\S+)/.exec(run.stdout)?.[1];
    expect(password).toMatch(/^.{20}$/);
    expect(run.stdout.split(password!).length - 1).toBe(1);
    expect(run.stderr).not.toContain(password!);
    const after = await userState('max');
    expect(after.user.accountEnabled).toBe(false);
    expect(after.user.passwordChangedAt).toBeTruthy();
    const dump = JSON.stringify([await store.db.selectFrom('remediation_runs').selectAll().execute(), await store.db.selectFrom('remediation_steps').selectAll().execute(), await store.db.selectFrom('audit_trail').selectAll().execute()]);
    expect(dump).not.toContain(password!);
    const stored = await store.db.selectFrom('remediation_runs').selectAll().where('alert_id', '=', alertId).where('dry_run', '=', 0).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ actor: 'night-shift', source: 'cli', status: 'succeeded' });

    const undo = await cli(['remediate', '--undo', stored.id]);
    expect(undo.code).toBe(0);
    expect(undo.stdout).toContain('ok   unblock-sign-in');
    expect(undo.stdout).toContain('skip reset-password: reset-password cannot be undone');
    expect((await userState('max')).user.accountEnabled).toBe(true);
    const listed = await cli(['remediate', alertId, '--list']);
    expect(listed.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('exits 2 with a coded error for an unknown step and 1 for an unknown alert', async () => {
    const bad = await cli(['remediate', 'al_x', '--steps', 'block-sign-in,format-disk']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('TW_REMEDIATE_BAD_STEPS');
    const missing = await cli(['remediate', 'al_nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('TW_REMEDIATE_ALERT_NOT_FOUND');
  });
});
