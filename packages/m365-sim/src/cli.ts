// `m365-sim`: a local stand-in for the Microsoft 365 endpoints tenantwatch uses.
import { Command, InvalidArgumentError } from 'commander';
import { directory } from './directory.ts';
import { createSimServer } from './server.ts';
import { loadWorld, WorldError } from './world.ts';

const HELP = `
World file (YAML; contracts §5). Every mistake is listed at once and the program exits with status 2.
  app:                                  # the MSP's multi-tenant application
    clientId: <GUID>
    clientSecret: <text>                # optional (client_secret credential)
    clientSecretExpiresAt: <ISO time>   # optional: after it, AADSTS7000222
    certificate: ./app-cert.pem         # optional: PEM certificate(s) for client assertions
  partner: { tenantId: <GUID>, domain: msp.example }
  tenants:
    - id: <GUID>
      name: Contoso Ltd
      domains: [contoso.com, contoso.onmicrosoft.com]
      consented: true                   # admin consent for the app (false: AADSTS700016)
      gdap: active                      # active | expired | none
      auditLogEnabled: true             # false: Management API "Tenant … does not exist"
      users: [{ upn: jane@contoso.com, displayName: Jane Doe, admin: false, federated: false }]
      # optional: roles, canResetPasswords, hasP1, recipients [{identity,address,type}],
      #   acceptedDomains [{domain, matchSubdomains}], inboxRules [{user,name,hidden,forwardTo,
      #   moveToFolder,deleteMessage,markAsRead,subjectContainsWords}], subscriptions [content types]
  generate: { tenants: 0, usersPerTenant: 25, recordsPerTenantPerHour: 0 }  # lazy synthetic tenants
                                        #   ids <seed-hex>-0000-4000-8000-<index hex>, domains gen<i>.example
  seed: 1
  quirks: { duplicates: 0.1, outOfOrder: true, lateBlobs: 0, lateBlobDelaySeconds: 120, firstContentDelaySeconds: 0,
            pageSize: 100, throttlePerMinute: 2000, webhookAttempts: 3, webhookRetryBaseMs: 1000,
            webhookDisableAfterFailures: 0 }

Microsoft endpoints (one origin): /{tenant}/v2.0/.well-known/openid-configuration,
  /{tenant}/discovery/v2.0/keys, /common/discovery/instance, POST /{tenant}/oauth2/v2.0/token,
  /api/v1.0/{tenant}/activity/feed/... (also /api/v1/), /v1.0/... (Graph),
  /adminapi/beta/{tenant}/InvokeCommand (Exchange admin API).

Control API (plain JSON):
  POST   /_sim/tenants/{id}/records   {"contentType":"Audit.Exchange","records":[...]}  -> 202
  POST   /_sim/tenants/{id}/activity  {"scenario":"inbox-rule-forward","user":"jane@contoso.com"} -> 202
  GET    /_sim/tenants/{id}/state     users, rules (incl. hidden), forwarding, audit config, subscriptions
  POST   /_sim/tenants/{id}/config    {"consented","gdap","auditLogEnabled","roles","disableSubscription",...}
  POST   /_sim/faults   {"match":{"path":"/subscriptions/content","tenantId":"…","method":"GET"},
                         "status":429,"retryAfter":2,"count":5,"delayMs":0,"dropConnection":false,
                         "truncateBody":false,"malformedJson":false,"body":{...}} -> 201
  GET    /_sim/faults    DELETE /_sim/faults    DELETE /_sim/faults/{id}
  GET    /_sim/requests[?since=&tenant=&path=&method=]   DELETE /_sim/requests
  POST   /_sim/clock    {"advanceSeconds":3600}          GET /_sim/clock
  POST   /_sim/quirks   {"duplicates":0,"outOfOrder":false,"pageSize":5,"throttlePerMinute":10,
                         "latencySeconds":0,"tokenLifetimeSeconds":60,...}
  POST   /_sim/tokens   {"tenantId","resource":"management|graph|exchange","roles":[],"lifetimeSeconds":-60}
  GET    /_sim/scenarios    GET /_sim/health
`;

function num(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number`);
    return n;
  };
}

const program = new Command('m365-sim').description('A faithful local simulator of Microsoft 365 (identity, Management Activity API, Graph, Exchange admin API).');
program
  .command('serve')
  .description('serve the simulator over HTTPS with its own CA')
  .option('--port <port>', 'port (0 = chosen by the system)', num('--port'), 0)
  .option('--host <host>', 'address to bind', '127.0.0.1')
  .option('--world <file|demo>', 'world file (YAML) or the built-in demo world', 'demo')
  .option('--latency <seconds>', 'seconds before appended records become listable content', num('--latency'), 3)
  .option('--seed <n>', 'seed for generated tenants and quirks', num('--seed'))
  .option('--http', 'serve plain HTTP instead of HTTPS')
  .addHelpText('after', HELP)
  .action(async (o: { port: number; host: string; world: string; latency: number; seed?: number; http?: boolean }) => {
    let world;
    try {
      world = loadWorld(o.world, o.seed);
    } catch (err) {
      if (err instanceof WorldError) {
        process.stderr.write(`m365-sim: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    const server = await createSimServer({ world, directory, port: o.port, host: o.host, http: o.http, latencySeconds: o.latency });
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      const t = setTimeout(() => process.exit(0), 3000);
      t.unref();
      server.close().then(() => process.exit(0), () => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.stdout.write(`m365-sim listening on ${server.url}\n`);
    process.stdout.write(server.caPath ? `m365-sim ca ${server.caPath}\n` : 'm365-sim ca none\n');
    if (process.env.M365_SIM_TIMING === '1') {
      const cpu = process.cpuUsage();
      process.stderr.write(`m365-sim ready after ${Math.round(performance.now())} ms (cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms)\n`);
    }
  });
program.addHelpText('after', HELP);
await program.parseAsync();
