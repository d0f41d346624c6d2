import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseUrlsOf, checkConfig, envPath, loadConfig, redact, EXAMPLE_CONFIG } from './config.ts';
import { OperatorError } from './errors.ts';

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-config-'));
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('configuration', () => {
  it('reports five mistakes as five problems at once, each with its path', () => {
    const f = tmpFile(
      'bad.yaml',
      [
        'microsoft:',
        '  cloud: azure-china',
        '  clientId: not-a-guid',
        'web:',
        '  listen: nowhere',
        'ingest:',
        '  pollIntervalSeconds: 1',
        'bogus: true',
      ].join('\n'),
    );
    const { config, problems } = checkConfig({ file: f, env: {} });
    expect(config).toBeUndefined();
    expect(problems.map((p) => p.path).sort()).toEqual(['(root)', 'ingest.pollIntervalSeconds', 'microsoft.clientId', 'microsoft.cloud', 'web.listen']);
    expect(() => loadConfig({ file: f, env: {} })).toThrow(OperatorError);
    try {
      loadConfig({ file: f, env: {} });
    } catch (e) {
      expect((e as OperatorError).code).toBe('TW_CONFIG_INVALID');
      expect((e as OperatorError).exitCode).toBe(2);
      expect((e as OperatorError).details).toHaveLength(5);
    }
  });

  it('lets environment variables win over the file, coercing by the schema type', () => {
    const f = tmpFile('ok.yaml', 'store:\n  url: sqlite:./a.db\ningest:\n  concurrency: 4\n');
    const c = loadConfig({
      file: f,
      env: { TENANTWATCH_STORE_URL: 'postgres://u@h:5432/db', TENANTWATCH_INGEST_CONCURRENCY: '16', TENANTWATCH_MICROSOFT_CLIENT_SECRET: 's3cret-value' },
    });
    expect(c.store.url).toBe('postgres://u@h:5432/db');
    expect(c.ingest.concurrency).toBe(16);
    expect(c.microsoft.clientSecret).toBe('s3cret-value');
    expect(Object.isFrozen(c.microsoft)).toBe(true);
  });

  it("reports an unknown TENANTWATCH_* variable but not the launcher's own (TENANTWATCH_CONFIG, TENANTWATCH_NO_BUNDLE)", () => {
    expect(checkConfig({ env: { TENANTWATCH_NO_BUNDLE: '1' } }).problems).toEqual([]);
    expect(checkConfig({ env: { TENANTWATCH_NO_BUNDLES: '1' } }).problems.map((p) => p.path)).toEqual(['TENANTWATCH_NO_BUNDLES']);
  });

  it('maps env names onto camelCase keys by walking the schema', () => {
    expect(envPath(['MICROSOFT', 'CLIENT', 'SECRET'])?.path).toEqual(['microsoft', 'clientSecret']);
    expect(envPath(['MICROSOFT', 'BASE', 'URLS', 'GRAPH'])?.path).toEqual(['microsoft', 'baseUrls', 'graph']);
    expect(envPath(['NOPE'])).toBeUndefined();
  });

  it('reads a secret from a *File path relative to the config file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-config-'));
    writeFileSync(path.join(dir, 'secret.txt'), 'from-file-secret\n');
    writeFileSync(path.join(dir, 'c.yaml'), 'microsoft:\n  clientSecretFile: ./secret.txt\n');
    const c = loadConfig({ file: path.join(dir, 'c.yaml'), env: {} });
    expect(c.microsoft.clientSecret).toBe('from-file-secret');
  });

  it('redacts every secret field and URL passwords', () => {
    const c = loadConfig({
      env: {
        TENANTWATCH_MICROSOFT_CLIENT_SECRET: 'super-secret-1',
        TENANTWATCH_STORE_URL: 'postgres://tw:hunter2@db:5432/tw',
        TENANTWATCH_REMEDIATE_LINK_SECRET: 'x'.repeat(40),
      },
    });
    const text = JSON.stringify(redact(c));
    expect(text).not.toContain('super-secret-1');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('x'.repeat(40));
    expect(text).toContain('[redacted]');
  });

  it('defaults base URLs to Microsoft per cloud and lets explicit ones win', () => {
    expect(baseUrlsOf(loadConfig({ env: {} })).management).toBe('https://manage.office.com');
    expect(baseUrlsOf(loadConfig({ env: { TENANTWATCH_MICROSOFT_CLOUD: 'gcchigh' } })).management).toBe('https://manage.office365.us');
    expect(baseUrlsOf(loadConfig({ env: { TENANTWATCH_MICROSOFT_CLOUD: 'dod' } })).graph).toBe('https://dod-graph.microsoft.us');
    expect(baseUrlsOf(loadConfig({ env: { TENANTWATCH_MICROSOFT_BASE_URLS_GRAPH: 'https://127.0.0.1:9443/' } })).graph).toBe('https://127.0.0.1:9443');
  });

  it('accepts its own commented example', () => {
    const f = tmpFile('example.yaml', EXAMPLE_CONFIG);
    const { problems } = checkConfig({ file: f, env: {} });
    expect(problems).toEqual([]);
  });
});
