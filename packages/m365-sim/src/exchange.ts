// Exchange Online admin API (InvokeCommand), filled in next.
import type { FastifyInstance } from 'fastify';
import type { SimContext } from './types.ts';

export function registerExchange(_app: FastifyInstance, _ctx: SimContext): void {}
