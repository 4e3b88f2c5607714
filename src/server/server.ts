/** The composition root: builds the store, the inbound pipeline and the listeners from the config. */

import os from 'node:os';
import { AccountCache } from '../accounts/account-cache.ts';
import { parseAddress } from '../accounts/address.ts';
import { parseScramCredentials } from '../accounts/sasl/scram.ts';
import { startRotationTimer } from '../admin/dkim-rotation.ts';
import { DnsCheckMonitor } from '../admin/dns-check-monitor.ts';
import { SenderAuthentication } from '../authentication/authenticate.ts';
import { listenProblem, resolvedClash } from '../config/listen-problem.ts';
import { ConfigError, listenAddresses, splitHostPort } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Resolver } from '../dns/resolver.ts';
import { createResolver } from '../dns/system-resolver.ts';
import { ContentFilter } from '../filter/content-filter.ts';
import { QuarantineExpiry } from '../filter/quarantine-expiry.ts';
import type { Logger } from '../log/logger.ts';
import { OutageLog } from '../log/outage.ts';
import { clientKey } from '../policy/cidr.ts';
import { InboundPolicy } from '../policy/inbound-policy.ts';
import { withPostmasterFallback } from '../policy/local-address.ts';
import { type Collection, MemoryReducer } from '../runtime/memory-reducer.ts';
import { ContentBudget } from '../smtp/content-budget.ts';
import { type ListenerTls, SmtpListener } from '../smtp/listener.ts';
import { TransactionGauge } from '../smtp/transaction-gauge.ts';
import { NullStore } from '../store/null-store.ts';
import { describeStore, openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import type { CertificateInfo, CertificateStore } from '../tls/certificate-store.ts';
import { DescriptorWatch } from './descriptor-watch.ts';
import type { EarlyPorts } from './early-ports.ts';
import { FreeSpace } from './free-space.ts';
import { inboundHandlers } from './inbound.ts';
import { type MtaStsServer, startMtaStsServer } from './mta-sts-server.ts';
import { SubmissionAuth } from './submission-auth.ts';
import { setupTls, type TlsSetup } from './tls-setup.ts';

type ListenerName = 'smtp' | 'submission' | 'submissions';

export interface ServerOptions {
  config: Config;
  logger: Logger;
  /** Benchmark reference only: accept and discard every message (see docs/benchmarks.md). */
  discardMail?: boolean;
  /** The ports serve bound as root before it gave root up; each listener takes over its own. */
  ports?: EarlyPorts;
}

export interface RunningServer {
  smtp: { address: string; port: number };
  /**
   * STARTTLS submission (RFC 6409) and implicit-TLS submission (RFC 8314); absent when off, and, left
   * off for want of a certificate at start, present from when one is loaded and starts them.
   */
  submission?: { address: string; port: number };
  submissions?: { address: string; port: number };
  /** The MTA-STS policy host (RFC 8461 §3.3); absent when mtaSts.listen is null. */
  mtaSts?: { address: string; port: number };
  certificates: CertificateStore;
  store: Store;
  /** The one resolver every DNS-dependent check uses (ARCHITECTURE.md principle 6), from `dns.*`. */
  resolver: Resolver;
  /**
   * Settles when the store can take no more mail while the server runs (its file replaced, the writer
   * thread dead): the caller stops the server and exits non-zero, so that a supervisor restarts it on
   * whatever store is there, instead of a process that looks alive and answers 451 for days.
   */
  failed: Promise<Error>;
  /** Message content every listener's sessions hold in memory now, against smtp.maxContentInMemory. */
  contentBudget: ContentBudget;
  /** Reads the TLS certificate files again now (SIGHUP); the rest of the config takes a restart. */
  reloadCertificates(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config, logger } = options;
  // Every check that asks DNS answers 4xx while the servers are down; said once, not per check.
  const dnsOutage = new OutageLog(logger, { name: 'DNS', level: 'warn' });
  const resolver = createResolver({
    servers: config.dns.servers,
    timeoutMs: config.dns.timeoutMs,
    tries: config.dns.tries,
    health: { failed: (reason) => dnsOutage.failed({}, reason), succeeded: () => dnsOutage.succeeded() },
  });
  let storeFailed: (error: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => {
    storeFailed = resolve;
  });
  const opened = await openStore(config, {
    applicationName: `postern ${config.hostname}:${process.pid}`,
    onError: (error) => logger.warn({ err: error }, 'store: a background connection failed'),
    onMemoryCollected: (collection) => logCollection(logger, 'the store writer thread', collection),
    onFatal: (error) => {
      logger.error({ err: error }, `store: ${error.message}; mail is deferred (451) and the server stops`);
      storeFailed(error);
    },
  });
  const { migration } = opened;
  for (const file of opened.staleRestoresRemoved ?? [])
    logger.info({ file }, `store: removed ${file}, a copy left by a postern restore that was killed`);
  if (migration.applied.length > 0) {
    logger.info(
      { from: migration.from, to: migration.to, backup: migration.backup },
      `store: migrated the schema from version ${migration.from} to ${migration.to}`,
    );
  }
  logger.info(`store: ${await describeStore(config)}, schema version ${migration.to}`);
  const store: Store = options.discardMail ? new NullStore({ readFrom: opened }) : opened;
  // Accounts seen at RCPT are cached briefly: a pipelined RCPT group is answered without waiting.
  // Aliases resolve to their account here, so RCPT, reject_unlisted_recipient and VRFY all know them.
  // postmaster@ a domain without its own goes to the host's postmaster (RFC 5321 §4.5.1, local-address.ts).
  const accounts = withPostmasterFallback(
    new AccountCache((address) => store.resolveAddress(address), { ttlMs: 10_000, maxEntries: 10_000 }),
    { localDomains: new Set(config.domains), hostname: config.hostname },
  );
  let filter: ContentFilter;
  try {
    // A rule file that does not load stops the start, naming the key, file and line.
    filter = await ContentFilter.create({
      config: config.filter,
      localDomains: config.domains,
      hostname: config.hostname,
      logger: logger.child({ stage: 'filter' }),
      // A milter's replacement body is held to what a client may send.
      maxMessageSize: config.smtp.maxMessageSize,
      // Content rules' actions are counted for `postern stats`, as the restrictions' are.
      counters: store,
    });
    await filter.learnCorrespondents((o) => store.frequentCorrespondents(o));
  } catch (err) {
    await closeStores(store, opened);
    throw err;
  }
  let policy: InboundPolicy;
  try {
    policy = new InboundPolicy({ config, resolver, store, accounts, logger });
    await policy.ready();
  } catch (err) {
    await filter.stop();
    await closeStores(store, opened);
    throw err;
  }
  let tlsSetup: TlsSetup;
  try {
    tlsSetup = await setupTls(config, logger, options.ports);
  } catch (err) {
    await filter.stop();
    await policy.close();
    await closeStores(store, opened);
    throw err;
  }
  // Its failed logins' lines share the client budget of the listeners' and the policy's lines.
  const auth = new SubmissionAuth(store, config.auth, logger, config.limits.ipv6Prefix, policy.clientLog);
  // Also when its checks are off: forged Authentication-Results fields are still removed (RFC 8601 §5).
  const authentication = new SenderAuthentication({
    config: config.authentication,
    hostname: config.hostname,
    resolver,
  });
  const freeSpace =
    config.store.engine === 'sqlite' && !options.discardMail
      ? new FreeSpace({ dir: config.dataDir, maxMessageSize: config.smtp.maxMessageSize, logger })
      : undefined;
  // One for all listeners: a store outage is said once, not per listener and session. The handlers
  // tell it of the failures they answer themselves (the end of data), the listeners of the rest.
  const storeOutage = new OutageLog(logger, { name: 'store', level: 'error' });
  const handlers = inboundHandlers({
    ...(freeSpace ? { freeSpace } : {}),
    storeOutage,
    // As accounts are stored and logins named: lower case, A-labels, quotes only where needed.
    bounceRelays: new Set(
      config.auth.bounceRelays.map((a) => {
        const p = parseAddress(a);
        return p.ok ? p.address : a.toLowerCase();
      }),
    ),
    hostname: config.hostname,
    store,
    policy,
    auth,
    authentication,
    filter,
    logger,
  });
  const smtp = config.smtp;
  const listeners: { name: ListenerName; address: string; listener: SmtpListener }[] = [];
  // One budget for every listener: what a flood on port 25 holds is not free for submission either.
  const contentBudget = new ContentBudget(contentMemoryLimit(smtp.maxContentInMemory, smtp.maxMessageSize));
  // One for all listeners: the store's commit delay waits for the messages of every listener's sessions.
  const transactions = new TransactionGauge((count) => store.transactionsUnderWay?.(count));
  // One for the process: the descriptor table is shared by every listener.
  const descriptors = new DescriptorWatch({ logger });
  const add = (name: ListenerName, address: string, tls: ListenerTls | undefined) => {
    const { host, port } = splitHostPort(address);
    const takeOver = options.ports?.takeOver(`listen.${name}`);
    const submission = name !== 'smtp';
    const entry = {
      name,
      address,
      listener: new SmtpListener({
        host,
        port,
        session: {
          hostname: config.hostname,
          maxMessageSize: smtp.maxMessageSize,
          contentBudget,
          maxRecipients: smtp.maxRecipients,
          maxCommandsBeforeMail: smtp.maxCommandsBeforeMail,
          maxErrors: smtp.maxErrors,
          bareLineEndings: smtp.bareLineEndings,
          vrfy: submission ? 'off' : smtp.vrfy,
          submission,
          tls: tls ? tls.mode : 'none',
          // Asked per EHLO: a certificate ACME delivers after the start is offered without a restart.
          tlsReady: () => tlsSetup.certificates.size > 0,
          // RFC 8314 §3.3 prefers implicit TLS; on 587 nothing but STARTTLS, AUTH and QUIT works in the clear.
          requireTls: submission || config.tls.requireOnSmtp,
        },
        greetDelayMs: submission ? 0 : smtp.greetDelayMs,
        softErrorLimit: smtp.softErrorLimit,
        errorSleepMs: smtp.errorSleepMs,
        maxConnections: smtp.maxConnections,
        tls,
        idleTimeoutMs: smtp.idleTimeoutMs,
        dataTimeoutMs: smtp.dataTimeoutMs,
        minDataRate: smtp.minDataRate,
        tlsHandshakeTimeoutMs: smtp.tlsHandshakeTimeoutMs,
        stressTimeoutMs: smtp.stressTimeoutMs,
        logger: logger.child({ listener: name }),
        storeOutage,
        // A full store met at RCPT (greylisting's write): the next MAIL FROM asks the file system again.
        ...(freeSpace ? { storeFull: () => freeSpace.recheck() } : {}),
        transactions,
        acceptFailed: (err, fields) => descriptors.acceptFailed(err, { ...fields, listener: name }),
        ...(takeOver ? { takeOver } : {}),
        maxHandshakesPerClient: config.limits.maxConnectionsPerClient,
        clientOf: (address) => (policy.limitExempt(address) ? undefined : clientKey(address, config.limits.ipv6Prefix)),
        // One budget per client for the policy's lines and every listener's (the policy closes it).
        clientLog: policy.clientLog,
        handlers,
      }),
    };
    listeners.push(entry);
    return entry;
  };
  // STARTTLS on port 25 is wired even without a certificate: it is offered once one is loaded.
  add('smtp', config.listen.smtp, tlsSetup.listener('starttls'));
  const submissionListeners = (
    [
      ['submission', config.listen.submission, 'starttls'],
      ['submissions', config.listen.submissions, 'implicit'],
    ] as const
  ).flatMap(([name, address, mode]) => (address ? [{ name, address, mode }] : []));
  // Submission needs TLS: without a certificate its listeners stay off rather than run in the clear,
  // and start when one is loaded (ACME's first), below; their ports bound as root wait for them.
  const certified = tlsSetup.certificates.size > 0;
  const deferred = certified ? [] : submissionListeners;
  for (const { name, address, mode } of certified ? submissionListeners : [])
    add(name, address, tlsSetup.listener(mode));
  const releaseDeferred = deferred.map(({ name }) => options.ports?.defer(`listen.${name}`));
  const closeDeferredPorts = () => Promise.all(releaseDeferred.map((release) => release?.()));
  if (deferred.length > 0) {
    logger.warn(
      config.tls.acme
        ? 'submission listeners are off until a TLS certificate is loaded: ACME has none yet, and they start as soon as it delivers one (the "ACME:" lines say how it goes; tls.selfSigned: true would serve until then)'
        : 'submission listeners are off: they need a TLS certificate (tls.certificates, tls.acme or tls.selfSigned)',
    );
  }
  if (submissionListeners.length > 0) await warnOfOldScramCounts(store, config.auth.scramIterations, logger);
  // Forced TLS with no certificate: every MAIL on port 25 gets 454 (RFC 3207 §4, src/smtp/session.ts),
  // which no line said, and the server looked fine while it took no mail.
  if (config.tls.requireOnSmtp && !certified) {
    logger.warn(
      config.tls.acme
        ? 'tls.requireOnSmtp: MAIL FROM on the MX listener gets 454 4.7.0 (TLS not available) until ACME delivers a certificate; senders keep the mail queued meanwhile (tls.selfSigned: true would take mail until then)'
        : 'tls.requireOnSmtp is true but there is no TLS certificate (no tls.certificates, no tls.acme, tls.selfSigned: false): every MAIL FROM on the MX listener gets 454 4.7.0 (TLS not available), so no mail arrives; configure tls.certificates or tls.acme, or set tls.selfSigned: true',
    );
  }
  const bound: Partial<Record<ListenerName, { address: string; port: number }>> = {};
  let mtaSts: MtaStsServer | undefined;
  try {
    for (const { name, listener, address } of listeners) {
      bound[name] = await listener.listen().catch(async (err: unknown) => {
        throw await listenError(`listen.${name}`, address, err, config);
      });
    }
    if (config.mtaSts.listen) {
      const { certificates } = tlsSetup;
      const takeOver = options.ports?.takeOver('mtaSts.listen');
      const listen = config.mtaSts.listen;
      mtaSts = await startMtaStsServer({ listen, takeOver, config, certificates, logger }).catch(
        async (err: unknown) => {
          throw await listenError('mtaSts.listen', listen, err, config);
        },
      );
    }
  } catch (err) {
    for (const { listener } of listeners) await listener.close(0).catch(() => {});
    await closeDeferredPorts();
    await tlsSetup.stop();
    await filter.stop();
    await policy.close();
    await closeStores(store, opened);
    throw err;
  }
  descriptors.start();
  // Pending DKIM keys start signing once DNS serves their record; replaced ones retire later.
  const dkimRotation = startRotationTimer({ store, resolver, config, logger });
  // The domains' DNS and the server as the world sees them, checked now and then (docs/domain-setup.md).
  const dnsMonitor = new DnsCheckMonitor({ config, resolver, store, logger });
  if (config.dnsCheckIntervalMinutes > 0) dnsMonitor.start(config.dnsCheckIntervalMinutes * 60_000);
  // Held messages go after filter.quarantine.retentionDays: swept now, then hourly (docs/content-protection.md).
  const quarantineExpiry = new QuarantineExpiry({
    store,
    retentionDays: config.filter.quarantine.retentionDays,
    logger,
  });
  quarantineExpiry.start(3_600_000);
  // Memory a burst of mail left behind goes back to the system once the event loop is quiet.
  const memoryReducer = MemoryReducer.start({
    onCollect: (collection) => logCollection(logger, 'the event loop', collection),
  });
  let stopping: Promise<void> | undefined;
  // The first certificate loaded while the server runs (ACME's first order) starts the
  // submission listeners left off at start: an admin expects them up once it exists, not at a restart.
  let lateStart: Promise<void> | undefined;
  const startDeferred = (info: CertificateInfo) => {
    if (lateStart || stopping) return;
    tlsSetup.certificates.off('loaded', startDeferred);
    lateStart = (async () => {
      const started: string[] = [];
      for (const { name, address, mode } of deferred) {
        const entry = add(name, address, tlsSetup.listener(mode));
        try {
          const at = await entry.listener.listen();
          bound[name] = at;
          started.push(`${showAddress(at)} (${mode === 'implicit' ? 'TLS' : 'STARTTLS'})`);
        } catch (err) {
          listeners.splice(listeners.indexOf(entry), 1);
          await entry.listener.close(0).catch(() => {});
          // Not the start's to stop now: the error level, and the listener stays off until a restart.
          const error = (await listenError(`listen.${name}`, address, err, config)) as Error;
          logger.error({ err: error }, `${error.message}; that submission listener stays off until a restart`);
        }
      }
      if (started.length === 0) return;
      logger.info(
        {
          certificate: info.source,
          hostnames: info.hostnames,
          submission: bound.submission,
          submissions: bound.submissions,
        },
        `submission listeners started on ${started.join(' and ')}: a TLS certificate is loaded (${info.hostnames.join(', ') || info.source})`,
      );
    })();
  };
  if (deferred.length > 0) {
    tlsSetup.certificates.on('loaded', startDeferred);
    // Nor one loaded while the other listeners started (an order that was quick).
    const [first] = tlsSetup.certificates.list();
    if (first) startDeferred(first);
  }
  return {
    smtp: bound.smtp!,
    // Getters: a submission listener left off at start has its address once a certificate starts it.
    get submission() {
      return bound.submission;
    },
    get submissions() {
      return bound.submissions;
    },
    mtaSts: mtaSts && { address: mtaSts.address, port: mtaSts.port },
    store,
    resolver,
    certificates: tlsSetup.certificates,
    failed,
    contentBudget,
    reloadCertificates: () => tlsSetup.reload(),
    stop() {
      stopping ??= (async () => {
        tlsSetup.certificates.off('loaded', startDeferred);
        await lateStart; // the listeners it started are in the list by then, and are closed with it
        await Promise.all([...listeners.map(({ listener }) => listener.close(smtp.shutdownGraceMs)), mtaSts?.close()]);
        await closeDeferredPorts();
        descriptors.stop();
        memoryReducer?.stop();
        await dkimRotation.stop();
        await dnsMonitor.stop();
        await quarantineExpiry.stop();
        await filter.stop(); // its last counts are written before the store closes
        await tlsSetup.stop();
        await policy.close();
        // Deliveries per commit shows how well group commit works under the load seen.
        logger.info(opened.stats(), 'store: commits and deliveries since start');
        await closeStores(store, opened);
      })();
      return stopping;
    },
  };
}

async function closeStores(store: Store, opened: Store): Promise<void> {
  if (store !== opened) await store.close();
  await opened.close();
}

/** Debug level: memory given back is routine, and an admin looking into RSS turns it on to see it. */
function logCollection(logger: Logger, thread: string, { before, after, ms }: Collection): void {
  logger.debug(
    {
      heapMbBefore: Number((before / MIB).toFixed(1)),
      heapMbAfter: Number((after / MIB).toFixed(1)),
      ms: Math.round(ms),
    },
    `memory: ${thread} is quiet; heap collected`,
  );
}

/**
 * A port that cannot be had is the admin's to fix: one line naming the key, the address and what to
 * do, not a stack trace. Other errors pass as they are.
 */
const MIB = 1024 ** 2;

/**
 * smtp.maxContentInMemory, or a sixteenth of the machine's memory (at most 512 MiB): a message being
 * processed costs a few times its size for a moment (the checks' copies, the trace fields, the store,
 * garbage not yet collected; about 3.5 times the limit at the peak of a flood of 20 MB messages, in
 * docs/benchmarks.md), so the limit leaves room for that. Never below one message of the largest size.
 */
export function contentMemoryLimit(configured: number | undefined, maxMessageSize: number): number {
  return configured ?? Math.max(maxMessageSize, Math.min(512 * MIB, Math.floor(os.totalmem() / 16)));
}

/** As serve's start line writes an address: an IPv6 one in brackets. */
function showAddress({ address, port }: { address: string; port: number }): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/**
 * A listener that cannot bind, said in words the admin acts on. EADDRINUSE may be our own doing: two
 * listeners spelt apart whose names resolve to one socket (`check` says the same).
 */
async function listenError(key: string, address: string, err: unknown, config: Config): Promise<unknown> {
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    const clash = await resolvedClash([...listenAddresses(config)], {}, key);
    if (clash !== undefined) return new ConfigError(clash, { cause: err });
  }
  const problem = listenProblem(key, address, err, 'is another server running?');
  return problem === undefined ? err : new ConfigError(problem);
}

/**
 * Accounts whose SCRAM credentials were stored with fewer iterations than auth.scramIterations asks
 * now: a SCRAM exchange shows the count before any proof (RFC 5802 §5.1), and a name that is no
 * account is shown the configured one (submission-auth.ts), so an old count tells that a name is an
 * account (§7). Said once at start, with the fix; a store that cannot list them says nothing here.
 */
async function warnOfOldScramCounts(store: Store, iterations: number, logger: Logger): Promise<void> {
  const accounts = await store.listAccounts().catch(() => []);
  const old = accounts.filter((a) => a.scram !== null && parseScramCredentials(a.scram).iterations < iterations);
  if (old.length === 0) return;
  const named = old.slice(0, 5).map((a) => a.address);
  logger.warn(
    { accounts: old.length, iterations, examples: named },
    `auth.scramIterations: ${old.length} account${old.length === 1 ? ' keeps' : 's keep'} SCRAM credentials of fewer than ${iterations} iterations (${named.join(', ')}${old.length > named.length ? ', …' : ''}); a SCRAM login attempt is shown the count before any password, so it tells that these names are accounts: set their passwords again (postern user passwd)`,
  );
}
