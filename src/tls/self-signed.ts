/**
 * The development certificate: when no certificate and no ACME are configured, Postern still offers
 * STARTTLS with a self-signed ECDSA P-256 certificate for its hostname, made once and kept in
 * `<dataDir>/tls/self-signed.{crt,key}`. Sending servers that do opportunistic TLS (RFC 7435, RFC 3207)
 * accept it; clients that authenticate the server (RFC 8314 §4.1 for submission, MTA-STS, DANE) do not,
 * which is why it is only a fallback and is logged as one.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { PemPair } from './create-certificate.ts';
import { ensurePrivateDir, readIfExists, writeFileAtomic } from './private-files.ts';

export interface SelfSignedOptions {
  dataDir: string;
  hostname: string;
  logger?: Logger;
  now?: () => Date;
  /** Made anew when fewer days than this remain; 30 by default. */
  renewBeforeDays?: number;
  validityDays?: number;
}

export interface SelfSignedCertificate extends PemPair {
  certPath: string;
  keyPath: string;
  /** created: there was none; reused: the one on disk; renewed: the one on disk would not do. */
  action: 'created' | 'reused' | 'renewed';
  notAfter: Date;
}

const DAY_MS = 86_400_000;

export function selfSignedPaths(dataDir: string): { dir: string; certPath: string; keyPath: string } {
  const dir = path.join(dataDir, 'tls');
  return { dir, certPath: path.join(dir, 'self-signed.crt'), keyPath: path.join(dir, 'self-signed.key') };
}

export async function ensureSelfSigned(options: SelfSignedOptions): Promise<SelfSignedCertificate> {
  const { dir, certPath, keyPath } = selfSignedPaths(options.dataDir);
  const now = options.now?.() ?? new Date();
  const hostname = options.hostname.toLowerCase();
  await ensurePrivateDir(dir);
  const [cert, key] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
  if (cert !== undefined && key !== undefined) {
    const problem = unsuitable(cert, key, hostname, now, options.renewBeforeDays ?? 30);
    if (!problem) {
      const notAfter = new X509Certificate(cert).validToDate;
      return { cert, key, certPath, keyPath, action: 'reused', notAfter };
    }
    options.logger?.info({ cert: certPath, reason: problem }, 'TLS: making a new self-signed certificate');
  }
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (options.validityDays ?? 365) * DAY_MS);
  const made = await (await import('./create-certificate.ts')).createSelfSignedCertificate({
    hostnames: [hostname],
    keyAlgorithm: 'ecdsa-p256',
    notBefore,
    notAfter,
  });
  // The key first: a crash between the two leaves a pair that does not match, which the next start replaces.
  await writeFileAtomic(keyPath, made.key, 0o600);
  await writeFileAtomic(certPath, made.cert, 0o644);
  options.logger?.info({ cert: certPath, hostname, notAfter }, 'TLS: made a self-signed development certificate');
  const action = cert === undefined && key === undefined ? 'created' : 'renewed';
  return { ...made, certPath, keyPath, action, notAfter: new X509Certificate(made.cert).validToDate };
}

/** Why the pair on disk will not do, or undefined when it will. */
function unsuitable(
  cert: string,
  key: string,
  hostname: string,
  now: Date,
  renewBeforeDays: number,
): string | undefined {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
    if (!parsed.checkPrivateKey(createPrivateKey(key))) return 'the key does not match the certificate';
  } catch {
    return 'unreadable';
  }
  if (!parsed.checkHost(hostname, { wildcards: false })) return `not for ${hostname}`;
  if (parsed.validToDate.getTime() - now.getTime() < renewBeforeDays * DAY_MS) return 'expiring';
  return undefined;
}
