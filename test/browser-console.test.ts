// The console in Debian's Chromium (playwright-core, never a downloaded browser) against `tenantwatch
// demo`'s stack: the real simulator (child process), the service on SQLite and the built console.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDemo, DEMO, type Demo } from '../src/cli/demo-cmd.ts';
import { DEFAULT_CONSOLE_DIR } from '../src/web/server.ts';
import { addUser } from '../src/web/users.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.resolve('test-results');
const HOSTILE_RULE = '<img src=x onerror="window.__pwned=1">\u202Egnp.exe';
const VIEWER_PASSWORD = 'viewer password 123';

type SimState = { users: Array<{ upn: string; accountEnabled: boolean; sessionsRevokedAt: string | null; passwordChangedAt: string | null }>; mailboxes: Array<{ upn: string; forwardingSmtpAddress: string | null; forwardingAddress: string | null; inboxRules: Array<{ name: string; enabled: boolean; hidden: boolean; forwardTo: string[] }> }> };

describe('the console in Chromium', () => {
  let demo: Demo;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const cspViolations: string[] = [];

  async function login(p: Page, username: string, password: string): Promise<void> {
    await p.goto(`${demo.consoleUrl}/alerts`);
    await p.getByLabel('User name').fill(username);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByTestId('me').filter({ hasText: username }).waitFor();
  }

  beforeAll(async () => {
    if (!existsSync(path.join(DEFAULT_CONSOLE_DIR, 'index.html'))) throw new Error('console/dist is missing: run `npm run build:console`');
    mkdirSync(SHOTS, { recursive: true });
    demo = await startDemo({ port: 0, play: false, out: () => {} });
    await addUser(demo.service.store.db, { username: 'viewer', password: VIEWER_PASSWORD, role: 'viewer' });
    profile = mkdtempSync(path.join(os.tmpdir(), 'tw-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1360, height: 900 },
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
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await demo?.stop();
  });

  it('logs in and sees the attack appear in the alert list live, without a reload', async () => {
    await login(page, 'admin', demo.password);
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    await demo.play('takeover');
    const row = page.locator('tr', { hasText: 'Inbox rule forwards outside' }).filter({ hasText: DEMO.user });
    await row.waitFor({ timeout: 90_000 });
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'alerts.png'), fullPage: true });
  }, 120_000);

  it('opens the alert, runs Secure and Remediate with the default steps, sees every step succeed and the simulator change', async () => {
    await page.locator('tr', { hasText: 'Inbox rule forwards outside' }).filter({ hasText: DEMO.user }).getByRole('link').click();
    await page.getByTestId('alert-title').filter({ hasText: 'Inbox rule forwards outside' }).waitFor();
    await page.getByText('Block sign-in').first().waitFor();
    const defaults = await page.locator('fieldset.steps input[type=checkbox]:checked').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(defaults).toEqual(['block-sign-in', 'revoke-sessions', 'reset-password', 'disable-inbox-rules', 'clear-forwarding']);
    await page.getByRole('button', { name: 'Secure and Remediate' }).click();
    await page.getByRole('button', { name: 'Yes, secure the account' }).click();
    const results = page.getByTestId('step-results').locator('li[data-step]');
    await page.waitForFunction(() => {
      const items = [...document.querySelectorAll('[data-testid=step-results] > li[data-step]')];
      return items.length === 5 && items.every((li) => li.getAttribute('data-status') !== 'running');
    }, undefined, { timeout: 60_000 });
    const statuses = await results.evaluateAll((els) => els.map((e) => [e.getAttribute('data-step'), e.getAttribute('data-status')]));
    expect(statuses).toEqual(defaults.map((s) => [s, 'succeeded']));
    await page.locator('.secret-once').filter({ hasText: 'New password for' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'alert-detail.png'), fullPage: true, mask: [page.locator('.secret-once code')], maskColor: '#c9ced6' });

    const state = (await demo.simState()) as SimState;
    const jane = state.users.find((u) => u.upn === DEMO.user)!;
    expect(jane.accountEnabled).toBe(false);
    expect(jane.sessionsRevokedAt).not.toBeNull();
    expect(jane.passwordChangedAt).not.toBeNull();
    const mailbox = state.mailboxes.find((m) => m.upn === DEMO.user)!;
    expect(mailbox.forwardingSmtpAddress ?? null).toBeNull();
    expect(mailbox.forwardingAddress ?? null).toBeNull();
    // The attacker's hidden forwarding rule is off; the user's own rules and the system junk rule are untouched.
    const attack = mailbox.inboxRules.filter((r) => r.forwardTo.includes('drop@mail-collect.example'));
    expect(attack.length).toBeGreaterThan(0);
    expect(attack.every((r) => !r.enabled)).toBe(true);
    expect(mailbox.inboxRules.filter((r) => r.forwardTo.length === 0).every((r) => r.enabled)).toBe(true);
  }, 120_000);

  it('shows the run in the remediation log, the tenants with their health, the notifications and the settings', async () => {
    await page.getByRole('link', { name: 'Remediation log', exact: true }).click();
    const log = page.getByTestId('remediations');
    await log.waitFor();
    await expect.poll(() => log.locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await log.locator('tbody tr').first().innerText()).toContain(DEMO.user);
    await page.screenshot({ path: path.join(SHOTS, 'remediations.png'), fullPage: true });

    // Undo from the log puts the account back (the simulator says so) and adds an undo run.
    await log.getByRole('button', { name: 'Undo' }).first().click();
    await log.getByRole('button', { name: 'Yes, undo' }).click();
    await log.getByText('undo run').first().waitFor();
    await expect.poll(async () => ((await demo.simState()) as SimState).users.find((u) => u.upn === DEMO.user)!.accountEnabled).toBe(true);

    await page.getByRole('link', { name: 'Tenants', exact: true }).click();
    await page.getByTestId('tenants').waitFor();
    await page.getByText('Contoso Ltd').first().waitFor();
    await page.getByText('unified audit log is off').first().waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'tenants.png'), fullPage: true });

    await page.getByRole('link', { name: 'Notifications', exact: true }).click();
    await page.getByTestId('notifications').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'notifications.png'), fullPage: true });

    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByRole('button', { name: 'Send a test message through demo-inbox' }).click();
    await page.getByText('test message sent').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'settings.png'), fullPage: true });
  }, 60_000);

  it('renders an injected <img onerror> rule name as inert text that never executes', async () => {
    await page.getByRole('link', { name: 'Alerts', exact: true }).click();
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor();
    await demo.play('inbox-rule-forward', { user: 'raj@contoso.com', ruleName: HOSTILE_RULE });
    const row = page.locator('tr', { hasText: 'raj@contoso.com' }).filter({ hasText: '<img src=x onerror=' });
    await row.first().waitFor({ timeout: 90_000 });
    expect(await row.first().locator('img').count()).toBe(0);
    expect(await row.first().innerText()).toContain('[U+202E]');
    await row.first().getByRole('link').click();
    await page.getByTestId('alert-summary').filter({ hasText: '<img src=x onerror=' }).waitFor();
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? [])).toEqual([]);
    expect(cspViolations).toEqual([]);
  }, 120_000);

  it('lets a viewer read an alert but not remediate it', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await login(page, 'viewer', VIEWER_PASSWORD);
    await page.locator('tr', { hasText: 'raj@contoso.com' }).first().getByRole('link').click();
    await page.getByTestId('remediate-denied').waitFor();
    expect(await page.getByRole('button', { name: 'Secure and Remediate' }).isDisabled()).toBe(true);
    const alertId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const status = await page.evaluate(async (id) => {
      const s = await (await fetch('/api/session')).json();
      const r = await fetch(`/api/alerts/${encodeURIComponent(id)}/remediate`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ steps: ['block-sign-in'] }) });
      return r.status;
    }, alertId);
    expect(status).toBe(403);
    const raj = ((await demo.simState()) as SimState).users.find((u) => u.upn === 'raj@contoso.com')!;
    expect(raj.accountEnabled).toBe(true);
  }, 60_000);
});
