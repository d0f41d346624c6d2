// Builds every Microsoft client from the configuration, sharing one token provider and one HTTP client
// (so the per-tenant budget and the token cache are one per process, or the budget one per cluster when the
// composition root passes a shared one: src/scale/budget.ts). The composition root and the CLI call this.
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { createExchangeClient, type ExchangeClient } from './exchange.ts';
import { createGraphClient, type GraphClient } from './graph.ts';
import { createM365Http, type M365Http, type M365HttpOptions } from './http.ts';
import { createManagementApi, type ManagementApi } from './management-api.ts';
import { createTokenProvider, type TokenProvider } from './token.ts';

export interface M365Clients {
  tokens: TokenProvider;
  http: M365Http;
  graph: GraphClient;
  exchange: ExchangeClient;
  management: ManagementApi;
  close(): Promise<void>;
}

export function createM365Clients(
  config: Readonly<Config>,
  opts: { logger?: Logger; tokens?: TokenProvider; /** Share an existing client (and its budget); close() then leaves it open. */ http?: M365Http } & Partial<
    Pick<M365HttpOptions, 'sleep' | 'random' | 'backoffBaseMs' | 'maxRetryAfterMs' | 'budget'>
  > = {},
): M365Clients {
  const tokens = opts.tokens ?? createTokenProvider({ config, logger: opts.logger });
  const http = opts.http ?? createM365Http({ config, tokens, logger: opts.logger, sleep: opts.sleep, random: opts.random, backoffBaseMs: opts.backoffBaseMs, maxRetryAfterMs: opts.maxRetryAfterMs, budget: opts.budget });
  return {
    tokens,
    http,
    graph: createGraphClient(http, config),
    exchange: createExchangeClient(http, config),
    management: createManagementApi({ config, http, logger: opts.logger }),
    close: async () => {
      if (!opts.http) await http.close();
      if (!opts.tokens) await tokens.close?.();
    },
  };
}
