/**
 * Counts restriction decisions per rule in memory and adds them to the store's counters every few
 * seconds, so `postern stats` (another process) and every node of a cluster see the totals without
 * a database write per rejection.
 */
import type { Logger } from '../log/logger.ts';
import type { Store } from '../store/store.ts';

export const FLUSH_INTERVAL_MS = 5000;

export class PolicyCounters {
  readonly #store: Pick<Store, 'addCounters'>;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #pending = new Map<string, number>();
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Pick<Store, 'addCounters'>, logger: Logger, intervalMs = FLUSH_INTERVAL_MS) {
    this.#store = store;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  add(name: string, by = 1): void {
    this.#pending.set(name, (this.#pending.get(name) ?? 0) + by);
  }

  /** Stores what was counted since the last flush; a failed write keeps the counts for the next one. */
  flush(): Promise<void> {
    if (this.#pending.size === 0) return this.#flushing;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#flushing = this.#flushing.then(() =>
      this.#store.addCounters(Object.fromEntries(batch)).catch((error: unknown) => {
        for (const [name, n] of batch) this.add(name, n);
        this.#logger.warn({ err: error }, 'counters for postern stats not stored yet; will retry');
      }),
    );
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
