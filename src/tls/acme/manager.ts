/**
 * Automatic certificates (ACME, RFC 8555): one certificate per configured hostname, kept in
 * `<dataDir>/tls/acme/<hostname>.{crt,key}` and loaded into the CertificateStore. One per name rather
 * than one with every name as a SAN: a name whose DNS is wrong fails alone instead of blocking the
 * others, adding a name orders one certificate instead of re-issuing all, and SNI picks exact names.
 *
 * start() loads what is on disk (so a restart orders nothing that is still good), starts the challenge
 * servers and orders what is missing, due or of another key type than configured, in the background.
 * Every 12 hours (or at a certificate's renewal time, when sooner) it looks again; a failed order is
 * logged at error level with the CA's reason and retried after 5 minutes, doubling up to 6 hours
 * (renewal.ts). The server keeps serving whatever certificate it had meanwhile.
 */
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import acme from 'acme-client';
import type { Logger } from '../../log/logger.ts';
import type { CertificateInfo, CertificateStore } from '../certificate-store.ts';
import type { KeyAlgorithm } from '../create-certificate.ts';
import { ensurePrivateDir, readIfExists, readPrivateKey, writeFileAtomic } from '../private-files.ts';
import { type AcmeAccount, loadAccount, saveAccount } from './account.ts';
import { acmeFiles, formatFailureRecord, nextOrderTime, parseFailureRecord } from './files.ts';
import { Http01Challenges, startHttp01Server } from './http-01.ts';
import { AcmeRateLimitedError, issueCertificate } from './issue.ts';
import type { ChallengeServer, TakeOver } from './listen.ts';
import { renewalDue, renewalTime, retryDelayMs } from './renewal.ts';
import { CHALLENGE_PORT_IN_USE, challengeListenError } from './setup-error.ts';
import { startTlsAlpn01Server, TlsAlpnChallenges } from './tls-alpn-01.ts';

export interface AcmeManagerOptions {
  /** The CA's directory URL (RFC 8555 §7.1.1). */
  directory: string;
  email?: string;
  termsOfServiceAgreed: boolean;
  hostnames: string[];
  keyType?: KeyAlgorithm;
  /**
   * Enables http-01; `listen` starts a standalone responder (otherwise route port 80 to `manager.http01`),
   * on the port `takeOver` hands over when it was bound before the server gave up root.
   */
  http01?: { listen?: string; takeOver?: TakeOver };
  /** Enables tls-alpn-01; `listen` starts a standalone responder (otherwise install `manager.tlsAlpn01.alpnCallback()`). */
  tlsAlpn01?: { listen?: string; takeOver?: TakeOver };
  renewBeforeDays?: number;
  /**
   * The store rank (its place in the configuration, for the default certificate) of the first
   * hostname's certificate; the next hostnames' follow. 0 by default.
   */
  rank?: number;
  dataDir: string;
  store: CertificateStore;
  logger: Logger;
  /** More CA certificates (PEM) to trust for the directory's HTTPS, e.g. a private or test CA. */
  directoryCa?: string;
  checkIntervalMs?: number;
  retryFirstMs?: number;
  retryMaxMs?: number;
  pollMinMs?: number;
  /** The clock renewal is judged by (tests move it to a certificate's old age); the real one when absent. */
  now?: () => Date;
}

export interface AcmeCertificateStatus {
  hostname: string;
  notAfter?: Date;
  renewAt?: Date;
  nextCheck: Date;
  failures: number;
  lastError?: string;
}

interface HostState {
  hostname: string;
  certPath: string;
  keyPath: string;
  /** The failures since the last certificate, kept across restarts: a crash loop must not reset the backoff. */
  failuresPath: string;
  validity?: { notBefore: Date; notAfter: Date; keyType: 'rsa' | 'ec' };
  nextCheck: number;
  failures: number;
  lastError?: string;
  /** RFC 8555 §6.6: the CA's Retry-After of the last failure; no order before it, reload or not. */
  notBefore?: number;
  /** Its place in the configuration: the same at every load and order, so the default never moves. */
  rank: number;
}

const HOUR_MS = 3_600_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class AcmeManager extends EventEmitter<{ issued: [string, CertificateInfo]; failed: [string, Error] }> {
  readonly http01 = new Http01Challenges();
  readonly tlsAlpn01 = new TlsAlpnChallenges();
  readonly #options: AcmeManagerOptions;
  readonly #dir: string;
  readonly #hosts: HostState[];
  readonly #servers: ChallengeServer[] = [];
  #account: AcmeAccount | undefined;
  #round: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: AcmeManagerOptions) {
    super();
    if (!options.http01 && !options.tlsAlpn01) throw new TypeError('ACME: enable http01 or tlsAlpn01');
    this.#options = options;
    this.#dir = path.join(options.dataDir, 'tls', 'acme');
    this.#hosts = options.hostnames.map((hostname, index) => {
      const name = hostname.toLowerCase();
      // The name becomes a file name: a domain name only (no "/", no leading dot).
      if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) {
        throw new TypeError(`ACME: not a hostname: ${hostname}`);
      }
      const rank = (options.rank ?? 0) + index;
      return { hostname: name, ...acmeFiles(options.dataDir, name), nextCheck: 0, failures: 0, rank };
    });
  }

  /** The standalone challenge servers' addresses, once started. */
  get servers(): readonly ChallengeServer[] {
    return this.#servers;
  }

  async start(): Promise<void> {
    const { logger, directoryCa } = this.#options;
    await ensurePrivateDir(this.#dir);
    // acme-client talks through one shared axios instance; these settings are process-wide.
    acme.setLogger((message) => logger.debug({ acme: message }, 'ACME client'));
    if (directoryCa) acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, directoryCa] });
    for (const host of this.#hosts) await this.#loadFromDisk(host);
    await this.#startResponders();
    this.#round = this.#round.then(() => this.#runDue());
  }

  /**
   * The standalone challenge responders. One that cannot listen stops the start with the key, the
   * address and what to do (as a taken `listen.smtp` does), not Node's bare "listen EADDRINUSE", and
   * the one already started is closed again.
   */
  async #startResponders(): Promise<void> {
    const { http01, tlsAlpn01 } = this.#options;
    try {
      if (http01?.listen) {
        this.#servers.push(
          await startHttp01Server(http01.listen, this.http01, http01.takeOver).catch((error: unknown) => {
            throw challengeListenError(
              'tls.acme.http01.listen',
              http01.listen as string,
              error,
              CHALLENGE_PORT_IN_USE['tls.acme.http01.listen']!,
            );
          }),
        );
      }
      if (tlsAlpn01?.listen) {
        this.#servers.push(
          await startTlsAlpn01Server(tlsAlpn01.listen, this.tlsAlpn01, tlsAlpn01.takeOver).catch((error: unknown) => {
            throw challengeListenError(
              'tls.acme.tlsAlpn01.listen',
              tlsAlpn01.listen as string,
              error,
              CHALLENGE_PORT_IN_USE['tls.acme.tlsAlpn01.listen']!,
            );
          }),
        );
      }
    } catch (error) {
      await Promise.all(this.#servers.splice(0).map((server) => server.close()));
      throw error;
    }
  }

  /** Resolves when the round of checks and orders under way (if any) is over. */
  settled(): Promise<void> {
    return this.#round;
  }

  /** Checks every hostname now and orders what is missing or due; resolves when done. */
  checkNow(): Promise<void> {
    this.#round = this.#round.then(() => {
      for (const host of this.#hosts) host.nextCheck = 0;
      return this.#runDue();
    });
    return this.#round;
  }

  /**
   * SIGHUP (`systemctl reload`): the hostnames without a certificate, or whose orders failed, are
   * tried again now rather than at the end of their backoff: the admin who reloads has fixed the
   * cause (a DNS record, a firewall). One attempt each; a new failure backs off as before. The names
   * tried, none when every certificate is fine.
   */
  retryFailed(): string[] {
    const limited = (host: HostState) => host.notBefore !== undefined && host.notBefore > Date.now();
    for (const host of this.#hosts.filter(limited)) {
      const until = new Date(host.notBefore as number);
      this.#options.logger.warn(
        { hostname: host.hostname, notBefore: until },
        `ACME: reload: not ordering ${host.hostname} again: the CA asked to wait until ${until.toISOString()} (RFC 8555 §6.6 rate limit)`,
      );
    }
    const waiting = this.#hosts.filter((host) => (host.failures > 0 || host.validity === undefined) && !limited(host));
    if (waiting.length === 0 || this.#stopped) return [];
    const names = waiting.map((host) => host.hostname);
    this.#options.logger.info({ hostnames: names }, 'ACME: reload: ordering again now, before the backoff ends');
    this.#round = this.#round.then(() => {
      for (const host of waiting) host.nextCheck = 0;
      return this.#runDue();
    });
    return names;
  }

  status(): AcmeCertificateStatus[] {
    return this.#hosts.map((host) => ({
      hostname: host.hostname,
      ...(host.validity
        ? { notAfter: host.validity.notAfter, renewAt: renewalTime(host.validity, this.#options.renewBeforeDays) }
        : {}),
      nextCheck: new Date(host.nextCheck),
      failures: host.failures,
      ...(host.lastError ? { lastError: host.lastError } : {}),
    }));
  }

  /** Stops the timers and servers; an order under way is given `graceMs` to end, and its result is dropped. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await Promise.all(this.#servers.splice(0).map((server) => server.close()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#round, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  async #loadFromDisk(host: HostState): Promise<void> {
    await this.#loadFailures(host);
    try {
      const [cert, key] = await Promise.all([readIfExists(host.certPath), readPrivateKey(host.keyPath)]);
      if (cert === undefined || key === undefined) return;
      const info = this.#options.store.addPem(cert, key, { source: host.certPath, rank: host.rank });
      host.validity = info;
      const renewAt = renewalTime(info, this.#options.renewBeforeDays);
      this.#options.logger.info(
        { hostname: host.hostname, notAfter: info.notAfter, renewAt },
        'ACME: certificate loaded',
      );
    } catch (err) {
      this.#options.logger.warn(
        { hostname: host.hostname, err },
        'ACME: the stored certificate does not load; ordering',
      );
    }
  }

  /** The backoff an earlier process left: the next try waits as it would have without the restart. */
  async #loadFailures(host: HostState): Promise<void> {
    let text: string | undefined;
    try {
      text = await readIfExists(host.failuresPath);
    } catch (err) {
      // Unreadable (written by another user, say): only the backoff is lost, the start goes on.
      this.#options.logger.warn({ hostname: host.hostname, err }, 'ACME: cannot read the failure record; no backoff');
      return;
    }
    if (text === undefined) return;
    // An unreadable record only loses the backoff: the next order tries at once.
    const saved = parseFailureRecord(text);
    if (!saved) return;
    host.failures = saved.failures;
    if (saved.error !== undefined) host.lastError = saved.error;
    host.nextCheck = nextOrderTime(saved, this.#options.retryFirstMs, this.#options.retryMaxMs);
    if (saved.notBefore && saved.notBefore.getTime() > Date.now()) host.notBefore = saved.notBefore.getTime();
    if (host.nextCheck > Date.now()) {
      // Said at start: an admin who fixed the cause and restarted would otherwise see no order and no reason.
      const nextTry = new Date(host.nextCheck);
      const fields = { hostname: host.hostname, failures: host.failures, reason: host.lastError, nextTry };
      const failed = `ACME: ${host.hostname} failed ${host.failures} time(s) before this start`;
      if (host.notBefore !== undefined) {
        // A reload would not order sooner (retryFailed): no advice to try one.
        const until = new Date(host.notBefore).toISOString();
        this.#options.logger.warn(
          { ...fields, notBefore: new Date(host.notBefore) },
          `${failed}, the last on the CA's rate limit: it asked not to order again before ${until} ` +
            `(RFC 8555 §6.6); the next order is at ${nextTry.toISOString()}, and a reload does not order sooner`,
        );
      } else {
        this.#options.logger.warn(
          fields,
          `${failed}; the next order waits until ${nextTry.toISOString()} (the backoff spares the CA's limits). ` +
            'Fixed the cause? Reload (SIGHUP: systemctl reload postern) to order at once',
        );
      }
    }
  }

  async #runDue(): Promise<void> {
    for (const host of this.#hosts) {
      if (this.#stopped) return;
      if (host.nextCheck > Date.now()) continue;
      const interval = this.#options.checkIntervalMs ?? 12 * HOUR_MS;
      const now = this.#options.now?.() ?? new Date();
      const wanted = this.#options.keyType === 'rsa-2048' ? 'rsa' : 'ec';
      if (host.validity && !renewalDue(host.validity, now, this.#options.renewBeforeDays)) {
        if (host.validity.keyType === wanted) {
          host.nextCheck = this.#nextLook(host.validity, interval);
          continue;
        }
        // A changed keyType is the admin's wish now, not at the next renewal months away.
        this.#options.logger.info(
          { hostname: host.hostname, keyType: this.#options.keyType ?? 'ecdsa-p256', current: host.validity.keyType },
          'ACME: the certificate has another key type than tls.acme.keyType; ordering one with a new key',
        );
      }
      await this.#order(host, interval);
    }
    this.#schedule();
  }

  async #order(host: HostState, interval: number): Promise<void> {
    const options = this.#options;
    const started = Date.now();
    // Said before it starts: an order may take a minute (the CA's validation, the client's retries).
    options.logger.info(
      { hostname: host.hostname, directory: options.directory, renewal: host.validity !== undefined },
      'ACME: ordering a certificate',
    );
    try {
      this.#account ??= await loadAccount(this.#dir, options.directory);
      // A renewal certifies the same key again, so TLSA records (DANE) stay true across renewals.
      const reuseKey = await readPrivateKey(host.keyPath);
      const issued = await issueCertificate({
        directory: options.directory,
        account: this.#account,
        ...(options.email ? { email: options.email } : {}),
        termsOfServiceAgreed: options.termsOfServiceAgreed,
        hostname: host.hostname,
        keyType: options.keyType ?? 'ecdsa-p256',
        ...(options.http01 ? { http01: this.http01 } : {}),
        ...(options.tlsAlpn01 ? { tlsAlpn01: this.tlsAlpn01 } : {}),
        ...(options.pollMinMs ? { pollMinMs: options.pollMinMs } : {}),
        ...(reuseKey ? { reuseKey } : {}),
      });
      if (this.#stopped) return;
      if (issued.contactError !== undefined) {
        options.logger.warn(
          { contact: options.email ?? null, reason: issued.contactError },
          'ACME: the CA refused to update the account contact (tls.acme.email); tried again at the next order',
        );
      }
      const contactChanged = issued.contact !== undefined && issued.contact.join() !== this.#account.contact?.join();
      if (this.#account.url !== issued.accountUrl || contactChanged) {
        this.#account.url = issued.accountUrl;
        if (issued.contact !== undefined) this.#account.contact = issued.contact;
        await saveAccount(this.#dir, options.directory, issued.accountUrl, this.#account.contact);
      }
      // Into the store first: it refuses a certificate that does not match its key, before it reaches disk.
      const info = options.store.addPem(issued.cert, issued.key, { source: host.certPath, rank: host.rank });
      await writeFileAtomic(host.keyPath, issued.key, 0o600);
      await writeFileAtomic(host.certPath, issued.cert, 0o644);
      host.validity = info;
      if (host.failures > 0) await rm(host.failuresPath, { force: true });
      host.failures = 0;
      delete host.lastError;
      delete host.notBefore;
      host.nextCheck = this.#nextLook(info, interval);
      options.logger.info(
        {
          hostname: host.hostname,
          notAfter: info.notAfter,
          renewAt: renewalTime(info, options.renewBeforeDays),
          tookMs: Date.now() - started,
        },
        'ACME: certificate issued',
      );
      this.emit('issued', host.hostname, info);
    } catch (err) {
      if (this.#stopped) return;
      host.failures++;
      host.lastError = (err as Error).message;
      // RFC 8555 §6.6: a CA that said when to come back is not asked before then, whatever the backoff.
      const asked = err instanceof AcmeRateLimitedError ? err.retryAt.getTime() - Date.now() : 0;
      const delay = Math.max(retryDelayMs(host.failures, options.retryFirstMs, options.retryMaxMs), asked);
      host.nextCheck = Date.now() + delay;
      if (asked > 0) host.notBefore = host.nextCheck;
      else delete host.notBefore;
      const record = formatFailureRecord({
        failures: host.failures,
        at: new Date(),
        ...(host.lastError !== undefined ? { error: host.lastError } : {}),
        ...(host.notBefore ? { notBefore: new Date(host.notBefore) } : {}),
      });
      await writeFileAtomic(host.failuresPath, record, 0o600).catch((error: Error) =>
        options.logger.warn({ hostname: host.hostname, err: error }, 'ACME: cannot record the failure for the backoff'),
      );
      options.logger.error(
        {
          hostname: host.hostname,
          err,
          reason: host.lastError,
          failures: host.failures,
          retryInMs: delay,
          nextTry: new Date(host.nextCheck),
        },
        `ACME: ordering a certificate for ${host.hostname} failed; the current certificate (if any) stays in use, ` +
          `next try at ${new Date(host.nextCheck).toISOString()}`,
      );
      this.emit('failed', host.hostname, err as Error);
    }
  }

  /**
   * When to look at a certificate again: after `interval`, or at its renewal time if that comes first
   * (a short-lived certificate, 6 days at Let's Encrypt, must not wait half a day past it). Never at
   * once: a certificate due right after its order (a clock ahead of the CA's) waits the interval, so
   * that it is not ordered in a loop.
   */
  #nextLook(validity: { notBefore: Date; notAfter: Date }, interval: number): number {
    const now = this.#options.now?.() ?? new Date();
    const untilRenewal = renewalTime(validity, this.#options.renewBeforeDays).getTime() - now.getTime();
    return Date.now() + (untilRenewal > 0 ? Math.min(interval, untilRenewal) : interval);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#stopped || this.#hosts.length === 0) return;
    const next = Math.min(...this.#hosts.map((host) => host.nextCheck));
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, next - Date.now()));
    this.#timer = setTimeout(() => {
      this.#round = this.#round.then(() => this.#runDue());
    }, wait).unref();
  }
}
