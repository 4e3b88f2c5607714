/**
 * `postern check [--config FILE]`: builds from the config everything `serve` builds before it listens
 * (the restriction lists, the content filter's rule tables, the TLS certificate files), as
 * `postfix check` or `nginx -t` do, so an admin can try a changed config before restarting the
 * server. It binds no port, contacts no milter or ACME CA, asks DNS only what the system resolver
 * says a listen address's host name is (as serve's listen and `nginx -t` do), and reads the store
 * only to see its schema version (read-only, as `migrate --status`: SQLite may make its -shm and -wal
 * files beside an existing database; PostgreSQL is connected to, so that a server that is down or
 * refuses the login is found here rather than by serve).
 */

import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { AccountCache } from '../../accounts/account-cache.ts';
import { spfRecordProblem } from '../../admin/dns-records.ts';
import {
  type ListenCheckOptions,
  listenAddressProblem,
  processPrivilegedPorts,
  resolvedClash,
} from '../../config/listen-problem.ts';
import { ConfigError, listenAddresses } from '../../config/load.ts';
import { permissionWarnings } from '../../config/permissions.ts';
import type { Config } from '../../config/schema.ts';
import { settingWarnings } from '../../config/setting-warnings.ts';
import { createResolver } from '../../dns/system-resolver.ts';
import { ContentFilter } from '../../filter/content-filter.ts';
import { createLogger, type Logger } from '../../log/logger.ts';
import { printable } from '../../log/printable.ts';
import { InboundPolicy } from '../../policy/inbound-policy.ts';
import { uncoveredPolicyHosts } from '../../server/mta-sts-server.ts';
import { openFileWarning } from '../../server/open-files.ts';
import { LOCK_FILE_NAME, PID_FILE_NAME } from '../../server/serve-lock.ts';
import { namesHostname, warnIfHostnameUncovered } from '../../server/tls-setup.ts';
import { NullStore } from '../../store/null-store.ts';
import { DATABASE_FILE_NAME } from '../../store/sqlite/sqlite-store.ts';
import { StoreError } from '../../store/store.ts';
import { readDirectoryCa } from '../../tls/acme/directory-ca.ts';
import { renewalTime } from '../../tls/acme/renewal.ts';
import { AcmeSetupError } from '../../tls/acme/setup-error.ts';
import { CertificateStore } from '../../tls/certificate-store.ts';
import { PemFiles } from '../../tls/pem-files.ts';
import { actAsDataDirOwner, type DataDirOwner, dataDirOwner, ownershipFindings } from '../data-dir-owner.ts';
import { CliError, usageError } from '../errors.ts';
import { groupName, userName } from '../system-accounts.ts';
import { configFrom, parseCommandLine } from './options.ts';

/** Certificates that end within this many days are named in a warning. */
const EXPIRY_WARNING_DAYS = 14;

export interface CheckReport {
  config: string;
  errors: string[];
  warnings: string[];
  /** `commonName` only for a certificate with no subjectAltName DNS names: what it names, that clients ignore. */
  certificates: { file: string; names: string[]; notAfter: string; commonName?: string }[];
  /** Those of `errors` serve starts with all the same, and then takes no mail: absent when none. */
  startsDespite?: string[];
}

export async function checkCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { json: { type: 'boolean' } }, 'check');
  if (positionals.length > 0) throw usageError(`check: unexpected argument "${positionals[0]}"`);
  let loaded: ReturnType<typeof configFrom>;
  try {
    loaded = configFrom(values);
  } catch (error) {
    // A config that does not parse or fails the schema: its problems are the report's errors, in
    // the same form (--json too), and nothing more is checked.
    if (!(error instanceof ConfigError)) throw error;
    const config =
      error.source ?? (typeof values.config === 'string' && values.config !== '' ? values.config : 'the config');
    return printReport({ config, errors: [...error.problems], warnings: [], certificates: [] }, values.json === true);
  }
  const { config, file, empty } = loaded;
  // Looked at before becoming the owner: serve started as root binds its ports first, as root, and
  // only then becomes that user (docs/deployment.md), who may not bind them.
  const privilegedPorts = processPrivilegedPorts();
  try {
    // Run as root on the server's user's data directory, check as that user, as serve runs (with
    // either store: serve started as root becomes the owner whatever the store).
    actAsDataDirOwner(config, { anyStore: true });
  } catch (error) {
    // Its files someone else owns: reported below with the rest; checked as root meanwhile.
    if (!(error instanceof CliError)) throw error;
  }
  const report = await checkConfig(config, file, new Date(), { privilegedPorts });
  if (empty) report.warnings.unshift(emptyConfigWarning(file, config));
  return printReport(report, values.json === true);
}

/** A config file that sets nothing is likely one cut short (a failed copy, a truncation): said, not silent. */
function emptyConfigWarning(file: string | undefined, config: Config): string {
  return `the config file ${file} sets nothing: serve would run on the embedded defaults (hostname ${config.hostname}, local domain ${config.domains.join(', ')})`;
}

function printReport(report: CheckReport, json: boolean): number {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: report.errors.length === 0, ...report }, null, 2)}\n`);
  } else {
    const lines: string[] = [];
    for (const error of report.errors) lines.push(`error: ${printable(error)}`);
    for (const warning of report.warnings) lines.push(`warning: ${printable(warning)}`);
    for (const cert of report.certificates) {
      const names =
        cert.names.length > 0
          ? cert.names.join(', ')
          : `no subjectAltName${cert.commonName === undefined ? '' : ` (subject CN ${printable(cert.commonName)})`}`;
      lines.push(`certificate ${printable(cert.file)}: ${names}, valid until ${cert.notAfter}`);
    }
    const errors = `${report.errors.length} error${report.errors.length === 1 ? '' : 's'}`;
    const starts = report.errors.every((error) => report.startsDespite?.includes(error));
    lines.push(
      report.errors.length === 0
        ? `${report.config}: OK (${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'})`
        : starts
          ? `${report.config}: ${errors}; serve would start, but take no mail`
          : `${report.config}: ${errors}; serve would not start`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return report.errors.length === 0 ? 0 : 1;
}

/** Every problem serve's start would stop at, and what it would warn about, without starting anything. */
export async function checkConfig(
  config: Config,
  file: string | undefined,
  now = new Date(),
  listenOptions: ListenCheckOptions = {},
): Promise<CheckReport> {
  const report: CheckReport = { config: file ?? 'embedded defaults', errors: [], warnings: [], certificates: [] };
  const { logger, flush } = collectingLogger(report.warnings);
  const attempt = async (part: () => unknown): Promise<void> => {
    try {
      await part();
    } catch (error) {
      // What the admin must fix is reported, and the other parts still checked; a defect of ours is not hidden.
      if (error instanceof ConfigError || error instanceof StoreError) report.errors.push(error.message);
      else if (error instanceof Error && error.name === 'CertificateError') {
        report.errors.push(`tls.certificates: ${error.message}`);
      } else throw error;
    }
  };
  if (file === undefined) {
    report.warnings.push(
      `no config file: serve would run on the embedded defaults (hostname ${config.hostname}, local domain ${config.domains.join(', ')})`,
    );
  }
  // A data directory that is a file is an error below; "chmod 700" it would be no advice. One that
  // cannot be looked up at all (a loop of links, a name too long) is an error below as well. (A NUL in
  // its name, which makes every file call throw, the schema refuses: src/config/paths.ts.)
  const dataDirIsFile = statOrUndefined(config.dataDir)?.isDirectory() === false;
  const permissions = permissionWarnings(config, file).filter(
    (warning) => !(dataDirIsFile && warning.startsWith(`dataDir ${config.dataDir} `)),
  );
  report.warnings.push(...permissions, ...settingWarnings(config));
  // Not a reason serve would stop, but `dns records` would print a record every receiver refuses.
  const spf = spfRecordProblem(config);
  if (spf) report.warnings.push(spf);
  const openFiles = openFileWarning(config);
  if (openFiles) report.warnings.push(openFiles);
  await attempt(() => {
    // The lists are built as serve builds them; construction reads neither the store nor DNS.
    const store = new NullStore([]);
    new InboundPolicy({
      config,
      resolver: createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeoutMs, tries: 1 }),
      store,
      accounts: new AccountCache((address) => store.resolveAddress(address), { ttlMs: 0, maxEntries: 1 }),
      logger,
    });
  });
  await attempt(async () => {
    const filter = await ContentFilter.create({
      config: config.filter,
      localDomains: config.domains,
      hostname: config.hostname,
      logger,
    });
    filter.stop();
  });
  await attempt(async () => {
    // The data directory, or where it would be made, must take what serve writes there: the SQLite
    // store, and with either engine the TLS keys and certificates it makes. Checked for the user
    // running this command; run as root on another user's data directory, for that user (the command
    // became that user above, but for PostgreSQL: then from the owner's mode bits).
    const dataDir = path.resolve(config.dataDir);
    let dir = dataDir;
    // Any other file system error on the way, or on an entry in it serve opens (a lock file that is a
    // loop of links, say), stops serve as well: an error naming the file, not a crash that leaves
    // --json without its report.
    try {
      // lstat, not exists: a symbolic link to nothing is there, and serve's mkdir fails on it (ENOENT).
      // A loop (ELOOP) is walked up too, to the link that starts it.
      for (let missing = entryProblem(dir); missing !== undefined && path.dirname(dir) !== dir; ) {
        if (!WALKED_UP.has(missing)) throw new ConfigError(dataDirProblem(dir, missing, 'lstat'));
        dir = path.dirname(dir);
        missing = entryProblem(dir);
      }
      let stat: fs.Stats;
      try {
        stat = fs.statSync(dir);
      } catch (error) {
        // There by lstat, not by stat: a symbolic link whose target is missing (ENOENT) or a loop (ELOOP).
        const code = (error as NodeJS.ErrnoException).code;
        const made = dir === dataDir ? 'the data directory' : dataDir;
        throw new ConfigError(
          `dataDir: ${dir} is a symbolic link to ${fs.readlinkSync(dir)}, which leads nowhere (${code}); serve could not make ${made}`,
        );
      }
      if (!stat.isDirectory()) throw new ConfigError(`dataDir: ${dir} is not a directory`);
      const owner = process.getuid?.() === 0 ? dataDirOwner(config.dataDir) : undefined;
      if (owner && (stat.mode & 0o300) !== 0o300) {
        throw new ConfigError(
          `dataDir: ${dir} cannot be written by its owner ${owner.user} (mode 0${(stat.mode & 0o777).toString(8)}); serve keeps its store and TLS files there`,
        );
      }
      try {
        if (!owner) fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
      } catch (error) {
        throw new ConfigError(
          `dataDir: ${dir} cannot be written (${(error as NodeJS.ErrnoException).code}); serve keeps its store and TLS files there`,
        );
      }
      if (dir !== dataDir) {
        // serve will make the data directory in `dir`. access(2) says yes to root on any file system not
        // mounted read-only (a kernel one, NFS with root squashed): a directory made and removed is the proof.
        // The data directory itself is not made, nor anything left behind.
        try {
          fs.rmdirSync(fs.mkdtempSync(path.join(dir, '.postern-check-')));
        } catch (error) {
          throw new ConfigError(
            `dataDir: ${dataDir} does not exist, and no directory can be made in ${dir} (${(error as NodeJS.ErrnoException).code}); serve would make it there`,
          );
        }
      }
      // What serve would stop at inside it: a lock file that is not an (empty) SQLite database, and a
      // tls entry that is not a directory (serve keeps its keys and certificates there).
      const inside = (name: string) => path.join(path.resolve(config.dataDir), name);
      const lockHeader = readHead(inside(LOCK_FILE_NAME), 16);
      if (
        lockHeader !== undefined &&
        lockHeader.length > 0 &&
        !lockHeader.equals(SQLITE_HEADER.subarray(0, lockHeader.length))
      ) {
        throw new ConfigError(
          `the lock file ${inside(LOCK_FILE_NAME)} is not an empty SQLite database: remove it, with no postern serve or restore running`,
        );
      }
      const tlsDir = fs.statSync(inside('tls'), { throwIfNoEntry: false });
      if (tlsDir && !tlsDir.isDirectory()) {
        throw new ConfigError(
          `dataDir: ${inside('tls')} is not a directory; serve keeps its TLS keys and certificates there`,
        );
      }
      // serve renames its PID file into place (serve-lock.ts): onto a directory that is EISDIR.
      if (
        config.store.engine === 'sqlite' &&
        fs.lstatSync(inside(PID_FILE_NAME), { throwIfNoEntry: false })?.isDirectory()
      ) {
        report.errors.push(
          `dataDir: ${inside(PID_FILE_NAME)} is a directory; serve writes its PID file there: remove it (rmdir ${shellWord(inside(PID_FILE_NAME))})`,
        );
      }
      if (dir === dataDir) report.errors.push(...serveWriteProblems(config, owner));
      // Postfix's queue_minfree, as serve applies it at MAIL FROM (server/free-space.ts): with less room
      // than 1.5 × the largest message, every MAIL gets 452, though the config itself is fine.
      if (config.store.engine === 'sqlite') {
        const { bavail, bsize } = fs.statfsSync(dir);
        const free = bavail * bsize;
        const needed = 1.5 * config.smtp.maxMessageSize;
        if (free < needed) {
          const mb = (octets: number) => `${Math.floor(octets / 1_000_000)} MB`;
          report.warnings.push(
            `dataDir: its file system has ${mb(free)} free, less than 1.5 × smtp.maxMessageSize (${mb(needed)}): serve answers every MAIL FROM with 452 until there is more room; free space or lower maxMessageSize`,
          );
        }
      }
    } catch (error) {
      const { code, path: file, syscall } = error as NodeJS.ErrnoException;
      if (typeof code === 'string' && typeof file === 'string') {
        throw new ConfigError(dataDirProblem(file, code, syscall));
      }
      throw error;
    }
    const ownership = ownershipFindings(config, 'check');
    report.errors.push(...ownership.errors);
    report.warnings.push(...ownership.warnings);
    // Read only, as migrate --status does: a database newer than this Postern stops serve. PostgreSQL
    // is asked too: a server that is down, refuses the login or wants a password none gives stops it.
    const { storeStatus } = await import('../../store/open.ts');
    const status = await storeStatus(config);
    if (status.current > status.latest) {
      throw new ConfigError(
        `the store ${status.location} has schema version ${status.current}, newer than this Postern knows (${status.latest}): run the Postern that made it`,
      );
    }
    // A first start makes the store; anything else with no store is a dataDir (or store.url) that names
    // the wrong place, and serve would run without the accounts and mail, as if new.
    if (status.current === 0) {
      const where = status.engine === 'sqlite' ? path.resolve(status.location) : status.location;
      report.warnings.push(
        `there is no Postern store at ${where} yet: serve will make a new, empty one (no accounts, no mail). Expected on a first start; otherwise point ${status.engine === 'sqlite' ? 'dataDir' : 'store.url'} at the server's store`,
      );
    }
  });
  await attempt(async () => {
    const directoryCa = config.tls.acme?.directoryCa;
    if (!directoryCa) return;
    // Read as serve reads it: a file without a certificate stops serve as well.
    await readDirectoryCa(directoryCa).catch((error: unknown) => {
      throw error instanceof AcmeSetupError ? new ConfigError(error.message) : error;
    });
  });
  await attempt(async () => {
    // What ACME left on disk: serve's "ACME:" lines said it once; check says where each name stands now.
    const acme = config.tls.acme;
    if (!acme) return;
    const { readStoredAcmeState } = await import('../../tls/acme/stored-state.ts');
    const hostnames = acme.hostnames ?? [config.hostname];
    if (config.tls.certificates.length === 0 && !namesHostname(hostnames, config.hostname)) {
      // With PEM files beside ACME, the check of tls.certificates below says it of both.
      report.warnings.push(
        `tls.acme.hostnames (${hostnames.join(', ')}) do not include the hostname ${config.hostname.toLowerCase()}, the name serve gives in EHLO and the MX target senders connect to: ` +
          'clients checking it will refuse the certificates served; add it to tls.acme.hostnames',
      );
    }
    for (const hostname of hostnames) {
      const state = await readStoredAcmeState(config.dataDir, hostname);
      if (state.certificate) {
        const { file, names, notAfter } = state.certificate;
        report.certificates.push({ file, names, notAfter: notAfter.toISOString() });
        // Not before serve's own renewal time: a short-lived certificate (Let's Encrypt's 6-day ones)
        // is always within a fixed number of days of its end, and ACME renews it only then.
        const renewAt = renewalTime({ notBefore: notBeforeOf(file) ?? notAfter, notAfter }, acme.renewBeforeDays);
        if (now >= renewAt) {
          const daysLeft = (notAfter.getTime() - now.getTime()) / 86_400_000;
          report.warnings.push(
            `tls.acme: the certificate for ${state.hostname} ${daysLeft < 0 ? 'has expired' : `expires in ${Math.floor(daysLeft)} days`} and ACME has not renewed it (due since ${renewAt.toISOString()}): see serve's "ACME:" lines`,
          );
        }
      }
      if (state.unreadable) report.warnings.push(`tls.acme: ${state.unreadable}: serve orders a new certificate`);
      if (state.failures) {
        const { count, lastError, nextTry } = state.failures;
        report.warnings.push(
          `tls.acme: ${state.hostname}: ${count} failed order${count === 1 ? '' : 's'}, the last: ${lastError ?? 'no reason recorded'}; ` +
            `the next at ${nextTry.toISOString()} (a reload, systemctl reload postern, tries at once unless the CA asked to wait)`,
        );
      }
    }
  });
  await attempt(async () => {
    if (config.tls.certificates.length === 0) return;
    const certificates = new CertificateStore();
    // Loaded as serve loads them: an expired pair too, which serve starts with (logging an error).
    const files = new PemFiles({
      store: certificates,
      pairs: config.tls.certificates,
      logger,
      watch: false,
      serveExpired: true,
      logExpired: false, // said below, as check says it
    });
    try {
      for (const info of await files.start()) {
        const commonName = info.hostnames.length === 0 ? subjectCommonName(info.source) : undefined;
        report.certificates.push({
          file: info.source,
          names: info.hostnames,
          notAfter: info.notAfter.toISOString(),
          ...(commonName === undefined ? {} : { commonName }),
        });
        if (info.hostnames.length === 0) {
          // RFC 6125 §6.4.4 leaves the subject CN as a legacy fallback a client may skip, and RFC 9525,
          // which replaces it, drops the CN: browsers and Go already match subjectAltName only.
          report.warnings.push(
            `tls.certificates: ${info.source} has no subjectAltName DNS names${commonName === undefined ? '' : `, only the subject CN ${commonName}`}: clients that verify expect the names in subjectAltName (RFC 6125 §6.4.4) and many refuse it; reissue it with the names in subjectAltName`,
          );
        }
        const daysLeft = (info.notAfter.getTime() - now.getTime()) / 86_400_000;
        if (daysLeft < 0) {
          // Not an error: serve starts and serves it (MX senders mostly verify nothing), but mail
          // programs on submission, and senders that verify, refuse it.
          report.warnings.push(
            `tls.certificates: ${info.source}: expired on ${info.notAfter.toISOString()} (${info.hostnames.join(', ')}): serve serves it and logs an error, but mail programs and senders that verify refuse it; replace it`,
          );
        } else if (daysLeft < EXPIRY_WARNING_DAYS) {
          report.warnings.push(`tls: the certificate ${info.source} expires in ${Math.floor(daysLeft)} days`);
        }
      }
    } finally {
      files.stop();
    }
    warnIfHostnameUncovered(config, certificates, logger);
  });
  if (config.mtaSts.listen) {
    // As the MTA-STS server warns once it listens: RFC 8461 §3.3 has senders validate the policy host's
    // certificate, so with none naming mta-sts.<domain> they fetch nothing. serve's own self-signed
    // certificate, made when nothing else is loaded, names the hostname.
    const loaded: { hostnames: string[] }[] = report.certificates.map((cert) => ({ hostnames: cert.names }));
    if (loaded.length === 0 && config.tls.selfSigned) loaded.push({ hostnames: [config.hostname.toLowerCase()] });
    const missing = uncoveredPolicyHosts(config, loaded);
    if (missing.length > 0) {
      report.warnings.push(
        `MTA-STS: no certificate names ${missing.join(', ')}; senders will not use the policy until one does (add the names to tls.acme.hostnames or to a certificate in tls.certificates)`,
      );
    }
  }
  // As serve warns at its start: submission runs only over TLS, so with no certificate (none
  // configured, none ACME has stored, no self-signed one) its listeners stay off.
  const submission = config.listen.submission || config.listen.submissions;
  const submissionOff = !config.tls.selfSigned && report.certificates.length === 0;
  await checkListenAddresses(config, report, submissionOff, listenOptions);
  if (submission && submissionOff) {
    report.warnings.push(
      `submission listeners would be off: they need a TLS certificate (tls.certificates, tls.acme or tls.selfSigned)${config.tls.acme ? ', and ACME has stored none yet (they start once it delivers one)' : ''}`,
    );
  }
  // Forced TLS with no certificate: serve offers no STARTTLS and answers every MAIL on port 25 with 454
  // (src/smtp/session.ts, RFC 3207 §4): it runs, and senders queue and retry until they give up.
  if (config.tls.requireOnSmtp && submissionOff && config.tls.certificates.length === 0) {
    if (config.tls.acme) {
      report.warnings.push(
        'tls.requireOnSmtp is true and ACME has stored no certificate yet: until it delivers one, serve answers every MAIL FROM on the MX listener with 454 4.7.0 (TLS not available) and senders keep the mail queued; tls.selfSigned: true would take mail meanwhile',
      );
    } else {
      const error =
        'tls.requireOnSmtp is true but there is no TLS certificate (no tls.certificates, no tls.acme, tls.selfSigned: false): serve starts, but answers every MAIL FROM on the MX listener with 454 4.7.0 (TLS not available), so no mail arrives; configure tls.certificates or tls.acme, or set tls.selfSigned: true';
      report.errors.push(error);
      report.startsDespite = [...(report.startsDespite ?? []), error];
    }
  }
  flush();
  return report;
}

/**
 * The listen addresses serve would fail to bind: a host that does not resolve, an address that is not
 * this machine's. Worded as serve's start says it (listenProblem). A submission listener that stays
 * off for want of a certificate stops no start: its address is a warning then.
 */
async function checkListenAddresses(
  config: Config,
  report: CheckReport,
  submissionOff: boolean,
  options: ListenCheckOptions,
): Promise<void> {
  const entries = [...listenAddresses(config)];
  const problems = await Promise.all(entries.map(([key, address]) => listenAddressProblem(key, address, options)));
  for (const [index, problem] of problems.entries()) {
    if (problem === undefined) continue;
    const key = entries[index]![0];
    if (submissionOff && (key === 'listen.submission' || key === 'listen.submissions')) {
      report.warnings.push(`${problem}; the listener is off until there is a TLS certificate, and would fail then`);
    } else report.errors.push(problem);
  }
  const clash = await resolvedClash(entries, options);
  if (clash !== undefined) report.errors.push(clash);
}

/** The notBefore of the first certificate in `file`, or undefined when it cannot be read. */
function notBeforeOf(file: string): Date | undefined {
  try {
    return new X509Certificate(fs.readFileSync(file)).validFromDate;
  } catch {
    return undefined;
  }
}

/** The subject CN of the first certificate in `file`, or undefined. */
function subjectCommonName(file: string): string | undefined {
  try {
    const subject = new X509Certificate(fs.readFileSync(file)).subject;
    return /^CN=(.*)$/m.exec(subject)?.[1];
  } catch {
    return undefined;
  }
}

/** A logger whose warnings and errors become lines of the report, as serve would have logged them. */
function collectingLogger(into: string[]): { logger: Logger; flush: () => void } {
  let pending = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      let end = pending.indexOf('\n');
      while (end >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        try {
          const message = (JSON.parse(line) as { msg?: unknown }).msg;
          if (typeof message === 'string') into.push(message);
        } catch {
          into.push(line);
        }
        end = pending.indexOf('\n');
      }
      done();
    },
  });
  const logger = createLogger('warn', sink);
  return { logger, flush: () => logger.flush() };
}

/**
 * Why lstat finds no entry at `file` (its error code), undefined when there is one (a symbolic link to
 * nothing included).
 */
function entryProblem(file: string): string | undefined {
  try {
    fs.lstatSync(file);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'EINVAL';
  }
}

/**
 * lstat errors that leave the parent to look at: nothing there (ENOENT), a file where a directory would
 * be (ENOTDIR: that file, further up, is "not a directory"), a directory closed to the user (EACCES:
 * it "cannot be written") and a loop of links (ELOOP: further up is the link that starts it). Any
 * other (ENAMETOOLONG, EIO) is said of the path itself: no parent would show it.
 */
const WALKED_UP = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'ELOOP']);

/** The `dataDir:` error for a file on the data directory's path, or in it, that a file system call failed on. */
function dataDirProblem(file: string, code: string, syscall = 'stat'): string {
  const why =
    code === 'ELOOP'
      ? ' leads into a loop of symbolic links'
      : code === 'ENAMETOOLONG'
        ? ' has a name too long for the file system (a part over 255 octets, or over 4096 in all)'
        : `: ${syscall} fails on it`;
  return `dataDir: ${file}${why} (${code}); serve could not use it`;
}

/**
 * What serve could not write in an existing data directory whose directory itself takes writes: checked
 * for the user serve runs as, the one running this check (it became the data directory's owner, as
 * serve started as root does), or, run as root when it could not become the owner (`rootFor`), that
 * owner by the mode bits. Files of another user, which serve cannot chmod, ownershipFindings names
 * when run as root or as the owner; here only for a check run as a third user.
 */
function serveWriteProblems(config: Config, rootFor: DataDirOwner | undefined): string[] {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid === undefined || gid === undefined || (uid === 0 && rootFor === undefined)) return []; // serve as root
  const user = rootFor ?? { uid, user: userName(uid), group: groupName(gid) };
  const owner = dataDirOwner(config.dataDir);
  const ownershipSaid = owner !== undefined && (uid === 0 || uid === owner.uid);
  const writable = (file: string, stat: fs.Stats, mode: number): boolean => {
    if (uid === 0) return stat.uid !== user.uid || ((stat.mode >> 6) & mode) === mode; // another's: said elsewhere
    try {
      fs.accessSync(file, mode);
      return true;
    } catch {
      return false;
    }
  };
  const modeOf = (stat: fs.Stats) => `mode 0${(stat.mode & 0o777).toString(8)}`;
  const problems: string[] = [];
  const inside = (name: string) => path.join(path.resolve(config.dataDir), name);
  if (config.store.engine === 'sqlite') {
    // serve opens the store read-write and then sets its mode, and that of an existing -wal and -shm,
    // to 0600 (sqlite-store.ts prepareFiles): the store must be writable, and all three the user's.
    const store = inside(DATABASE_FILE_NAME);
    for (const file of [store, `${store}-wal`, `${store}-shm`]) {
      const stat = fs.statSync(file, { throwIfNoEntry: false });
      if (!stat?.isFile()) continue; // none yet: serve makes it; not a file: the store's status says so
      if (!ownershipSaid && stat.uid !== user.uid) {
        problems.push(
          `dataDir: ${file} is ${userName(stat.uid)}'s, not ${user.user}'s, who runs serve: serve cannot set its mode and would stop; chown ${user.user}:${user.group} ${shellWord(file)}`,
        );
      } else if (file === store && !writable(file, stat, fs.constants.W_OK)) {
        problems.push(
          `dataDir: the SQLite store ${file} cannot be written by ${user.user}, who runs serve (${modeOf(stat)}): serve would stop (cannot hold the SQLite store: EACCES); chmod 600 ${shellWord(file)}`,
        );
      }
    }
  }
  // ACME keeps its account, keys and certificates in tls/acme, which serve makes at its start. (A
  // self-signed certificate needs no such check: serve sets tls/ to 0700 itself, private-files.ts.)
  const tls = inside('tls');
  const tlsStat = fs.statSync(tls, { throwIfNoEntry: false });
  if (config.tls.acme && tlsStat?.isDirectory() && entryProblem(path.join(tls, 'acme')) !== undefined) {
    if (!writable(tls, tlsStat, fs.constants.W_OK | fs.constants.X_OK)) {
      // Worded as serve's start says it (private-files.ts).
      const fix = tlsStat.uid === user.uid ? `chmod 700 ${shellWord(tls)}` : `chown ${user.user} ${shellWord(tls)}`;
      problems.push(
        `dataDir: ${tls} cannot be written by ${user.user} (owner ${userName(tlsStat.uid)}, ${modeOf(tlsStat)}): serve cannot make ${path.join(tls, 'acme')} for its TLS keys and certificates; ${fix}`,
      );
    }
  }
  return problems;
}

/** `text` as one word for a shell command the admin may paste. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** What stat says of `file`, or undefined when it cannot say (the reason is the data directory check's to report). */
function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

/** SQLite's file header (the first 16 octets of every database file, "SQLite format 3" and NUL). */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** The first `octets` of a file, or undefined when there is no such file. */
function readHead(file: string, octets: number): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(octets);
    return buffer.subarray(0, fs.readSync(fd, buffer, 0, octets, 0));
  } finally {
    fs.closeSync(fd);
  }
}
