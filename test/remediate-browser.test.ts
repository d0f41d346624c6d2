// The Secure and Remediate confirmation page in Debian's Chromium (playwright-core): the signed link from
// a notification opens the page (strict CSP, no script, hostile names inert), the confirm button runs
// the playbook against m365-sim and shows each result; the link then refuses a second use.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.ts';
import { recordDetections } from '../src/alerts/record.ts';
import { createExchangeClient } from '../src/m365/exchange.ts';
import { createGraphClient } from '../src/m365/graph.ts';
import { createM365Http, type M365Http } from '../src/m365/http.ts';
import { createTokenProvider } from '../src/m365/token.ts';
import { signRemediationLink } from '../src/remediate/links.ts';
import { registerRemediationRoutes } from '../src/remediate/routes.ts';
import type { Detection } from '../src/model.ts';
import { startSim, type StartedSim } from './helpers/sim.ts';
import { freshStore, type TestStore } from './helpers/stores.ts';

const TENANT = '3f2b6c1e-7a41-4d0b-9c55-2e8f1a7b9d10';
const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
const CLIENT = '6f1e2d3c-0000-4000-8000-00000000a001';
const SECRET = 'sim-secret-1';
const USER = 'ava.lind@northwind.example';
const DEST = 'drop@mail-collect.example';
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

describe('the signed-link confirmation page in Chromium', () => {
  let sim: StartedSim;
  let store: TestStore;
  let config: Readonly<Config>;
  let http: M365Http;
  let app: FastifyInstance;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const cspErrors: string[] = [];

  beforeAll(async () => {
    sim = await startSim({
      world: {
        app: { clientId: CLIENT, clientSecret: SECRET },
        partner: { tenantId: PARTNER, domain: 'msp.example' },
        tenants: [{
          id: TENANT, name: 'Northwind', domains: ['northwind.example'], consented: true, gdap: 'active', auditLogEnabled: true,
          users: [{ upn: USER, displayName: 'Ava Lind' }],
          inboxRules: [{ user: USER, name: 'Receipts', moveToFolder: 'Receipts', subjectContainsWords: ['receipt'] }],
        }],
      },
    });
    store = await freshStore('sqlite');
    config = loadConfig({
      env: {},
      overrides: {
        microsoft: { partnerTenantId: PARTNER, clientId: CLIENT, clientSecret: SECRET, caFile: sim.caPath, baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url } },
        remediate: { linkSecret: 'browser-test-link-secret-0123456789abcdef' },
      },
    });
    http = createM365Http({ config, tokens: createTokenProvider({ config }) });
    app = Fastify();
    await registerRemediationRoutes(app, {
      db: store.db, config, graph: createGraphClient(http, config), exchange: createExchangeClient(http, config),
      currentUser: () => undefined, linkIdentity: 'name',
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    profile = mkdtempSync(path.join(os.tmpdir(), 'tw-remediate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context.setDefaultTimeout(30_000);
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        (window as unknown as { __csp: string[] }).__csp ??= [];
        (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
    await http?.close();
    await store?.dispose();
    await sim?.stop();
  });

  it('confirms in the browser, shows every step result and the password once and refuses the link afterwards', async () => {
    const r = await sim.control.activity(TENANT, 'takeover', { user: USER, ruleName: HOSTILE });
    const ruleName = (r.detail as { rule: { name: string } }).rule.name;
    const det: Detection = {
      recordId: randomUUID(), ruleId: 'inbox-rule-external-forward', behaviour: 'inbox-rule-external-forward', severity: 'critical', tenantId: TENANT, userId: USER,
      summary: `${USER} set inbox rule "${ruleName}" to forward to ${DEST}`, attempt: false, occurredAt: new Date().toISOString(), target: DEST,
      facts: { inboxRuleName: ruleName, inboxRuleExternalRecipients: [DEST] },
    };
    const [change] = await store.db.transaction().execute((trx) => recordDetections(trx, [det], { config }));
    const link = signRemediationLink(config, { alertId: change.alertId, steps: ['block-sign-in', 'revoke-sessions', 'reset-password', 'disable-inbox-rules', 'clear-forwarding'] });

    await page.goto(`${base}/remediate/${link.token}`);
    await page.getByRole('heading', { name: 'Secure and Remediate' }).waitFor();
    expect(await page.locator('input[name=steps]:checked').count()).toBe(5);
    expect(await page.getByText(HOSTILE).count()).toBeGreaterThan(0); // shown as text, not markup
    await page.getByLabel(/Your name/).fill('Night shift');
    await page.getByRole('button', { name: 'Secure and Remediate' }).click();
    await page.getByText(/Run .*: succeeded/).waitFor({ timeout: 60_000 });
    const rows = await page.locator('tr td:nth-child(2)').allTextContents();
    expect(rows).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const password = await page.locator('code.secret').textContent();
    expect(password).toMatch(/^.{20}$/);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? [])).toEqual([]);
    expect(cspErrors).toEqual([]);

    const st = await sim.control.state(TENANT);
    const user = st.users.find((u: { upn: string }) => u.upn === USER);
    const mb = st.mailboxes.find((m: { upn: string }) => m.upn === USER);
    expect(user.accountEnabled).toBe(false);
    expect(mb.inboxRules.find((x: { name: string }) => x.name === ruleName).enabled).toBe(false);
    expect(mb.inboxRules.find((x: { name: string }) => x.name === 'Receipts').enabled).toBe(true);
    expect(mb.forwardingAddress).toBeNull();

    // Back, reload: the link is spent; the page says so and offers no button.
    await page.goto(`${base}/remediate/${link.token}`);
    await page.getByRole('heading', { name: 'This link was already used' }).waitFor();
    expect(await page.locator('button').count()).toBe(0);
    expect(await page.content()).not.toContain(password!);
  }, 120_000);

  it('sends each step result as soon as the step finishes, before the slower steps are done', async () => {
    const st0 = await sim.control.state(TENANT);
    const user = st0.users.find((u: { upn: string }) => u.upn === USER);
    const det: Detection = {
      recordId: randomUUID(), ruleId: 'signin-anomaly', behaviour: 'signin-anomaly', severity: 'medium', tenantId: TENANT, userId: USER,
      summary: 'sign-in from a new country', attempt: false, occurredAt: new Date().toISOString(), facts: {},
    };
    const [change] = await store.db.transaction().execute((trx) => recordDetections(trx, [det], { config }));
    const link = signRemediationLink(config, { alertId: change.alertId, steps: ['revoke-sessions', 'clear-forwarding'] });
    const get = await fetch(`${base}/remediate/${link.token}`);
    const cookie = (get.headers.get('set-cookie') ?? '').split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await get.text())![1];
    // Exchange answers slowly this time: revoke-sessions (Graph) must reach the browser before clear-forwarding ends.
    await sim.control.faults({ match: { path: '/adminapi/', tenantId: TENANT }, delayMs: 1500, count: 1 });
    try {
      const res = await fetch(`${base}/remediate/${link.token}`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: `csrf=${encodeURIComponent(csrf)}&steps=revoke-sessions&steps=clear-forwarding&name=Ops`,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const chunks: string[] = [];
      const dec = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(dec.decode(value, { stream: true }));
      }
      const revokeAt = chunks.findIndex((c) => c.includes('<td>revoke-sessions</td>'));
      const forwardingAt = chunks.findIndex((c) => c.includes('<td>clear-forwarding</td>'));
      expect(revokeAt).toBeGreaterThanOrEqual(0);
      expect(forwardingAt).toBeGreaterThan(revokeAt);
      expect(chunks.join('')).toContain('revoke-sessions</td><td class="ok">succeeded');
    } finally {
      await sim.control.clearFaults();
    }
    expect((await sim.control.state(TENANT)).users.find((u: { upn: string }) => u.upn === USER).sessionsRevokedAt).not.toBe(user.sessionsRevokedAt);
  }, 60_000);
});
