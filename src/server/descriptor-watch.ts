/**
 * Says when the process runs out of file descriptors while it runs. Node gives no signal of its own:
 * when accept() fails with EMFILE or ENFILE, libuv closes a descriptor it keeps spare, accepts every
 * waiting connection and closes it at once, and takes its spare back (uv__emfile_trick,
 * deps/uv/src/unix/stream.c); the net.Server sees nothing and the clients see a connection closed
 * without a greeting. Only when the spare is gone does libuv hand the error up, as an 'error' on the
 * server (`syscall: 'accept'`), and the listener passes it here (acceptFailed).
 *
 * So a probe opens and closes /dev/null once a second: it fails with EMFILE exactly when accept()
 * would (the table is full), for every listener of the process at once. The outage is said with
 * OutageLog: when it starts, once a minute while it lasts (how many probes found the table full), and
 * when the probes have found a free descriptor for QUIET_PROBES seconds in a row (a flood that frees a
 * descriptor now and then is one outage, not a line each second). A table full for less than the
 * time between two probes can go unsaid, and the dropped connections themselves are not counted.
 */
import fs from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { OutageLog } from '../log/outage.ts';
import { readOpenFileLimit } from './open-files.ts';

const PROBE_INTERVAL_MS = 1000;
/** Probes in a row that must find a free descriptor before the outage is said to be over. */
const QUIET_PROBES = 5;

type Exhausted = 'EMFILE' | 'ENFILE';

function exhaustion(err: unknown): Exhausted | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE' ? code : undefined;
}

export interface DescriptorWatchOptions {
  logger: Logger;
  /** Opens and closes one descriptor, throwing what open() throws; /dev/null by default. */
  probe?: () => void;
  /** The open-file limit named in the lines (the soft one, the one that counts); /proc/self/limits by default. */
  limit?: () => number | undefined;
  intervalMs?: number;
  now?: () => number;
}

export class DescriptorWatch {
  readonly #logger: Logger;
  readonly #outage: OutageLog;
  readonly #probe: () => void;
  readonly #readLimit: () => number | undefined;
  readonly #intervalMs: number;
  /** Read while descriptors are free: reading /proc/self/limits takes one. */
  #limit: number | undefined;
  #freeInARow = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: DescriptorWatchOptions) {
    this.#logger = options.logger;
    this.#outage = new OutageLog(options.logger, {
      name: 'file descriptors',
      level: 'warn',
      wording: {
        started: (reason) => `out of file descriptors: ${reason}`,
        continuing: (since, failures, reason) =>
          `still out of file descriptors since ${since}: the table was full at ${failures} checks (once a second) so far; ${reason}`,
        ended: (seconds, failures) =>
          `file descriptors free again after ${seconds} s (the table was full at ${failures} checks): new connections are accepted`,
      },
      ...(options.now ? { now: options.now } : {}),
    });
    this.#probe = options.probe ?? (() => fs.closeSync(fs.openSync('/dev/null', 'r')));
    this.#readLimit = options.limit ?? (() => readOpenFileLimit()?.soft);
    this.#intervalMs = options.intervalMs ?? PROBE_INTERVAL_MS;
  }

  get out(): boolean {
    return this.#outage.out;
  }

  start(): void {
    this.#limit = this.#readLimit();
    this.#timer ??= setInterval(() => this.check(), this.#intervalMs);
    this.#timer.unref(); // a watch keeps no process alive
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One probe: a full table starts or continues the outage; free ones in a row end it. */
  check(): void {
    try {
      this.#probe();
    } catch (err) {
      const code = exhaustion(err);
      if (code) this.#exhausted(code, {});
      return; // another failure (no /dev/null in a sandbox) says nothing about descriptors
    }
    if (!this.#outage.out) return;
    if (++this.#freeInARow < QUIET_PROBES) return;
    this.#outage.succeeded();
    this.#limit = this.#readLimit(); // an admin may have raised it meanwhile (prlimit)
  }

  /** A listener's accept() failed after listen: libuv could not drop the connection quietly. */
  acceptFailed(err: Error, fields: Record<string, unknown>): void {
    const code = exhaustion(err);
    if (code) this.#exhausted(code, { ...fields, syscall: 'accept' });
    else this.#logger.error({ ...fields, err }, 'accepting a connection failed');
  }

  #exhausted(code: Exhausted, fields: Record<string, unknown>): void {
    this.#freeInARow = 0;
    const reason =
      code === 'ENFILE'
        ? "new connections are being dropped; the system's file table is full (sysctl fs.file-max)"
        : `new connections are being dropped; raise LimitNOFILE= / ulimit -n, now ${this.#limit ?? 'unknown'}`;
    this.#outage.failed({ ...fields, code, limit: this.#limit }, reason);
  }
}
