/**
 * The certificates the mail host serves, read from where `postern serve` gets them (server/tls-setup.ts,
 * docs/tls.md): the PEM files of `tls.certificates`, the ACME certificates in `<dataDir>/tls/acme/`,
 * else the self-signed development certificate. Read only: nothing is ordered or generated here, so
 * `dns records` works on a host where the server has not run yet (there is then no certificate).
 * Also the DANE-EE association data of a certificate (RFC 7671 §5.1, RFC 7672 §3.1.1).
 */
import { createHash, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { readRegularFile } from '../config/read-config-file.ts';
import type { Config } from '../config/schema.ts';
import { selfSignedPaths } from '../tls/self-signed.ts';

export interface HostCertificate {
  /** The file it was read from. */
  source: string;
  /** The certificate (PEM; a chain's leaf comes first). */
  pem: string;
  /** Issued by itself: the development certificate, replaced with a new key when it nears expiry. */
  selfSigned: boolean;
}

/**
 * The certificates that would be served for `config.hostname`, best first as far as the files tell:
 * configured and ACME ones naming the host; the self-signed one only when neither exists, as in
 * tls-setup.ts. Unreadable or missing files are skipped: `serve` reports those itself.
 */
export async function hostCertificates(config: Config): Promise<HostCertificate[]> {
  const files = config.tls.certificates.map((pair) => pair.cert);
  if (config.tls.acme) {
    const dir = path.join(config.dataDir, 'tls', 'acme'); // the layout of tls/acme/manager.ts
    for (const name of config.tls.acme.hostnames ?? [config.hostname]) files.push(path.join(dir, `${name}.crt`));
  }
  const found = (await Promise.all(files.map(readCertificate))).filter(
    (cert): cert is HostCertificate => cert !== undefined && names(cert, config.hostname),
  );
  if (found.length > 0 || config.tls.certificates.length > 0 || !config.tls.selfSigned) return found;
  const own = await readCertificate(selfSignedPaths(config.dataDir).certPath);
  return own && names(own, config.hostname) ? [own] : [];
}

/**
 * The hex SHA-256 of the certificate's SubjectPublicKeyInfo (DER): the data of a `3 1 1` TLSA record,
 * DANE-EE with selector SPKI (RFC 6698 §2.1.2) and matching type SHA-256 (§2.1.3). It follows the key,
 * not the certificate, so it survives a renewal that keeps the key (RFC 7671 §8.1).
 */
export function spkiSha256(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

async function readCertificate(file: string): Promise<HostCertificate | undefined> {
  let pem: string;
  let cert: X509Certificate;
  try {
    pem = (await readRegularFile(file)).toString('utf8');
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  // Issuer and subject the same, signed by its own key. Not checkIssued(): OpenSSL also wants keyCertSign
  // there, which a self-signed end-entity certificate (self-signed.ts) rightly lacks.
  const selfSigned = cert.issuer === cert.subject && cert.verify(cert.publicKey);
  return { source: file, pem, selfSigned };
}

function names(cert: HostCertificate, hostname: string): boolean {
  return new X509Certificate(cert.pem).checkHost(hostname) !== undefined;
}
