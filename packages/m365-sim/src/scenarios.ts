// Activity scenarios (filled in next).
import type { DirectoryModule, SimContext, SimTenant } from './types.ts';

export const scenarios: readonly string[] = [];
export const runScenario: DirectoryModule['runScenario'] = (_ctx: SimContext, _t: SimTenant, body) => ({
  ok: false,
  status: 400,
  error: `unknown scenario '${String(body.scenario)}'`,
});
