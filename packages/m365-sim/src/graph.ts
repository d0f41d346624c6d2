// Microsoft Graph v1.0 under /v1.0/ (filled in next).
import type { FastifyInstance } from 'fastify';
import type { SimContext } from './types.ts';

export function registerGraph(_app: FastifyInstance, _ctx: SimContext): void {}
