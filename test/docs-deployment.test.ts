// The worker options docs/deployment.md recommends are the ones the scale benchmark measures by default.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RECOMMENDED_WORKER_NODE_OPTIONS } from '../bench/scale.ts';

describe('docs/deployment.md', () => {
  it('recommends the NODE_OPTIONS that bench/scale.ts measures workers with, in the text and in the systemd unit', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../docs/deployment.md'), 'utf8');
    expect(doc).toContain(`NODE_OPTIONS="${RECOMMENDED_WORKER_NODE_OPTIONS}"`);
    expect(doc).toContain(`Environment="NODE_OPTIONS=${RECOMMENDED_WORKER_NODE_OPTIONS}"`);
  });
});
