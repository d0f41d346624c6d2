// Starts m365-sim as a child process for the service's tests: `node packages/m365-sim/bin/m365-sim.js
// serve --port 0 ...`, reads its two first stdout lines (URL, CA path) and gives a `SimControl` over the
// /_sim/ control API (undici with the simulator's CA). `stop()` kills the process and removes temp files.
//
//   const sim = await startSim({ world: { app: {...}, partner: {...}, tenants: [...] } });
//   await sim.control.injectRecords(tenantId, 'Audit.Exchange', [record]);
//   ... point the service at sim.url (with sim.ca trusted) ...
//   await sim.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request, type Dispatcher } from 'undici';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packages/m365-sim/bin/m365-sim.js');

export type SimContentType = 'Audit.AzureActiveDirectory' | 'Audit.Exchange' | 'Audit.SharePoint' | 'Audit.General' | 'DLP.All';

export interface SimFault {
  match?: { path?: string; tenantId?: string; method?: string };
  status?: number;
  retryAfter?: number;
  count?: number;
  delayMs?: number;
  dropConnection?: boolean;
  truncateBody?: boolean;
  malformedJson?: boolean;
  body?: unknown;
}

export interface SimRequestLogEntry {
  seq: number;
  time: string;
  method: string;
  path: string;
  tenant: string | null;
  status: number | null;
  resource?: string;
  publisher?: string;
  fault?: string;
  durationMs?: number;
}

export interface SimResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  body: T;
  text: string;
}

export interface SimControl {
  /** POST /_sim/tenants/{id}/records → how many records were kept (none without an enabled subscription). */
  injectRecords(tenantId: string, contentType: SimContentType, records: unknown[]): Promise<{ accepted: number; dropped: number; reason?: string; contentIds: string[] }>;
  /** POST /_sim/tenants/{id}/activity: runs a scenario in the simulator's state. */
  activity(tenantId: string, scenario: string, opts?: { user?: string; [k: string]: unknown }): Promise<{ records: number; detail: unknown }>;
  /** POST /_sim/faults → the fault with its id. */
  faults(fault: SimFault): Promise<{ id: string }>;
  clearFaults(): Promise<void>;
  /** GET /_sim/tenants/{id}/state. */
  state(tenantId: string): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** GET /_sim/requests (optionally filtered). */
  requests(filter?: { since?: number; tenant?: string; path?: string; method?: string }): Promise<SimRequestLogEntry[]>;
  clearRequests(): Promise<void>;
  /** POST /_sim/tenants/{id}/config: consent, GDAP, audit log, roles, disableSubscription … */
  config(tenantId: string, patch: Record<string, unknown>): Promise<unknown>;
  /** POST /_sim/clock: moves the simulated audit clock forward. */
  advanceClock(seconds: number): Promise<{ now: string }>;
  /** POST /_sim/quirks: duplicates, outOfOrder, lateBlobs, pageSize, throttlePerMinute, latencySeconds, tokenLifetimeSeconds … */
  quirks(patch: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Any request to the simulator (Microsoft paths too), parsed as JSON when possible. */
  fetch<T = any>(method: string, pathOrUrl: string, opts?: { body?: unknown; headers?: Record<string, string> }): Promise<SimResponse<T>>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface StartedSim {
  url: string;
  caPath: string;
  /** The CA certificate (PEM); empty with `http: true`. */
  ca: string;
  /** An undici dispatcher trusting the simulator's CA. */
  dispatcher: Dispatcher;
  control: SimControl;
  /** stderr so far (for diagnostics). */
  stderr(): string;
  stop(): Promise<void>;
}

export interface StartSimOptions {
  /** A world file path, `demo` (default) or a world object (written to a temp YAML file; give absolute certificate paths). */
  world?: string | object;
  /** Seconds before appended records become listable. Default here: 0 (the CLI's default is 3). */
  latency?: number;
  http?: boolean;
  /** Extra CLI arguments (e.g. ['--seed', '7']). */
  args?: string[];
  /** How long to wait for the two start lines (default 30 s; the machine may be busy). */
  startTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export async function startSim(opts: StartSimOptions = {}): Promise<StartedSim> {
  let tmpDir: string | undefined;
  let worldArg = 'demo';
  if (typeof opts.world === 'string') worldArg = opts.world;
  else if (opts.world) {
    tmpDir = mkdtempSync(path.join(os.tmpdir(), 'tw-sim-world-'));
    worldArg = path.join(tmpDir, 'world.yaml');
    writeFileSync(worldArg, JSON.stringify(opts.world, null, 2)); // JSON is YAML
  }
  const args = [BIN, 'serve', '--port', '0', '--world', worldArg, '--latency', String(opts.latency ?? 0), ...(opts.http ? ['--http'] : []), ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  running.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const cleanupTmp = () => {
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = undefined;
  };

  let url: string;
  let caPath: string;
  try {
    [url, caPath] = await new Promise<[string, string]>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`m365-sim did not start within ${opts.startTimeoutMs ?? 30_000} ms. stderr:\n${stderr}`)), opts.startTimeoutMs ?? 30_000);
      child.stdout!.setEncoding('utf8');
      const onData = (d: string) => {
        out += d;
        const lines = out.split('\n');
        if (lines.length < 3) return;
        const u = /^m365-sim listening on (\S+)$/.exec(lines[0]!.trim());
        const c = /^m365-sim ca (\S+)$/.exec(lines[1]!.trim());
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        if (!u || !c) reject(new Error(`unexpected m365-sim output:\n${out}\nstderr:\n${stderr}`));
        else resolve([u[1]!, c[1]!]);
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`m365-sim exited (${code ?? signal}) before it was ready. stderr:\n${stderr}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    running.delete(child);
    cleanupTmp();
    throw err;
  }

  const ca = caPath === 'none' ? '' : readFileSync(caPath, 'utf8');
  const dispatcher = new Agent(ca ? { connect: { ca } } : {});

  async function call<T>(method: string, pathOrUrl: string, o: { body?: unknown; headers?: Record<string, string> } = {}): Promise<SimResponse<T>> {
    const target = pathOrUrl.startsWith('http') ? pathOrUrl : `${url}${pathOrUrl}`;
    const hasBody = o.body !== undefined;
    const res = await request(target, {
      method: method as Dispatcher.HttpMethod,
      dispatcher,
      headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...(o.headers ?? {}) },
      body: hasBody ? (typeof o.body === 'string' ? o.body : JSON.stringify(o.body)) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.body.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.statusCode, headers, body: body as T, text };
  }

  async function ok<T>(method: string, p: string, body?: unknown): Promise<T> {
    const r = await call<T>(method, p, { body });
    if (r.status >= 300) throw new Error(`m365-sim ${method} ${p} → ${r.status}: ${r.text.slice(0, 500)}`);
    return r.body;
  }

  const enc = encodeURIComponent;
  const control: SimControl = {
    injectRecords: (t, contentType, records) => ok('POST', `/_sim/tenants/${enc(t)}/records`, { contentType, records }),
    activity: (t, scenario, o = {}) => ok('POST', `/_sim/tenants/${enc(t)}/activity`, { scenario, ...o }),
    faults: (f) => ok('POST', '/_sim/faults', f),
    clearFaults: async () => {
      await ok('DELETE', '/_sim/faults');
    },
    state: (t) => ok('GET', `/_sim/tenants/${enc(t)}/state`),
    requests: (f = {}) => {
      const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)])).toString();
      return ok('GET', `/_sim/requests${qs ? `?${qs}` : ''}`);
    },
    clearRequests: async () => {
      await ok('DELETE', '/_sim/requests');
    },
    config: (t, patch) => ok('POST', `/_sim/tenants/${enc(t)}/config`, patch),
    advanceClock: (seconds) => ok('POST', '/_sim/clock', { advanceSeconds: seconds }),
    quirks: (patch) => ok('POST', '/_sim/quirks', patch),
    fetch: (method, p, o) => call(method, p, o),
  };

  let stopped = false;
  return {
    url,
    caPath,
    ca,
    dispatcher,
    control,
    stderr: () => stderr,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        });
      }
      running.delete(child);
      await dispatcher.close().catch(() => undefined);
      cleanupTmp();
    },
  };
}
