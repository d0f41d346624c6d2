import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../config.ts';
import { consentUrl, loadCredential, mapTokenError, parseCertificatePem, scopeFor } from './token.ts';

function makeCert(bits = 2048): { dir: string; pem: string; certDer: Buffer } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', `rsa:${bits}`, '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=tenantwatch-test'], { stdio: 'ignore', timeout: 30_000 });
  const key = readFileSync(path.join(dir, 'key.pem'), 'utf8');
  const cert = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  return { dir, pem: key + cert, certDer: Buffer.from(new X509Certificate(cert).raw) };
}

const cfg = (microsoft: Record<string, unknown> = {}, web: Record<string, unknown> = {}) =>
  configSchema.parse({ microsoft: { clientId: '6f1e2d3c-0000-4000-8000-00000000a001', ...microsoft }, web });

describe('certificate credentials', () => {
  it('derives the SHA-256 thumbprint from the certificate in a key+cert PEM', () => {
    const { pem, certDer } = makeCert();
    const c = parseCertificatePem(pem, 'app.pem');
    expect(c.thumbprintSha256).toBe(createHash('sha256').update(certDer).digest('hex'));
    expect(c.privateKey).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('refuses a file without a private key with a coded error naming the file', () => {
    const { pem } = makeCert();
    const certOnly = pem.slice(pem.indexOf('-----BEGIN CERTIFICATE'));
    expect(() => parseCertificatePem(certOnly, 'app.pem')).toThrowError(expect.objectContaining({ code: 'TW_M365_CERTIFICATE_UNREADABLE', exitCode: 2 }));
  });

  it('refuses RSA keys shorter than 2048 bits', () => {
    const { pem } = makeCert(1024);
    expect(() => parseCertificatePem(pem, 'app.pem')).toThrowError(/2048/);
  });

  it('prefers the certificate file and falls back to the secret', () => {
    const { dir, pem } = makeCert();
    const file = path.join(dir, 'app.pem');
    writeFileSync(file, pem);
    expect(loadCredential(cfg({ certificateFile: file })).kind).toBe('certificate');
    expect(loadCredential(cfg({ clientSecret: 's3cr3t-value' })).kind).toBe('secret');
    expect(() => loadCredential(cfg())).toThrowError(expect.objectContaining({ code: 'TW_M365_CREDENTIAL_MISSING' }));
  });
});

describe('scopes and consent', () => {
  it('asks for Microsoft resource identifiers whatever base URL reaches them', () => {
    const c = cfg({ baseUrls: { management: 'https://127.0.0.1:8443' } });
    expect(scopeFor(c, 'management')).toBe('https://manage.office.com/.default');
    expect(scopeFor(cfg({ cloud: 'gcchigh' }), 'exchange')).toBe('https://outlook.office365.us/.default');
  });

  it('builds the admin consent URL on the configured login host', () => {
    const url = consentUrl(cfg({}, { publicUrl: 'https://tw.msp.example' }), 'contoso.com');
    expect(url).toBe('https://login.microsoftonline.com/contoso.com/adminconsent?client_id=6f1e2d3c-0000-4000-8000-00000000a001&redirect_uri=https%3A%2F%2Ftw.msp.example%2F');
  });
});

describe('AADSTS mapping', () => {
  const ctx = { tenantId: 't1', resource: 'graph' as const, consentUrl: 'https://login.example/t1/adminconsent?client_id=c', loginBase: 'https://login.example' };

  it('maps 700016 to missing admin consent with the consent URL as the fix', () => {
    const e = mapTokenError({ errorCode: 'unauthorized_client', errorMessage: 'AADSTS700016: Application with identifier c was not found in the directory t1. Trace ID: x' }, ctx);
    expect(e.code).toBe('TW_M365_CONSENT_MISSING');
    expect(e.upstreamCode).toBe('AADSTS700016');
    expect(e.fix).toBe('admin consent missing: open https://login.example/t1/adminconsent?client_id=c');
  });

  it('maps an invalid secret and an unknown tenant to their own codes', () => {
    expect(mapTokenError({ errorMessage: 'AADSTS7000215: Invalid client secret provided.' }, ctx).code).toBe('TW_M365_CREDENTIAL_REFUSED');
    expect(mapTokenError({ errorMessage: 'AADSTS90002: Tenant t1 not found.' }, ctx).code).toBe('TW_M365_TENANT_NOT_FOUND');
  });
});
