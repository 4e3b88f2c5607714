/**
 * The certificates the TLS listeners serve: PEM files from the config (reloaded when they change),
 * else a self-signed certificate for the hostname (development; renewed while the server runs), else
 * none (no STARTTLS offered until ACME, if configured, delivers one).
 */

import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { MECHANISMS } from '../accounts/sasl/index.ts';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import type { ListenerTls } from '../smtp/listener.ts';
import { readDirectoryCa } from '../tls/acme/directory-ca.ts';
import type { AcmeManager } from '../tls/acme/manager.ts';
import { AcmeSetupError } from '../tls/acme/setup-error.ts';
import { CertificateStore } from '../tls/certificate-store.ts';
import { PemFiles } from '../tls/pem-files.ts';
import { PrivateDirError } from '../tls/private-files.ts';
import { ensureSelfSigned, SelfSignedRenewal } from '../tls/self-signed.ts';
import { hardenSocket, SMTP_ALPN_PROTOCOLS, serverTlsOptions } from '../tls/tls-options.ts';
import type { EarlyPorts } from './early-ports.ts';
import { channelBinding } from './submission-auth.ts';

export interface TlsSetup {
  certificates: CertificateStore;
  /**
   * The listener settings for STARTTLS or implicit TLS. Their handshakes need a certificate in the
   * store: with none yet (ACME still ordering), STARTTLS is not offered (the session's `tlsReady`).
   */
  listener(mode: ListenerTls['mode']): ListenerTls;
  acme: AcmeManager | undefined;
  /** Reads the certificate files of tls.certificates again (a pair that does not load is logged, the old one kept). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** For tests: a clock (the certificate store's and the self-signed certificate's) and how often the latter is looked at. */
export interface TlsSetupOptions {
  now?: () => Date;
  selfSignedCheckEveryMs?: number;
}

/** `ports`: the challenge responders' ports when serve bound them before giving up root. */
export async function setupTls(
  config: Config,
  logger: Logger,
  ports?: EarlyPorts,
  testing: TlsSetupOptions = {},
): Promise<TlsSetup> {
  // The default certificate (clients without SNI: Postfix sends none unless told to) is the one naming
  // the hostname, else the first configured: tls.certificates in order, then ACME's hostnames.
  const certificates = new CertificateStore({ hostname: config.hostname, now: testing.now });
  let files: PemFiles | undefined;
  let acme: AcmeManager | undefined;
  let stopRenewal = (): Promise<void> => Promise.resolve();
  if (config.tls.acme) {
    const settings = config.tls.acme;
    // Loaded only when configured: the ACME client and its HTTP stack cost memory every node would pay.
    const { AcmeManager } = await import('../tls/acme/manager.ts');
    acme = new AcmeManager({
      directory: settings.directory,
      email: settings.email,
      termsOfServiceAgreed: settings.termsOfServiceAgreed,
      hostnames: settings.hostnames ?? [config.hostname],
      keyType: settings.keyType,
      http01: settings.http01 && { ...settings.http01, takeOver: ports?.takeOver('tls.acme.http01.listen') },
      tlsAlpn01: settings.tlsAlpn01 && {
        ...settings.tlsAlpn01,
        takeOver: ports?.takeOver('tls.acme.tlsAlpn01.listen'),
      },
      renewBeforeDays: settings.renewBeforeDays,
      rank: config.tls.certificates.length,
      directoryCa: settings.directoryCa ? await readDirectoryCa(settings.directoryCa).catch(asConfigError) : undefined,
      dataDir: config.dataDir,
      store: certificates,
      logger,
    });
    // Certificates already on disk load at once; missing ones are ordered in the background.
    await acme.start().catch(asConfigError);
  }
  try {
    if (config.tls.certificates.length > 0) {
      // An expired file is served, with an error each day (docs/tls.md): whether a sender believes our
      // certificate is its local matter (RFC 3207 §4.1), most MX senders verify none (opportunistic TLS,
      // RFC 7672 §1.3), and a server that does not start takes no mail at all. Postfix serves it too.
      files = new PemFiles({ store: certificates, pairs: config.tls.certificates, logger, serveExpired: true });
      await files.start();
    } else if (config.tls.selfSigned && certificates.size === 0) {
      // Until ACME delivers (or without it), a self-signed certificate keeps STARTTLS and submission up.
      const selfSigned = { dataDir: config.dataDir, hostname: config.hostname, logger, now: testing.now };
      const own = await ensureSelfSigned(selfSigned).catch(asConfigError);
      const install = (made: { cert: string; key: string }) =>
        certificates.addPem(made.cert, made.key, { source: own.certPath, default: true, fallback: true });
      install(own);
      // Renewed while it runs, as ACME certificates are: a year's uptime had it served expired.
      const renewal = new SelfSignedRenewal({
        ...selfSigned,
        current: own,
        install,
        checkEveryMs: testing.selfSignedCheckEveryMs,
      });
      // Another certificate (ACME's first) took its place for every name: nothing left to renew.
      const replaced = (source: string) => {
        if (source === own.certPath) void stopRenewal();
      };
      stopRenewal = async () => {
        certificates.off('removed', replaced);
        await renewal.stop();
      };
      certificates.on('removed', replaced);
      renewal.start();
      // What users give their mail programs to trust it (docs/tls.md); it changes with each renewal.
      const fingerprint = new X509Certificate(own.cert).fingerprint256;
      logger.warn(
        { certificate: own.certPath, notAfter: own.notAfter, sha256: fingerprint },
        config.tls.acme
          ? `TLS: serving a self-signed certificate (SHA-256 ${fingerprint}) until ACME delivers one (the "ACME:" lines say how it goes)`
          : `TLS: serving a self-signed certificate (SHA-256 ${fingerprint}); configure tls.certificates or tls.acme for real clients`,
      );
    }
  } catch (error) {
    // A start that fails here must not leave ACME running: its challenge responder and timers kept
    // serve alive after it had said why it stops.
    files?.stop();
    await stopRenewal();
    await acme?.stop(0);
    throw error;
  }
  // ACME's stored certificates count as PEM files do; with none loaded yet it is said when one is.
  if (certificates.size > 0) warnIfHostnameUncovered(config, certificates, logger);
  const stopCoverage = watchHostnameCoverage(config, certificates, logger);
  // The first context holds the default's RSA and ECDSA certificates; an SNI switch could carry only one.
  const options = (): tls.TlsOptions => ({
    ...serverTlsOptions(),
    ...certificates.handshakeOptions(),
    ALPNProtocols: [...SMTP_ALPN_PROTOCOLS],
  });
  return {
    certificates,
    listener: (mode) => ({
      mode,
      options,
      harden: hardenSocket,
      mechanisms: (socket) => MECHANISMS(channelBinding({ tlsSocket: socket }) !== undefined),
    }),
    acme,
    reload: async () => {
      await files?.reload();
      acme?.retryFailed(); // in the background: its lines say how it goes
    },
    stop: async () => {
      stopCoverage();
      files?.stop();
      await stopRenewal();
      await acme?.stop();
    },
  };
}

/**
 * The admin's to fix (a taken challenge port, an unreadable directoryCa, a dataDir/tls that is a file
 * or closed to the server's user): one line from `serve`, no stack.
 */
function asConfigError(error: unknown): never {
  throw error instanceof AcmeSetupError || error instanceof PrivateDirError
    ? new ConfigError(error.message, { cause: error })
    : error;
}

/**
 * Clients name the host they connect to (SNI; MX senders and mail programs the hostname): a
 * certificate for other names fails their checks (RFC 6125 §6.3), which only `dns check` had said.
 * ACME's hostnames count as named before their certificates arrive: they are on the way.
 */
export function warnIfHostnameUncovered(config: Config, certificates: CertificateStore, logger: Logger): void {
  const names = servedNames(config, certificates);
  if (!namesHostname(names, config.hostname)) warnUncovered(config, names, logger);
}

/** Whether `names` (certificate names, wildcards included) cover `hostname`, as a client matches it. */
export function namesHostname(names: Iterable<string>, hostname: string): boolean {
  const set = new Set([...names].map((name) => name.toLowerCase()));
  const host = hostname.toLowerCase();
  // RFC 6125 §6.4.3: a wildcard stands for the whole left-most label only.
  return set.has(host) || set.has(`*${host.slice(host.indexOf('.'))}`);
}

function servedNames(config: Config, certificates: CertificateStore): string[] {
  return [
    ...new Set([
      ...certificates.list().flatMap((info) => info.hostnames),
      ...(config.tls.acme?.hostnames ?? []).map((name) => name.toLowerCase()),
    ]),
  ];
}

function warnUncovered(config: Config, names: string[], logger: Logger): void {
  const host = config.hostname.toLowerCase();
  logger.warn(
    { hostname: host, names },
    `TLS: no certificate names the hostname ${host}; clients checking it will refuse the certificates served`,
  );
}

/**
 * The warning again whenever the names served change (a reload by SIGHUP or the file watcher, ACME's
 * first certificate replacing the self-signed one) and leave the hostname out: a renewed file for
 * other names had been served without a word. Said once per set of names, not at every renewal.
 */
function watchHostnameCoverage(config: Config, certificates: CertificateStore, logger: Logger): () => void {
  let last = certificates.size > 0 ? namesKey(servedNames(config, certificates)) : undefined;
  const changed = () => {
    // None served yet (ACME still ordering): nothing wrong to say until one is.
    if (certificates.size === 0) return;
    const names = servedNames(config, certificates);
    const key = namesKey(names);
    if (key === last) return;
    last = key;
    if (!namesHostname(names, config.hostname)) warnUncovered(config, names, logger);
  };
  certificates.on('loaded', changed);
  certificates.on('removed', changed);
  return () => {
    certificates.off('loaded', changed);
    certificates.off('removed', changed);
  };
}

function namesKey(names: string[]): string {
  return [...names].sort().join(' ');
}
