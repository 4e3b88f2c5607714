/**
 * Room for one more message in the SQLite store's file system, asked at MAIL FROM. Postfix refuses MAIL
 * FROM while its queue file system has less free space than 1.5 × message_size_limit (queue_minfree),
 * with 452 4.3.1 (RFC 3463 §3.4: X.3.1 "mail system full"); without the check a full disk is met only
 * after the client sent the whole message, and then answered with a generic 451.
 */
import fs from 'node:fs';
import type { Logger } from '../log/logger.ts';
import { amountOfSpace as amount } from '../store/sqlite/full-file-system.ts';

// The listener answers a full store at RCPT with it too, and src/smtp does not import src/server.
export { INSUFFICIENT_STORAGE } from '../smtp/effect-runner.ts';

/** statfs is a system call: asked at most once a second, however many MAIL FROMs arrive. */
const RECHECK_MS = 1000;

export class FreeSpace {
  readonly #dir: string;
  readonly #needed: number;
  readonly #logger: Logger;
  readonly #statfs: (dir: string) => { bavail: number; bsize: number };
  #checkedAt = Number.NEGATIVE_INFINITY;
  #enough = true;

  constructor(options: {
    dir: string;
    maxMessageSize: number;
    logger: Logger;
    statfs?: (dir: string) => { bavail: number; bsize: number };
  }) {
    this.#dir = options.dir;
    this.#needed = Math.ceil(1.5 * options.maxMessageSize);
    this.#logger = options.logger;
    this.#statfs = options.statfs ?? ((dir) => fs.statfsSync(dir));
  }

  /** The next enough() asks the file system, however recently it did: a write has just met a full one. */
  recheck(): void {
    this.#checkedAt = Number.NEGATIVE_INFINITY;
  }

  /** False while the file system cannot take 1.5 × the largest message; true when it cannot be told. The
   * monotonic clock: a wall clock stepped back would keep an answer for as long as the step. */
  enough(now = performance.now()): boolean {
    if (now - this.#checkedAt < RECHECK_MS) return this.#enough;
    this.#checkedAt = now;
    let free: number;
    try {
      const { bavail, bsize } = this.#statfs(this.#dir);
      free = bavail * bsize;
    } catch {
      return this.#enough; // a failed statfs refuses no mail: the store's own errors still answer 451
    }
    const enough = free >= this.#needed;
    if (enough !== this.#enough) {
      if (enough) this.#logger.info(`store: ${this.#dir} has ${amount(free)} free again: MAIL FROM is accepted`);
      else {
        this.#logger.error(
          `store: ${this.#dir} has ${amount(free)} free, less than 1.5 × smtp.maxMessageSize (${amount(this.#needed)}): MAIL FROM is answered 452 4.3.1 until space is freed`,
        );
      }
    }
    this.#enough = enough;
    return enough;
  }
}
