/**
 * The development certificate: when no certificate and no ACME are configured, Postern still offers
 * STARTTLS with a self-signed ECDSA P-256 certificate for its hostname, made once and kept in
 * `<dataDir>/tls/self-signed.{crt,key}`, and made anew before it expires, also while the server runs
 * (SelfSignedRenewal: a server up longer than its year had gone on serving it expired). Sending
 * servers that do opportunistic TLS (RFC 7435, RFC 3207) accept it; clients that authenticate the
 * server (RFC 8314 §4.1 for submission, MTA-STS, DANE) do not, which is why it is only a fallback and
 * is logged as one.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import { renewalTime } from './acme/renewal.ts';
import type { PemPair } from './create-certificate.ts';
import { ensurePrivateDir, readIfExists, readPrivateKey, writeFileAtomic } from './private-files.ts';

export interface SelfSignedOptions {
  dataDir: string;
  hostname: string;
  logger?: Logger;
  now?: () => Date;
  /**
   * Made anew when fewer days than this remain; by default 30 days or a third of the lifetime,
   * whichever is less (as ACME certificates, acme/renewal.ts).
   */
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
const HOUR_MS = 3_600_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export function selfSignedPaths(dataDir: string): { dir: string; certPath: string; keyPath: string } {
  const dir = path.join(dataDir, 'tls');
  return { dir, certPath: path.join(dir, 'self-signed.crt'), keyPath: path.join(dir, 'self-signed.key') };
}

export async function ensureSelfSigned(options: SelfSignedOptions): Promise<SelfSignedCertificate> {
  const { dir, certPath, keyPath } = selfSignedPaths(options.dataDir);
  const now = options.now?.() ?? new Date();
  const hostname = options.hostname.toLowerCase();
  await ensurePrivateDir(dir);
  const [cert, key] = await Promise.all([readIfExists(certPath), readPrivateKey(keyPath)]);
  if (cert !== undefined && key !== undefined) {
    const problem = unsuitable(cert, key, hostname, now, options.renewBeforeDays);
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
  renewBeforeDays: number | undefined,
): string | undefined {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
    if (!parsed.checkPrivateKey(createPrivateKey(key))) return 'the key does not match the certificate';
  } catch {
    return 'unreadable';
  }
  if (!parsed.checkHost(hostname, { wildcards: false })) return `not for ${hostname}`;
  if (now >= renewalTime({ notBefore: parsed.validFromDate, notAfter: parsed.validToDate }, renewBeforeDays)) {
    return 'expiring';
  }
  return undefined;
}

export interface SelfSignedRenewalOptions extends SelfSignedOptions {
  /** The certificate being served (as ensureSelfSigned returned it at start). */
  current: SelfSignedCertificate;
  /** Puts a new certificate in use (the certificate store); a throw is logged and tried again at the next look. */
  install(made: SelfSignedCertificate): void;
  /**
   * How often the files are looked at, a day by default; at the renewal time when that comes sooner,
   * and hourly while a renewal fails.
   */
  checkEveryMs?: number;
}

/**
 * Renews the certificate while the server runs. The start (ensureSelfSigned) renews it only when due
 * then, so a server running longer than its lifetime served it expired, and clients that check
 * dates (MTA-STS senders, mail programs) failed STARTTLS. It looks daily, and at the renewal time when
 * sooner; the certificate installed goes to new connections, as a reloaded file or an ACME renewal
 * does, while open ones keep theirs. A file that another process renewed is installed too.
 */
export class SelfSignedRenewal {
  readonly #options: SelfSignedRenewalOptions;
  #current: SelfSignedCertificate;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: SelfSignedRenewalOptions) {
    this.#options = options;
    this.#current = options.current;
  }

  start(): void {
    this.#schedule();
  }

  /** Ends the timer, after a look in progress (it writes the files). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #look(): Promise<void> {
    const { logger, install } = this.#options;
    try {
      // Without the logger: its two lines are for the start, and one line says what happened here.
      const made = await ensureSelfSigned({ ...this.#options, logger: undefined });
      if (this.#stopped || made.cert === this.#current.cert) return;
      install(made);
      this.#current = made;
      // The key is new, so whoever trusts the certificate by its file or fingerprint must be told again.
      const fingerprint = new X509Certificate(made.cert).fingerprint256;
      logger?.warn(
        { certificate: made.certPath, notAfter: made.notAfter, sha256: fingerprint },
        `TLS: renewed the self-signed certificate (new key, SHA-256 ${fingerprint}, valid until ${made.notAfter.toISOString()}); clients that trust the old one need the new one`,
      );
    } catch (err) {
      logger?.error(
        { err, certificate: this.#current.certPath, notAfter: this.#current.notAfter },
        `TLS: renewing the self-signed certificate failed; the current one (valid until ${this.#current.notAfter.toISOString()}) stays in use and it is tried again later`,
      );
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    const every = this.#options.checkEveryMs ?? DAY_MS;
    const parsed = new X509Certificate(this.#current.cert);
    const due = renewalTime(
      { notBefore: parsed.validFromDate, notAfter: parsed.validToDate },
      this.#options.renewBeforeDays,
    );
    const untilDue = due.getTime() - (this.#options.now?.() ?? new Date()).getTime();
    // Still due after a look (the renewal failed: a full disk, say): hourly, not at once in a loop.
    const wait = Math.min(every, MAX_TIMER_MS, untilDue > 0 ? Math.max(1000, untilDue) : HOUR_MS);
    this.#timer = setTimeout(() => {
      this.#running = this.#look().finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, wait).unref();
  }
}
