// `tenantwatch demo` (contracts §7): the simulator with its demo world (a child process), the service on
// SQLite in a temporary directory with a memory channel, the console, a generated admin password, and an
// attack scenario played against the simulator so that an alert, its notification and Secure and
// Remediate can be seen within a minute. Ctrl-C stops everything; --keep keeps the data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { Agent, request } from 'undici';
import { loadConfig, type Config } from '../config.ts';
import { OperatorError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { startService, type Service } from '../main.ts';
import { openStore } from '../store/db.ts';
import { migrateToLatest } from '../store/migrate.ts';
import { addUser, generatePassword } from '../web/users.ts';
import { createM365Clients } from '../m365/clients.ts';
import { addDiscovered, discoverTenants, shouldAdd } from '../tenants/discovery.ts';
import { checkTenants } from '../tenants/onboard.ts';
import { listTenants } from '../tenants/registry.ts';
import { action } from './common.ts';
import { PROJECT_ROOT } from '../paths.ts';

const SIM_BIN = path.join(PROJECT_ROOT, 'packages/m365-sim/bin/m365-sim.js');

/** The demo world's application and victim (packages/m365-sim's built-in `demo` world). */
export const DEMO = {
  partnerTenantId: '9a9a9a9a-0000-4000-8000-000000000001',
  clientId: '6f1e2d3c-0000-4000-8000-00000000a001',
  clientSecret: 'sim-secret-1',
  tenantId: '2f6c1a7e-0c1d-4c55-9a53-0d2f0a1b9c11',
  tenantName: 'Contoso Ltd',
  user: 'jane@contoso.com',
};

export interface DemoOptions {
  port?: number;
  scenario?: string;
  keep?: boolean;
  /** Seconds between "ready" and the attack (time to open the console). */
  delaySeconds?: number;
  /** Seconds the simulator waits before appended records become listable. */
  latencySeconds?: number;
  /** Play the scenario automatically (default true); tests play it themselves. */
  play?: boolean;
  logger?: Logger;
  out?: (line: string) => void;
}

export interface Demo {
  consoleUrl: string;
  simulatorUrl: string;
  caPath: string;
  username: string;
  password: string;
  dataDir: string;
  config: Readonly<Config>;
  service: Service;
  /** Plays an attack scenario in the simulator (default: the one given, or takeover). */
  play(scenario?: string, opts?: { user?: string; tenantId?: string; ruleName?: string; ip?: string; destination?: string }): Promise<void>;
  /** The simulator's view of a tenant (users, inbox rules, forwarding). */
  simState(tenantId?: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(new OperatorError('TW_USAGE', { detail: `port ${port} is ${e.code === 'EADDRINUSE' ? 'in use' : `not available (${e.code})`}; choose another with --port, or --port 0` })),
    );
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Spawns `m365-sim serve` (never imported: src/ and the simulator stay apart) and reads its two lines. */
async function spawnSim(latencySeconds: number): Promise<{ child: ChildProcess; url: string; caPath: string }> {
  const child = spawn(process.execPath, [SIM_BIN, 'serve', '--port', '0', '--world', 'demo', '--latency', String(latencySeconds)], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    let url: string | undefined;
    const timer = setTimeout(() => fail(new Error('the simulator did not start within 30 s')), 30_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new OperatorError('TW_INTERNAL', { detail: `${e.message}${stderr ? `: ${stderr.slice(0, 500)}` : ''}` }));
    };
    child.once('exit', (code) => fail(new Error(`the simulator exited (${code})`)));
    child.stdout!.setEncoding('utf8');
    const onData = (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        const listening = /^m365-sim listening on (\S+)/.exec(line);
        const ca = /^m365-sim ca (.+)$/.exec(line);
        if (listening) url = listening[1].replace(/\/+$/, '');
        if (ca && url) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.stdout!.off('data', onData);
          child.stdout!.resume();
          resolve({ child, url, caPath: ca[1] });
        }
      }
    };
    child.stdout!.on('data', onData);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const logger = opts.logger ?? createLogger({ level: 'error' });
  const scenario = opts.scenario ?? 'takeover';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tenantwatch-demo-'));
  const cleanups: Array<() => Promise<void>> = [];
  let service: Service | undefined;
  try {
    const sim = await spawnSim(opts.latencySeconds ?? 1);
    cleanups.push(() => stopChild(sim.child));
    const port = opts.port && opts.port > 0 ? opts.port : await freePort();
    const consoleUrl = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      env: {},
      overrides: {
        microsoft: {
          partnerTenantId: DEMO.partnerTenantId,
          clientId: DEMO.clientId,
          clientSecret: DEMO.clientSecret,
          baseUrls: { login: sim.url, management: sim.url, graph: sim.url, exchange: sim.url },
          caFile: sim.caPath,
        },
        store: { url: `sqlite:${path.join(dataDir, 'tenantwatch.db')}` },
        web: { listen: `127.0.0.1:${port}`, publicUrl: consoleUrl, metrics: true },
        ingest: { pollIntervalSeconds: 5, overlapMinutes: 10 },
        notify: { channels: [{ name: 'demo-inbox', type: 'memory' }], routes: [{ channels: ['demo-inbox'] }] },
        remediate: { linkSecret: randomBytes(32).toString('base64url') },
        log: { level: 'warn' },
      },
    });

    // The admin user, and the demo world's customers discovered through GDAP and onboarded.
    const password = generatePassword();
    const store = await openStore(config.store.url);
    try {
      const r = await migrateToLatest(store.db);
      if (!r.ok) throw new OperatorError('TW_MIGRATION_FAILED', { step: r.steps.find((s) => s.status === 'failed')?.name ?? '?', reason: 'see log' });
      await addUser(store.db, { username: 'admin', password, role: 'admin' });
      const clients = createM365Clients(config, { logger });
      try {
        const found = await discoverTenants({ db: store.db, config, graph: clients.graph, logger });
        await addDiscovered(store.db, found.tenants.filter(shouldAdd));
        await checkTenants({ db: store.db, config, clients, logger }, await listTenants(store.db), { mode: 'onboard' });
      } finally {
        await clients.close();
      }
    } finally {
      await store.close();
    }

    service = await startService(config, { roles: 'all', logger });
    const svc = service;
    cleanups.unshift(() => svc.stop());

    out(`console ${consoleUrl}`);
    out('user admin');
    out(`password ${password}`);
    out(`simulator ${sim.url}`);

    const simCa = readFileSync(sim.caPath, 'utf8');
    const dispatcher = new Agent({ connect: { ca: simCa } });
    cleanups.push(() => dispatcher.close());

    const demo: Demo = {
      consoleUrl,
      simulatorUrl: sim.url,
      caPath: sim.caPath,
      username: 'admin',
      password,
      dataDir,
      config,
      service,
      async play(name = scenario, o = {}) {
        const { tenantId = DEMO.tenantId, user = DEMO.user, ...rest } = o;
        const res = await request(`${sim.url}/_sim/tenants/${encodeURIComponent(tenantId)}/activity`, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ scenario: name, user, ...rest }),
        });
        const text = await res.body.text();
        if (res.statusCode >= 300) throw new OperatorError('TW_USAGE', { detail: `the simulator refused scenario ${name}: ${res.statusCode} ${text.slice(0, 300)}` });
      },
      async simState(tenantId = DEMO.tenantId) {
        const res = await request(`${sim.url}/_sim/tenants/${encodeURIComponent(tenantId)}/state`, { dispatcher });
        return (await res.body.json()) as Record<string, unknown>;
      },
      async stop() {
        for (const c of cleanups) await c().catch(() => {});
        cleanups.length = 0;
        if (!opts.keep) rmSync(dataDir, { recursive: true, force: true });
      },
    };
    if (opts.play !== false) {
      const delay = (opts.delaySeconds ?? 5) * 1000;
      out(`attack in ${delay / 1000} s: scenario ${scenario} against ${DEMO.user} (${DEMO.tenantName}); the alert appears in the console, its notification under ${consoleUrl}/notifications`);
      const t = setTimeout(() => {
        demo.play().then(
          () => out(`attack played: ${scenario}`),
          (e) => out(`attack failed: ${(e as Error).message}`),
        );
      }, delay);
      cleanups.unshift(async () => clearTimeout(t));
    }
    return demo;
  } catch (e) {
    for (const c of cleanups) await c().catch(() => {});
    if (!opts.keep) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('try tenantwatch end to end: simulator, service, console and an attack, on this machine')
    .option('--port <port>', 'console port', (v) => Number(v), 8787)
    .option('--scenario <name>', 'attack scenario the simulator plays (takeover, inbox-rule-forward, …)', 'takeover')
    .option('--keep', 'keep the temporary data directory')
    .option('--delay <seconds>', 'seconds before the attack', (v) => Number(v), 5)
    .action(
      action(async (o: { port: number; scenario: string; keep?: boolean; delay: number }) => {
        if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new OperatorError('TW_USAGE', { detail: '--port must be 0-65535' });
        // Ctrl-C during start-up still stops the simulator: the handler is there before anything starts.
        let stopRequested!: () => void;
        const stopping = new Promise<void>((resolve) => (stopRequested = resolve));
        process.once('SIGINT', () => stopRequested());
        process.once('SIGTERM', () => stopRequested());
        if (o.port > 0) await assertPortFree(o.port);
        const demo = await startDemo({ port: o.port, scenario: o.scenario, keep: o.keep, delaySeconds: o.delay });
        await stopping;
        process.stdout.write('stopping…\n');
        await demo.stop();
        process.stdout.write(o.keep ? `demo stopped; data kept in ${demo.dataDir}\n` : 'demo stopped\n');
        return 0;
      }),
    );
}
