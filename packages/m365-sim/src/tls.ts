// Certificates for the simulator: a throw-away CA, a server certificate for 127.0.0.1/localhost/::1 and
// an RSA key that signs access tokens. Keys come from node:crypto (native, fast); node-forge only
// assembles the X.509 certificates. Generated once per process and reused.
import { generateKeyPair, createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type Forge from 'node-forge';

type ForgeNs = typeof Forge;

const genKeyPair = promisify(generateKeyPair);

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  caPath: string;
}

export interface SigningKey {
  privateKeyPem: string;
  publicKey: KeyObject;
  kid: string;
  /** base64url SHA-1 of the certificate DER (`x5t`). */
  x5t: string;
  /** base64 DER of the self-signed certificate (`x5c`). */
  certDerB64: string;
  n: string;
  e: string;
}

async function rsaPem(): Promise<{ privateKey: string; publicKey: string }> {
  return genKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function serial(forge: ForgeNs): string {
  return '01' + forge.util.bytesToHex(forge.random.getBytesSync(8));
}

function makeCert(forge: ForgeNs, opts: {
  subjectCn: string;
  publicKeyPem: string;
  signerKeyPem: string;
  issuer?: Forge.pki.Certificate;
  ca: boolean;
  altNames?: Array<{ type: number; value?: string; ip?: string }>;
}): Forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(opts.publicKeyPem);
  cert.serialNumber = serial(forge);
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 24 * 3600_000);
  cert.validity.notAfter = new Date(now + 365 * 24 * 3600_000);
  const subject = [{ name: 'commonName', value: opts.subjectCn }, { name: 'organizationName', value: 'm365-sim' }];
  cert.setSubject(subject);
  cert.setIssuer(opts.issuer ? opts.issuer.subject.attributes : subject);
  const exts: unknown[] = [
    { name: 'basicConstraints', cA: opts.ca, critical: true },
    opts.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (!opts.ca) exts.push({ name: 'extKeyUsage', serverAuth: true });
  if (opts.altNames) exts.push({ name: 'subjectAltName', altNames: opts.altNames });
  cert.setExtensions(exts as never);
  cert.sign(forge.pki.privateKeyFromPem(opts.signerKeyPem), forge.md.sha256.create());
  return cert;
}

let cached: Promise<{ tls: TlsMaterial; signing: SigningKey }> | undefined;

/** CA + server certificate (written to a temp dir) and the token-signing key; cached per process. */
export function tlsMaterial(): Promise<{ tls: TlsMaterial; signing: SigningKey }> {
  cached ??= build();
  return cached;
}

/**
 * RSA key generation and pure-JS certificate signing dominate start-up on a busy machine, so the keys
 * and certificates are kept in a per-user cache file (mode 0600) under the temp dir and reused by later
 * processes while the certificates have more than 30 days left; every process still writes its CA to a
 * fresh temp dir. M365_SIM_NO_KEY_CACHE=1 makes everything fresh.
 */
interface Cached { caKey: string; serverKey: string; signKey: string; caPem: string; serverPem: string; signPem: string }

function cacheFile(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(tmpdir(), `m365-sim-keys-${uid}`, 'material-v1.json');
}

function readCache(): Cached | undefined {
  if (process.env.M365_SIM_NO_KEY_CACHE === '1') return undefined;
  try {
    const c = JSON.parse(readFileSync(cacheFile(), 'utf8')) as Cached;
    const fields = [c.caKey, c.serverKey, c.signKey, c.caPem, c.serverPem, c.signPem];
    if (!fields.every((f) => typeof f === 'string' && f.length > 100)) return undefined;
    const notAfter = Date.parse(new X509Certificate(c.serverPem).validTo);
    if (!(notAfter - Date.now() > 30 * 24 * 3600_000)) return undefined;
    return c;
  } catch {
    return undefined;
  }
}

function writeCache(c: Cached): void {
  if (process.env.M365_SIM_NO_KEY_CACHE === '1') return;
  try {
    const file = cacheFile();
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify(c), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // the cache is an optimisation only
  }
}

async function fresh(): Promise<Cached> {
  const forge = (await import('node-forge')).default;
  const [caKey, serverKey, signKey] = await Promise.all([rsaPem(), rsaPem(), rsaPem()]);
  const ca = makeCert(forge, { subjectCn: 'm365-sim local CA', publicKeyPem: caKey.publicKey, signerKeyPem: caKey.privateKey, ca: true });
  const server = makeCert(forge, {
    subjectCn: 'localhost',
    publicKeyPem: serverKey.publicKey,
    signerKeyPem: caKey.privateKey,
    issuer: ca,
    ca: false,
    altNames: [
      { type: 2, value: 'localhost' },
      { type: 7, ip: '127.0.0.1' },
      { type: 7, ip: '::1' },
    ],
  });
  const signCert = makeCert(forge, { subjectCn: 'accounts.accesscontrol.windows.net', publicKeyPem: signKey.publicKey, signerKeyPem: signKey.privateKey, ca: false });
  const c = { caKey: caKey.privateKey, serverKey: serverKey.privateKey, signKey: signKey.privateKey, caPem: forge.pki.certificateToPem(ca), serverPem: forge.pki.certificateToPem(server), signPem: forge.pki.certificateToPem(signCert) };
  writeCache(c);
  return c;
}

async function build(): Promise<{ tls: TlsMaterial; signing: SigningKey }> {
  const c = readCache() ?? (await fresh());
  const dir = mkdtempSync(join(tmpdir(), 'm365-sim-'));
  const caPath = join(dir, 'ca.pem');
  writeFileSync(caPath, c.caPem);
  const der = new X509Certificate(c.signPem).raw;
  const x5t = createHash('sha1').update(der).digest('base64url');
  const publicKey = createPublicKey(c.signKey);
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return {
    tls: { caPem: c.caPem, certPem: c.serverPem + c.caPem, keyPem: c.serverKey, caPath },
    signing: { privateKeyPem: c.signKey, publicKey, kid: x5t, x5t, certDerB64: der.toString('base64'), n: jwk.n, e: jwk.e },
  };
}
