/** `postern serve`: runs the server until SIGTERM/SIGINT, then shuts down gracefully. */

import { listenAddresses } from '../../config/load.ts';
import { permissionWarnings } from '../../config/permissions.ts';
import { settingWarnings } from '../../config/setting-warnings.ts';
import { VERSION } from '../../config/version.ts';
import { createLogger, type Logger } from '../../log/logger.ts';
import { postmasterDomainOf } from '../../policy/local-address.ts';
import { EarlyPorts } from '../../server/early-ports.ts';
import { openFileWarning } from '../../server/open-files.ts';
import { acquireServeLock, type ServeLock, ServeLockError } from '../../server/serve-lock.ts';
import { type RunningServer, startServer } from '../../server/server.ts';
import { OUTBOUND_JOB } from '../../store/store.ts';
import { becomeOwner, dataDirOwner, ownershipFindings } from '../data-dir-owner.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';

export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { 'discard-mail': { type: 'boolean' } }, 'serve');
  if (positionals.length > 0) throw usageError(`serve: unexpected argument "${positionals[0]}"`);
  const { config, file, empty } = configFrom(values);
  const logger = createLogger(config.log.level, undefined, config.log.format);
  const discardMail = values['discard-mail'] === true;
  // Before anything is made there: the server's files someone else owns (a command run as root) stop
  // it now, with the chown, rather than at the first write.
  const ownership = ownershipFindings(config, 'serve');
  // Started as root on a data directory its user owns, the server binds its ports (those below 1024
  // need root) and then becomes that user before it opens or makes anything there: as root it would
  // follow links that user can plant in the directory (docs/deployment.md).
  const owner = process.getuid?.() === 0 ? dataDirOwner(config.dataDir) : undefined;
  if (ownership.errors.length > 0) throw new CliError(ownership.errors.join('\n'));
  for (const warning of ownership.warnings) logger.warn(warning);
  // SIGHUP is what logrotate, `systemctl reload` and a closed terminal send; Node's default ends the
  // process at once, cutting sessions whose message is stored before its 250 (a duplicate later). An
  // MTA reloads on it (Postfix does): here the certificate files, which is what renewals change.
  let running: RunningServer | undefined;
  const reload = () => {
    logger.info(
      { signal: 'SIGHUP' },
      'SIGHUP: reading the TLS certificate files again (and ordering failed ACME certificates now); other config changes take a restart (check them first with postern check)',
    );
    running
      ?.reloadCertificates()
      .catch((error) => logger.error({ err: error }, 'SIGHUP: reloading the certificates failed'));
  };
  process.on('SIGHUP', reload);
  // A stop asked for while the server starts (systemctl stop, Ctrl-C, right after the start): done once
  // it is up, the listeners closed and the store shut as for any stop, rather than by Node's default
  // action with the ports already open. A start that has not ended 10 s later gets the default after all.
  let earlyStop: NodeJS.Signals | undefined;
  let earlyTimer: NodeJS.Timeout | undefined;
  const onEarlySignal = (signal: NodeJS.Signals) => {
    earlyStop ??= signal;
    earlyTimer ??= setTimeout(() => {
      dropEarlySignals();
      process.kill(process.pid, signal);
    }, 10_000).unref();
  };
  const dropEarlySignals = () => {
    clearTimeout(earlyTimer);
    process.off('SIGTERM', onEarlySignal);
    process.off('SIGINT', onEarlySignal);
  };
  process.on('SIGTERM', onEarlySignal);
  process.on('SIGINT', onEarlySignal);
  let lock: ServeLock | undefined;
  try {
    // SQLite: one server process per file. PostgreSQL nodes share their database by design (docs/scaling.md).
    if (config.store.engine === 'sqlite') lock = acquireServeLock(config.dataDir);
  } catch (error) {
    process.off('SIGHUP', reload);
    dropEarlySignals();
    if (error instanceof ServeLockError) throw new CliError(error.message);
    throw error;
  }
  let ports: EarlyPorts | undefined;
  let server: RunningServer;
  try {
    if (owner) {
      ports = await EarlyPorts.bind(listenAddresses(config));
      becomeOwner(owner, 'serve');
      logger.info(
        { user: owner.user, uid: process.getuid?.(), gid: process.getgid?.() },
        `started as root: the ports are bound, and the server now runs as ${owner.user}, the owner of ${config.dataDir}`,
      );
    }
    server = await startServer({ config, logger, discardMail, ports });
  } catch (error) {
    process.off('SIGHUP', reload);
    dropEarlySignals();
    await ports?.closeUnused();
    lock?.release();
    throw error;
  }
  await ports?.closeUnused(); // a submission listener left off (no certificate) keeps its port for when one is loaded
  running = server;
  const show = (a: { address: string; port: number } | undefined) =>
    a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : undefined;
  const smtp = show(server.smtp)!;
  const submission = show(server.submission);
  const submissions = show(server.submissions);
  logger.info(
    {
      version: VERSION,
      node: process.version,
      config: file ?? 'embedded defaults',
      hostname: config.hostname,
      domains: config.domains,
      dataDir: config.dataDir,
      smtp,
      submission,
      submissions,
      ...(server.mtaSts && { mtaSts: show(server.mtaSts) }),
    },
    `Postern ${VERSION} on Node ${process.version}: SMTP on ${smtp}, ${submissionText(submission, submissions)}${server.mtaSts ? `, MTA-STS policy on ${show(server.mtaSts)}` : ''}, data in ${config.dataDir} (${config.store.engine}), local domains ${config.domains.join(', ')}`,
  );
  if (file === undefined || empty) {
    logger.warn(
      empty ? { config: file } : {},
      `running on the embedded defaults${empty ? ` (${file} sets nothing)` : ''}: hostname ${config.hostname} and local domain ${config.domains.join(', ')}; set "hostname" and "domains" in postern.yaml for real mail`,
    );
  }
  const openFiles = openFileWarning(config);
  for (const warning of [
    ...permissionWarnings(config, file),
    ...settingWarnings(config),
    ...(openFiles ? [openFiles] : []),
  ]) {
    logger.warn(warning);
  }
  // Read after the listeners are up: a store that fails here is said so, and the signal handlers below
  // still get installed (a throw would leave a listening server no SIGTERM stops gracefully).
  const where =
    config.store.engine === 'sqlite'
      ? `that ${config.dataDir} is the data directory and is mounted`
      : 'that store.url names the database the accounts are in';
  await startWarnings(server, config.domains, config.hostname, where, logger).catch((error: Error) =>
    logger.error({ reason: error.message }, 'store: the accounts could not be read at start'),
  );
  await queueWarning(server, logger).catch((error: Error) =>
    logger.error({ reason: error.message }, 'store: the outbound queue could not be read at start'),
  );
  if (discardMail) logger.warn('--discard-mail: messages are acknowledged and DISCARDED (benchmark reference only)');
  // Kept installed until the stop is done: Ctrl-C on `npm start` signals npm and the server both, and
  // npm passes its SIGINT on, so the server gets two; a handler that had gone left the second to Node's
  // default action, which killed the process mid-transaction (the grace below bounds the stop anyway).
  let stopping: { signal?: NodeJS.Signals; at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // npm's copy of the same Ctrl-C arrives within moments: not news to the admin, who pressed once.
      const echo = signal === stopping.signal && performance.now() - stopping.at < 1000;
      (echo ? logger.debug : logger.info).call(
        logger,
        { signal },
        'already shutting down: transactions in flight are being finished',
      );
      return;
    }
    stopping = { signal, at: performance.now() };
    logger.info({ signal }, 'shutting down: no new connections, finishing transactions in flight');
    requestStop(undefined);
  };
  let requestStop: (failure: Error | undefined) => void = () => {};
  const storeFailure = await new Promise<Error | undefined>((resolve) => {
    requestStop = resolve;
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    dropEarlySignals();
    if (earlyStop) onSignal(earlyStop);
    server.failed.then((error) => {
      stopping = { at: performance.now() };
      logger.error('shutting down: the store failed (above); exit code 1, for the supervisor to restart the server');
      resolve(error);
    });
  });
  await server.stop(); // a SIGHUP meanwhile still reloads: the default would cut the sessions being finished
  process.off('SIGHUP', reload);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  lock?.release();
  logger.info('stopped');
  logger.flush();
  // Everything of ours is closed and flushed. What a library leaves behind (acme-client retrying an
  // order with an unreachable CA, for over a minute) must not keep a stopped server's process alive
  // and delay its restart; the timer itself holds nothing up when nothing else is left.
  const exitCode = storeFailure ? 1 : 0;
  setTimeout(() => process.exit(process.exitCode ?? exitCode), 1000).unref();
  return exitCode;
}

/** "submission on A (STARTTLS) and B (TLS)", naming only the listeners that are on. */
function submissionText(starttls: string | undefined, implicit: string | undefined): string {
  const on = [starttls && `${starttls} (STARTTLS)`, implicit && `${implicit} (TLS)`].filter(Boolean);
  return on.length === 0 ? 'submission off' : `submission on ${on.join(' and ')}`;
}

/**
 * Relayed and submitted mail for other domains got its 250 and waits in the outbound queue, which no
 * code delivers yet (nor bounces, RFC 5321 §6.1's duty once a 250 is given): said at every start, so
 * that the admin learns of it before the senders do.
 */
async function queueWarning(server: RunningServer, logger: Logger): Promise<void> {
  const waiting = await server.store.countJobs(OUTBOUND_JOB);
  if (waiting === 0) return;
  logger.warn(
    { queued: waiting },
    `${waiting === 1 ? '1 message for other domains waits' : `${waiting} messages for other domains wait`} in the outbound queue; outbound delivery is not implemented yet, and nothing sends them or bounces them: see postern queue list (queue show --raw to hand one to another MTA, queue delete to remove it)`,
  );
}

/** What the store says is missing: any account at all, and the postmaster the others fall back to. */
/** `checkWhere`: what to check when a store that had accounts shows none, per engine. */
async function startWarnings(
  server: RunningServer,
  domains: string[],
  hostname: string,
  checkWhere: string,
  logger: Logger,
): Promise<void> {
  if (!(await server.store.hasAccounts())) {
    logger.warn(
      `the store holds no account: mail to local addresses is deferred (451 4.3.0) until one exists (postern user add); if this server had accounts, check ${checkWhere}`,
    );
  }
  // RFC 5321 §4.5.1: mail to postmaster at every domain we serve MUST be accepted. Postfix has the
  // alias by default; here it is an account or an alias the admin makes. The other domains' postmaster
  // falls back to the first domain's (src/policy/local-address.ts), so that one is what must exist.
  const domain = postmasterDomainOf({ localDomains: new Set(domains), hostname });
  if (!(await server.store.resolveAddress(`postmaster@${domain}`))) {
    logger.warn(
      `no account or alias for postmaster@${domain}: RFC 5321 §4.5.1 requires one, and mail to postmaster at every domain served is refused until then (the others reach this one unless they have their own): postern alias add postmaster@${domain} <your address>`,
    );
  }
}
