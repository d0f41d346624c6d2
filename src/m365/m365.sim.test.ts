// The Graph and Exchange clients against the real simulator (HTTPS, MSAL): typed results, RuleIdentity kept exact,
// hidden rules with IncludeHidden, explicit nulls that clear forwarding, coded errors with Microsoft's codes, and a
// token refreshed before it expires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type StartedSim } from '../../test/helpers/sim.ts';
import { configSchema, type Config } from '../config.ts';
import { createM365Clients, type M365Clients } from './clients.ts';
import { createM365Http } from './http.ts';
import { createGraphClient } from './graph.ts';
import { createTokenProvider, type TokenProvider } from './token.ts';

const PARTNER = '9a9a9a9a-0000-4000-8000-000000000001';
const CLIENT_ID = '6f1e2d3c-0000-4000-8000-00000000a001';
const SECRET = 'sim-secret-m365-Hk3';
const TENANT = '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11';
const JANE = 'jane@contoso.com';

let sim: StartedSim;
let config: Readonly<Config>;
let clients: M365Clients;

beforeAll(async () => {
  sim = await startSim({
    world: {
      app: { clientId: CLIENT_ID, clientSecret: SECRET },
      partner: { tenantId: PARTNER, domain: 'msp.example' },
      tenants: [
        {
          id: TENANT,
          name: 'Contoso Ltd',
          domains: ['contoso.com', 'contoso.onmicrosoft.com'],
          consented: true,
          gdap: 'active',
          users: [{ upn: JANE, displayName: 'Jane Doe' }],
          recipients: [{ identity: 'Drop Box', address: 'drop@mail.example.net', type: 'MailContact' }],
          acceptedDomains: [{ domain: 'contoso.com' }, { domain: 'contoso.co.uk', matchSubdomains: true }],
          inboxRules: [
            { user: JANE, name: 'Invoices', moveToFolder: 'Invoices', subjectContainsWords: ['invoice'] },
            { user: JANE, name: '.', hidden: true, forwardTo: ['drop@mail.example.net'], markAsRead: true },
          ],
        },
      ],
    },
  });
  config = configSchema.parse({
    microsoft: {
      partnerTenantId: PARTNER,
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url },
      caFile: sim.caPath,
      maxRetries: 2,
    },
  });
  clients = createM365Clients(config, { sleep: async () => undefined });
}, 120_000);

afterAll(async () => {
  await clients?.close();
  await sim?.stop();
});

describe('Graph client', () => {
  it('reads the organization, domains and a user with accountEnabled', async () => {
    const org = await clients.graph.organization(TENANT);
    expect(org).toMatchObject({ id: TENANT, displayName: 'Contoso Ltd' });
    expect((await clients.graph.domains(TENANT)).map((d) => d.id)).toEqual(expect.arrayContaining(['contoso.com']));
    expect(await clients.graph.getUser(TENANT, JANE)).toMatchObject({ userPrincipalName: JANE, accountEnabled: true });
  });

  it('blocks sign-in and revokes sessions', async () => {
    await clients.graph.setAccountEnabled(TENANT, JANE, false);
    expect(await clients.graph.revokeSignInSessions(TENANT, JANE)).toBe(true);
    const state = await sim.control.state(TENANT);
    const jane = state.users.find((u: { upn: string }) => u.upn === JANE);
    expect(jane.accountEnabled).toBe(false);
    expect(jane.sessionsRevokedAt).toBeTruthy();
    await clients.graph.setAccountEnabled(TENANT, JANE, true);
  });

  it('maps an unknown user to TW_M365_NOT_FOUND with Graph\'s code', async () => {
    await expect(clients.graph.getUser(TENANT, 'nobody@contoso.com')).rejects.toMatchObject({ code: 'TW_M365_NOT_FOUND', upstreamCode: 'Request_ResourceNotFound', status: 404 });
  });
});

describe('Exchange client', () => {
  it('lists hidden rules only with IncludeHidden and keeps RuleIdentity exact above 2^53', async () => {
    const visible = await clients.exchange.getInboxRules(TENANT, JANE, { includeHidden: false });
    const all = await clients.exchange.getInboxRules(TENANT, JANE, { includeHidden: true });
    expect(visible.map((r) => r.name)).toEqual(['Invoices']);
    expect(all.map((r) => r.name).sort()).toEqual(['.', 'Invoices', 'Junk E-mail Rule']);
    const hidden = all.find((r) => r.name === '.')!;
    expect(hidden.forwardTo.join(' ')).toContain('drop@mail.example.net');
    expect(hidden.ruleIdentity).toMatch(/^\d+$/);
    expect(BigInt(hidden.ruleIdentity) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    const simRule = (await sim.control.state(TENANT)).mailboxes.flatMap((m: { rules: Array<{ name: string; ruleIdentity: string }> }) => m.rules).find((r: { name: string }) => r.name === '.');
    expect(hidden.ruleIdentity).toBe(simRule.ruleIdentity);
  });

  it('disables a rule by its RuleIdentity', async () => {
    const [rule] = (await clients.exchange.getInboxRules(TENANT, JANE)).filter((r) => r.name === '.');
    await clients.exchange.disableInboxRule(TENANT, JANE, rule!.ruleIdentity);
    const after = (await clients.exchange.getInboxRules(TENANT, JANE)).find((r) => r.name === '.');
    expect(after!.enabled).toBe(false);
  });

  it('sets and clears mailbox forwarding, sending explicit nulls', async () => {
    await clients.exchange.setMailboxForwarding(TENANT, JANE, { forwardingSmtpAddress: 'smtp:drop@mail.example.net', forwardingAddress: null, deliverToMailboxAndForward: true });
    expect(await clients.exchange.getMailbox(TENANT, JANE)).toMatchObject({ forwardingSmtpAddress: 'smtp:drop@mail.example.net', deliverToMailboxAndForward: true });
    await clients.exchange.setMailboxForwarding(TENANT, JANE, { forwardingSmtpAddress: null, forwardingAddress: null, deliverToMailboxAndForward: false });
    expect(await clients.exchange.getMailbox(TENANT, JANE)).toMatchObject({ forwardingSmtpAddress: null, forwardingAddress: null, deliverToMailboxAndForward: false });
  });

  it('resolves a mail contact and answers undefined for an unknown recipient', async () => {
    expect(await clients.exchange.getRecipient(TENANT, 'Drop Box')).toMatchObject({ recipientTypeDetails: 'MailContact', externalEmailAddress: expect.stringMatching(/drop@mail\.example\.net$/i) });
    expect(await clients.exchange.getRecipient(TENANT, 'No Such Contact')).toBeUndefined();
  });

  it('reads accepted domains with MatchSubDomains and the audit configuration', async () => {
    const domains = await clients.exchange.getAcceptedDomains(TENANT);
    expect(domains.find((d) => d.domainName === 'contoso.co.uk')).toMatchObject({ matchSubDomains: true });
    expect(domains.find((d) => d.domainName === 'contoso.com')).toMatchObject({ matchSubDomains: false });
    expect((await clients.exchange.getAdminAuditLogConfig(TENANT)).unifiedAuditLogIngestionEnabled).toBe(true);
  });

  it('turns a failed cmdlet into TW_M365_NOT_FOUND carrying the Exchange error id and exception type', async () => {
    const err = await clients.exchange.getMailbox(TENANT, 'ghost@contoso.com').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TW_M365_NOT_FOUND', upstreamCode: expect.stringMatching(/^[^|]+\|[\w.]*ManagementObjectNotFoundException$/) });
  });
});

describe('token provider', () => {
  it('reuses a token until five minutes before it expires, then asks for a new one', async () => {
    let now = Date.now();
    const tokens = createTokenProvider({ config, now: () => now });
    const first = await tokens.getToken(TENANT, 'graph');
    expect(await tokens.getToken(TENANT, 'graph')).toBe(first);
    expect(tokens.stats).toMatchObject({ requests: 1, cacheHits: 1 });
    now += 56 * 60_000; // a one-hour token is now within five minutes of its end
    await tokens.getToken(TENANT, 'graph');
    expect(tokens.stats.requests).toBe(2);
  });

  it('refuses the empty access token MSAL returns when the token endpoint answers 404 {}', async () => {
    const tokens = createTokenProvider({ config });
    await sim.control.faults({ match: { path: '/oauth2/v2.0/token', tenantId: TENANT }, status: 404, body: {}, count: 1 });
    try {
      const err = await tokens.getToken(TENANT, 'management').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'TW_M365_TOKEN_FAILED', retryable: true, message: expect.stringContaining('returned no access token') });
      expect(await tokens.getToken(TENANT, 'management')).toMatch(/^eyJ/);
    } finally {
      await sim.control.clearFaults();
    }
  });

  it('shares one token request between concurrent callers', async () => {
    const tokens = createTokenProvider({ config });
    const all = await Promise.all(Array.from({ length: 5 }, () => tokens.getToken(TENANT, 'exchange')));
    expect(new Set(all).size).toBe(1);
    expect(tokens.stats.requests).toBe(1);
  });
});

describe('HTTP client', () => {
  it('fetches a fresh token once when Microsoft says 401 to a cached one that went stale', async () => {
    const expired = (await sim.control.fetch<{ access_token: string }>('POST', '/_sim/tokens', { body: { tenantId: TENANT, resource: 'graph', lifetimeSeconds: -60 } })).body.access_token;
    const real = createTokenProvider({ config });
    let stale = true;
    const invalidated: string[] = [];
    const tokens: TokenProvider = {
      stats: real.stats,
      getToken: async (t, r) => (stale ? expired : real.getToken(t, r)),
      invalidate: (t, r) => {
        invalidated.push(`${t}|${r}`);
        stale = false;
        real.invalidate(t, r);
      },
    };
    const http = createM365Http({ config, tokens, sleep: async () => undefined });
    try {
      const org = await createGraphClient(http, config).organization(TENANT);
      expect(org.id).toBe(TENANT);
      expect(invalidated).toEqual([`${TENANT}|graph`]);
    } finally {
      await http.close();
    }
  });

  it('never puts the token into an error', async () => {
    const http = createM365Http({ config, tokens: createTokenProvider({ config }), sleep: async () => undefined });
    try {
      await sim.control.faults({ match: { path: '/v1.0/users/', tenantId: TENANT }, status: 400, count: 1, body: { error: { code: 'BadRequest', message: 'x' } } });
      const token = await createTokenProvider({ config }).getToken(TENANT, 'graph');
      const err = (await createGraphClient(http, config).getUser(TENANT, JANE).catch((e: unknown) => e)) as Error;
      expect(err).toMatchObject({ code: 'TW_M365_REJECTED', upstreamCode: 'BadRequest', status: 400 });
      const everything = JSON.stringify(err) + String(err.message) + String(err.stack) + JSON.stringify((err as { details?: unknown }).details);
      expect(everything).not.toContain(token.slice(0, 40));
      expect(everything).not.toContain(SECRET);
    } finally {
      await sim.control.clearFaults();
      await http.close();
    }
  });

  it('keeps each tenant under its request budget by waiting, not by failing', async () => {
    const slow = configSchema.parse({ ...config, microsoft: { ...config.microsoft, requestsPerMinutePerTenant: 6 } });
    let clock = 1_000_000;
    const waits: number[] = [];
    const http = createM365Http({
      config: slow,
      tokens: createTokenProvider({ config: slow }),
      now: () => clock,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    });
    try {
      const graph = createGraphClient(http, slow);
      for (let i = 0; i < 3; i++) await graph.organization(TENANT);
      // 6 per minute = one request every 10 s after the first (burst of one).
      expect(waits).toEqual([10_000, 10_000]);
      await graph.organization(PARTNER); // another tenant has its own budget
      expect(waits).toHaveLength(2);
    } finally {
      await http.close();
    }
  });

  it.each([
    ['a malformed JSON body', { malformedJson: true }],
    ['a truncated body', { truncateBody: true }],
    ['a dropped connection', { dropConnection: true }],
  ])('retries after %s and then succeeds', async (_what, fault) => {
    const http = createM365Http({ config, tokens: createTokenProvider({ config }), sleep: async () => undefined });
    try {
      await sim.control.clearRequests();
      await sim.control.faults({ match: { path: '/v1.0/organization', tenantId: TENANT }, count: 1, ...fault });
      expect((await createGraphClient(http, config).organization(TENANT)).id).toBe(TENANT);
      expect(http.stats.retries).toBe(1);
    } finally {
      await sim.control.clearFaults();
      await http.close();
    }
  });
});
