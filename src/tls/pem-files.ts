/**
 * Certificates configured as PEM files (`tls.certificates: [{ cert, key }]`), loaded into the
 * CertificateStore and reloaded when they change, without a restart: whoever renews them (certbot, a
 * Kubernetes secret) only has to write the files. A directory watch (fs.watch; it also sees files
 * replaced by rename and symlink swaps) triggers a debounced check, and a periodic stat poll catches
 * what watches miss (network file systems, a watch that died). A new pair that does not load is logged
 * at error level, once its files have settled (`settleMs`), and the previous certificate stays in use;
 * the same broken content is reported once.
 * A pair refused for a reason that time ends (not yet valid) is tried again when the store would take
 * it. reload() (SIGHUP) tries every pair, failed ones too, and logs one line for each: loaded,
 * unchanged, or still failing and why.
 * With `serveExpired` (serve), a pair that has expired still loads at start, and a loaded certificate
 * past its end is logged at error level at start and each day after, as long as it stays.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { readRegularFile } from '../config/read-config-file.ts';
import type { Logger } from '../log/logger.ts';
import { CertificateError, type CertificateInfo, type CertificateStore } from './certificate-store.ts';

export interface PemFilePair {
  cert: string;
  key: string;
}

export interface PemFilesOptions {
  store: CertificateStore;
  pairs: PemFilePair[];
  logger: Logger;
  /** Seconds between stat polls; 60 by default. */
  pollSeconds?: number;
  /** Quiet time after a watch event before the files are read, so a cert and key written together load together. */
  debounceMs?: number;
  /**
   * How long after the last watch event a pair that does not load (its key not matching, a file
   * missing or cut short) is read again before that is logged as an error: a cert and key copied one
   * after the other (scp, Ansible) are a mismatched pair for a moment. 2500 ms by default.
   */
  settleMs?: number;
  /** false: poll only (file systems where change notification does not work). */
  watch?: boolean;
  /**
   * The user the server reads the keys as: only a key it owns is told to chmod 600. The process's
   * user by default; a check run as root passes the user serve would run as.
   */
  serverUid?: number;
  /**
   * Load a certificate file that has expired at start, with an error in the log, instead of throwing
   * (serve: an MX serving it keeps opportunistic TLS, docs/tls.md). `postern check` sets it too, to
   * load the files as serve does, and says the expiry in its own words (`logExpired: false`).
   */
  serveExpired?: boolean;
  /** Log a loaded certificate past its end (at start, then every expiredReminderMs); true by default. */
  logExpired?: boolean;
  /** How often a loaded certificate past its end is logged again; a day by default. */
  expiredReminderMs?: number;
}

interface PairState {
  pair: PemFilePair;
  /** Its place in the configuration: the store's rank for the default certificate. */
  rank: number;
  /** Content hash of the last pair tried, loaded or not, so a broken file is reported once. */
  tried?: string;
  /** Content hash of the pair whose certificate is `loaded`. */
  loadedHash?: string;
  /** A pair refused as not yet valid: from when the store takes it, so that a poll tries it again then. */
  retryAt?: number;
  /** inode, size and times of both files at the last check. */
  stamp?: string;
  /** The certificate of this pair in the store now. */
  loaded?: CertificateInfo;
  /** When an expired `loaded` was last logged. */
  expiredLoggedAt?: number;
}

const DAY_MS = 86_400_000;

export class PemFiles {
  readonly #options: PemFilesOptions;
  readonly #states: PairState[];
  readonly #watchers: FSWatcher[] = [];
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #checking: Promise<void> = Promise.resolve();
  #stopped = false;
  /** When the watch last saw a change (Date.now()); the settle time runs from there. */
  #changedAt = Number.NEGATIVE_INFINITY;

  constructor(options: PemFilesOptions) {
    this.#options = options;
    this.#states = options.pairs.map((pair, rank) => ({ pair, rank }));
  }

  /**
   * Loads every pair (ranked in their order: the first is the default unless another names the
   * store's hostname), then watches them. Throws CertificateError naming the file.
   */
  async start(): Promise<CertificateInfo[]> {
    const loaded: CertificateInfo[] = [];
    for (const state of this.#states) {
      const { cert, key, hash } = await readPair(state.pair);
      state.tried = hash;
      state.stamp = await stampOf(state.pair);
      state.loaded = this.#options.store.addPem(cert, key, {
        ...this.#addOptions(state),
        ...(this.#options.serveExpired ? { acceptExpired: true } : {}),
      });
      state.loadedHash = hash;
      loaded.push(state.loaded);
      await this.#checkKeyMode(state.pair.key);
    }
    this.#logExpired();
    if (this.#options.watch !== false) await this.#watch();
    const every = (this.#options.pollSeconds ?? 60) * 1000;
    this.#poll = setInterval(() => {
      this.#logExpired();
      this.#schedule(0, true);
    }, every).unref();
    return loaded;
  }

  /**
   * A certificate past its end, loaded at start or expired since, is an error the admin must see:
   * said at once, then again each day while it stays (as the ACME lines say a failing renewal).
   */
  #logExpired(): void {
    if (this.#options.logExpired === false) return;
    const now = Date.now();
    const every = this.#options.expiredReminderMs ?? DAY_MS;
    for (const state of this.#states) {
      const info = state.loaded;
      if (!info || info.notAfter.getTime() > now) continue;
      if (state.expiredLoggedAt !== undefined && now - state.expiredLoggedAt < every) continue;
      state.expiredLoggedAt = now;
      const names = info.hostnames.join(', ') || info.source;
      this.#options.logger.error(
        { cert: state.pair.cert, hostnames: info.hostnames, notAfter: info.notAfter },
        `TLS: the certificate in ${state.pair.cert} for ${names} expired on ${info.notAfter.toISOString()} and is still loaded: ` +
          'clients that check certificates refuse it (most MX senders do not; mail programs do). Install a renewed one: it is loaded without a restart',
      );
    }
  }

  /**
   * SIGHUP: reads every pair again now and loads those that changed, and tries again those that did
   * not load before (their content may be the same, and the time or the store not); one line each.
   */
  reload(): Promise<void> {
    this.#checking = this.#checking.then(() => this.#checkAll('reload'));
    return this.#checking;
  }

  #addOptions(state: PairState) {
    return { source: state.pair.cert, keySource: state.pair.key, rank: state.rank };
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
    for (const watcher of this.#watchers.splice(0)) watcher.close();
  }

  async #watch(): Promise<void> {
    const dirs = new Set<string>();
    for (const { pair } of this.#states) {
      for (const file of [pair.cert, pair.key]) {
        dirs.add(path.dirname(path.resolve(file)));
        // A symlinked file (Kubernetes mounts secrets so) changes where its target lives.
        dirs.add(path.dirname(await realpath(file).catch(() => path.resolve(file))));
      }
    }
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, () => {
          this.#changedAt = Date.now();
          this.#schedule(this.#options.debounceMs ?? 250, false);
        });
        watcher.on('error', (err) => {
          this.#options.logger.warn({ dir, err }, 'TLS: watching certificate files failed; polling only');
          watcher.close();
        });
        this.#watchers.push(watcher);
      } catch (err) {
        this.#options.logger.warn({ dir, err }, 'TLS: cannot watch certificate files; polling only');
      }
    }
  }

  #schedule(delayMs: number, onlyIfStampChanged: boolean): void {
    if (this.#stopped) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#checking = this.#checking.then(() => this.#checkAll(onlyIfStampChanged ? 'poll' : 'watch'));
    }, delayMs).unref();
  }

  async #checkAll(why: 'poll' | 'watch' | 'reload'): Promise<void> {
    for (const state of this.#states) {
      if (this.#stopped) return;
      try {
        await this.#check(state, why);
      } catch (err) {
        this.#options.logger.error({ cert: state.pair.cert, err }, 'TLS: certificate check failed');
      }
    }
  }

  /**
   * A poll looks only at pairs whose files changed, or whose time to load has come; a watch event at
   * every pair, loading new content; a reload tries again what did not load, and says how each went.
   */
  async #check(state: PairState, why: 'poll' | 'watch' | 'reload'): Promise<void> {
    const { pair } = state;
    const stamp = await stampOf(pair);
    const due = state.retryAt !== undefined && Date.now() >= state.retryAt;
    if (why === 'poll' && stamp === state.stamp && !due) return;
    state.stamp = stamp;
    let read: Awaited<ReturnType<typeof readPair>>;
    try {
      read = await readPair(pair);
    } catch (err) {
      if (this.#settling(why, state, err)) return;
      const hash = `unreadable:${(err as Error).message}`;
      if (why === 'reload' && state.tried === hash) this.#reportStillFailing(pair, err);
      else if (state.tried !== hash) this.#reportFailure(pair, err);
      state.tried = hash;
      delete state.retryAt;
      return;
    }
    if (read.hash === state.loadedHash) {
      // Back to (or still) what is served: nothing to load, and no failure left to retry.
      state.tried = read.hash;
      delete state.retryAt;
      if (why === 'reload') this.#reportUnchanged(state);
      return;
    }
    const again = read.hash === state.tried;
    if (again && why !== 'reload' && !due) return;
    let info: CertificateInfo;
    try {
      info = this.#options.store.addPem(read.cert, read.key, this.#addOptions(state));
    } catch (err) {
      // Not marked as tried: the next look loads it, or reports it once the files have settled.
      if (this.#settling(why, state, err)) return;
      state.tried = read.hash;
      // Retried when its time comes: a file installed ahead of its notBefore loads without a touch.
      const { usableFrom } = err as CertificateError;
      if (usableFrom instanceof Date && usableFrom.getTime() > Date.now()) state.retryAt = usableFrom.getTime();
      else delete state.retryAt;
      if (again && why === 'reload') this.#reportStillFailing(pair, err);
      else this.#reportFailure(pair, err);
      return;
    }
    state.tried = read.hash;
    state.loaded = info;
    state.loadedHash = read.hash;
    delete state.retryAt;
    delete state.expiredLoggedAt;
    this.#options.logger.info(
      { cert: pair.cert, hostnames: info.hostnames, notAfter: info.notAfter, fingerprint256: info.fingerprint256 },
      'TLS: certificate reloaded',
    );
    await this.#checkKeyMode(pair.key);
  }

  /**
   * Whether a failure seen by the watch (or a poll) soon after a change is left unreported for now,
   * with another look scheduled: one file of the pair may still be on its way. Only failures a
   * half-written pair gives; one whose files agree (expired, not yet valid, a weak key) is final.
   * A reload (SIGHUP) is the admin asking now: it reports at once.
   */
  #settling(why: 'poll' | 'watch' | 'reload', state: PairState, err: unknown): boolean {
    if (why === 'reload' || this.#stopped) return false;
    const code = (err as CertificateError).code;
    if (code === 'expired' || code === 'not-yet-valid' || code === 'weak-key') return false;
    const left = this.#changedAt + (this.#options.settleMs ?? 2500) - Date.now();
    if (left <= 0) return false;
    // A poll that replaces the look scheduled here must not take the files for unchanged.
    delete state.stamp;
    this.#schedule(Math.min(left, 500), false);
    return true;
  }

  #reportFailure(pair: PemFilePair, err: unknown): void {
    this.#options.logger.error(
      { cert: pair.cert, key: pair.key, code: (err as CertificateError).code, ...retryField(err), err },
      `TLS: the new certificate files do not load; the previous certificate stays in use${retryWords(err)}`,
    );
  }

  #reportStillFailing(pair: PemFilePair, err: unknown): void {
    this.#options.logger.error(
      { cert: pair.cert, key: pair.key, code: (err as CertificateError).code, ...retryField(err), err },
      `TLS: reload: ${pair.cert} still does not load (${(err as Error).message}); the previous certificate stays in use${retryWords(err)}`,
    );
  }

  #reportUnchanged(state: PairState): void {
    const info = state.loaded;
    this.#options.logger.info(
      { cert: state.pair.cert, hostnames: info?.hostnames, notAfter: info?.notAfter },
      `TLS: reload: ${state.pair.cert} unchanged${info ? `, serving ${info.hostnames.join(', ') || info.source} until ${info.notAfter.toISOString()}` : ''}`,
    );
  }

  /**
   * A key others can read is worth a line, but the advice must not break a set-up that works: Debian
   * gives keys to root:ssl-cert at 0640 and the server reads them through that group, where chmod 600
   * would lock it out. So chmod 600 only for a key of the server's own user.
   */
  async #checkKeyMode(keyFile: string): Promise<void> {
    const { mode, uid, gid } = await stat(keyFile);
    const fields = { key: keyFile, mode: `0${(mode & 0o777).toString(8)}`, uid, gid };
    const own = uid === (this.#options.serverUid ?? process.getuid?.());
    const { logger } = this.#options;
    if (mode & 0o007) {
      logger.warn(
        fields,
        own
          ? `TLS: the private key file ${keyFile} is readable by other users; chmod 600 it`
          : `TLS: the private key file ${keyFile} is readable by other users; chmod o-rwx it (its owner and group keep access: the server's user must be one of them)`,
      );
    } else if (mode & 0o070) {
      if (own) logger.warn(fields, `TLS: the private key file ${keyFile} is readable by its group; chmod 600 it`);
      else logger.info(fields, `TLS: the private key file ${keyFile} is readable by its group (gid ${gid})`);
    }
  }
}

/** A certificate not valid yet is tried again when the store would take it: said with its failure. */
function retryField(err: unknown): { retryAt?: Date } {
  const { usableFrom } = err as CertificateError;
  return usableFrom instanceof Date ? { retryAt: usableFrom } : {};
}

function retryWords(err: unknown): string {
  const { usableFrom } = err as CertificateError;
  return usableFrom instanceof Date ? `; tried again at ${usableFrom.toISOString()}` : '';
}

async function readPair(pair: PemFilePair): Promise<{ cert: string; key: string; hash: string }> {
  const [cert, key] = await Promise.all([
    // No `cause`: the log's error serializer appends its message, which repeated the code
    // ("ENOENT: ENOENT: no such file or directory, open …"); the code and file are all it adds.
    readText(pair.cert).catch((err) => {
      throw new CertificateError('cert-invalid', pair.cert, `cannot read: ${err.code ?? err.message}`);
    }),
    readText(pair.key).catch((err) => {
      throw new CertificateError('key-invalid', pair.key, `cannot read: ${err.code ?? err.message}`);
    }),
  ]);
  return { cert, key, hash: createHash('sha256').update(cert).update('\0').update(key).digest('hex') };
}

const readText = async (file: string): Promise<string> => (await readRegularFile(file)).toString('utf8');

async function stampOf(pair: PemFilePair): Promise<string> {
  const parts = await Promise.all(
    [pair.cert, pair.key].map((file) =>
      stat(file).then(
        (s) => `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`,
        (err: NodeJS.ErrnoException) => `error:${err.code}`,
      ),
    ),
  );
  return parts.join('|');
}
