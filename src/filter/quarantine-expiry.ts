/**
 * Quarantine retention: `postern serve` removes messages held longer than
 * filter.quarantine.retentionDays, so a phishing flood cannot fill the disk with messages nobody
 * will release (Microsoft 365 keeps quarantined phishing 30 days, Proxmox Mail Gateway 7).
 *
 * A sweep removes the oldest expired entries in batches of at most QUARANTINE_EXPIRY_BATCH
 * (Store.expireQuarantine), each its own short write, and takes the next batch soon after while one
 * came back full: a backlog (a flood, a server down for weeks, a retention just shortened) drains
 * without holding the store's write lock, and deliveries go between the batches. Sweeps never
 * overlap; one that fails is logged and the next tries again. Every node of a cluster may sweep:
 * the store hands each entry to one of them.
 */

import type { Logger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';

const DAY_MS = 86_400_000;

/** A Node.js timer cannot wait longer (about 24.8 days): past it, it fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Entries removed by one write at most. Each is a whole message (up to smtp.maxMessageSize, 25 MiB
 * by default), whose pages the store frees one by one: kept small so that even a batch of large
 * messages is a short write.
 */
export const QUARANTINE_EXPIRY_BATCH = 100;

/** After a full batch, the next one this much later: deliveries waiting on the store go first. */
export const QUARANTINE_EXPIRY_DRAIN_DELAY_MS = 100;

export interface QuarantineExpiryOptions {
  store: Pick<Store, 'expireQuarantine'>;
  /** filter.quarantine.retentionDays: entries received more than this many days ago go. */
  retentionDays: number;
  logger: Logger;
  /** The clock, in ms since the epoch; Date.now by default. */
  now?: () => number;
  batch?: number;
  drainDelayMs?: number;
}

export class QuarantineExpiry {
  readonly #store: Pick<Store, 'expireQuarantine'>;
  readonly #retentionDays: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #batch: number;
  readonly #drainDelayMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  /** Ends the wait between two batches of a sweep at once: stop() does not wait out the delay. */
  #wake: (() => void) | undefined;
  #stopped = false;

  constructor(options: QuarantineExpiryOptions) {
    const { retentionDays } = options;
    if (!Number.isSafeInteger(retentionDays) || retentionDays < 1) {
      throw new RangeError(`quarantine retention: ${retentionDays} is not a whole number of days ≥ 1`);
    }
    this.#store = options.store;
    this.#retentionDays = retentionDays;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#batch = options.batch ?? QUARANTINE_EXPIRY_BATCH;
    this.#drainDelayMs = options.drainDelayMs ?? QUARANTINE_EXPIRY_DRAIN_DELAY_MS;
  }

  /**
   * Sweeps now (a backlog left while the server was down goes first), then every `intervalMs`; a
   * tick that finds a sweep still running does nothing. The timer keeps no process alive.
   */
  start(intervalMs: number): void {
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 1 || intervalMs > MAX_TIMER_MS) {
      throw new RangeError(`quarantine retention: sweep interval ${intervalMs} ms is not from 1 to ${MAX_TIMER_MS}`);
    }
    if (this.#stopped || this.#timer) return;
    const tick = () => {
      if (!this.#stopped && !this.#running) void this.sweep();
    };
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
    tick();
  }

  /** No sweep starts after it; the one under way ends after its current batch, and is waited for. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#wake?.();
    await this.#running;
  }

  /**
   * One sweep: batches until one comes back short of full. Resolves to how many entries went, never
   * rejects (a failure is logged); a call while a sweep runs gets that sweep's count.
   */
  sweep(): Promise<number> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(): Promise<number> {
    const days = this.#retentionDays;
    let removed = 0;
    try {
      while (!this.#stopped) {
        // Read for each batch: a long drain also takes what expired while it ran.
        const before = new Date(this.#now() - days * DAY_MS);
        const count = await this.#store.expireQuarantine(before, this.#batch);
        removed += count;
        if (count < this.#batch || this.#stopped) break;
        await this.#pause();
      }
    } catch (err) {
      this.#logger.error(
        { err, removed, retentionDays: days },
        `quarantine: removing messages older than ${plural(days, 'day')} failed; the next sweep tries again`,
      );
    }
    if (removed > 0) {
      this.#logger.info(
        { removed, retentionDays: days },
        `quarantine: ${plural(removed, 'message')} older than ${plural(days, 'day')} removed`,
      );
    }
    return removed;
  }

  #pause(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#drainDelayMs);
      timer.unref();
      this.#wake = done;
    });
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
