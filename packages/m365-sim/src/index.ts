// Public entry for the package's own tests and the demo: start a simulator in-process.
import { directory as realDirectory } from './directory.ts';
import { createSimServer, type SimServer } from './server.ts';
import type { DirectoryModule } from './types.ts';
import { loadWorld, validateWorld, type World, type WorldInput } from './world.ts';

export type * from './types.ts';
export type { SimServer } from './server.ts';
export { WorldError, DEMO_WORLD, loadWorld, validateWorld } from './world.ts';
export type { World, WorldInput } from './world.ts';

export interface StartSimServerOptions {
  /** A world file path, `demo` (default), or a world object (as in the YAML file). */
  world?: string | WorldInput;
  port?: number;
  host?: string;
  http?: boolean;
  /** Seconds before appended records become listable (default 3). */
  latencySeconds?: number;
  seed?: number;
  /** Replaces the directory module (Graph, Exchange, state); the real one by default. */
  directory?: DirectoryModule;
}

export async function startSimServer(opts: StartSimServerOptions = {}): Promise<SimServer> {
  const w = opts.world ?? 'demo';
  const world: World = typeof w === 'string' ? loadWorld(w, opts.seed) : validateWorld(w, process.cwd(), opts.seed);
  return createSimServer({ world, directory: opts.directory ?? realDirectory, port: opts.port, host: opts.host, http: opts.http, latencySeconds: opts.latencySeconds });
}
