#!/usr/bin/env node
// The service and CLI run from TypeScript sources through tsx's loader (no build step to go stale).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
