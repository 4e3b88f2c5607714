/**
 * Makes a self-signed X.509 certificate (RFC 5280) and its key, as PEM. Node can read certificates
 * (crypto.X509Certificate) but not write them; @peculiar/x509 does that over Node's WebCrypto. Used for
 * the development certificate (self-signed.ts) and by tests. Not a CA: nothing here signs another key.
 */
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048';

export interface CertificateRequest {
  /** DNS names for the subjectAltName (RFC 5280 §4.2.1.6); the first is also the subject CN. */
  hostnames: string[];
  /** IP addresses for the subjectAltName, e.g. 127.0.0.1 for a loopback test server. */
  ips?: string[];
  keyAlgorithm?: KeyAlgorithm;
  notBefore?: Date;
  notAfter?: Date;
  /** More extensions: `value` is the DER of the extension's extnValue content (RFC 5280 §4.1). */
  extensions?: { oid: string; critical: boolean; value: Uint8Array }[];
}

export interface PemPair {
  cert: string;
  key: string;
}

const ALGORITHMS = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  // RFC 9325 §4.5: RSA keys of at least 2048 bits.
  'rsa-2048': {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
} as const;

const DAY_MS = 86_400_000;

export async function createSelfSignedCertificate(request: CertificateRequest): Promise<PemPair> {
  const names = request.hostnames.map((name) => name.toLowerCase());
  const ips = request.ips ?? [];
  const commonName = names[0] ?? ips[0];
  if (!commonName) throw new TypeError('createSelfSignedCertificate: at least one hostname or IP address');
  for (const ip of ips) if (!isIP(ip)) throw new TypeError(`createSelfSignedCertificate: not an IP address: ${ip}`);
  const keyAlgorithm = request.keyAlgorithm ?? 'ecdsa-p256';
  const algorithm = ALGORITHMS[keyAlgorithm];
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = request.notBefore ?? new Date(Date.now() - 60_000); // a minute of clock skew
  const notAfter = request.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS);
  const keyUsage =
    keyAlgorithm === 'rsa-2048'
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true), // RFC 5280 §4.2.1.9: an end entity
      new x509.KeyUsagesExtension(keyUsage, true), // RFC 5280 §4.2.1.3
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]), // RFC 5280 §4.2.1.12
      new x509.SubjectAlternativeNameExtension([
        ...names.map((value) => ({ type: 'dns' as const, value })),
        ...ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey), // RFC 5280 §4.2.1.2
      ...(request.extensions ?? []).map((e) => new x509.Extension(e.oid, e.critical, e.value)),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' });
  return { cert: cert.toString('pem') + '\n', key: key.toString() };
}

/** RFC 5280 §4.1.2.2: a positive integer of at most 20 octets, unique per issuer; 16 random octets. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, and no leading zero octet to strip
  return bytes.toString('hex');
}
