/**
 * Sender history is written once per message, beside the delivery: recordSenders() calls made in
 * one event-loop turn (and while the previous write is in flight) are summed here and written as
 * one statement, so the tally costs the delivery path neither a transaction nor a round trip each.
 * Both engines use it; each gives the `write` that stores a batch.
 */

/** One address's share of a batch: how many messages, and the earliest time among them. */
export interface SenderCount {
  address: string;
  count: number;
  firstSeen: number; // ms since the epoch
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

export class SenderTally {
  readonly #write: (counts: SenderCount[]) => Promise<void>;
  #pending = new Map<string, SenderCount>();
  #waiters: Waiter[] = [];
  #scheduled = false;
  #inFlight: Promise<void> | undefined;

  constructor(write: (counts: SenderCount[]) => Promise<void>) {
    this.#write = write;
  }

  /** Resolves once the batch holding these addresses is committed. */
  record(addresses: readonly string[], at: Date): Promise<void> {
    const distinct = new Set(addresses.map((address) => address.toLowerCase()).filter((address) => address !== ''));
    if (distinct.size === 0) return Promise.resolve();
    const time = at.getTime();
    for (const address of distinct) {
      const counted = this.#pending.get(address);
      if (counted) {
        counted.count++;
        counted.firstSeen = Math.min(counted.firstSeen, time);
      } else {
        this.#pending.set(address, { address, count: 1, firstSeen: time });
      }
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          void this.#flush();
        });
      }
    });
  }

  /** Writes what is pending now and waits for every write started so far. */
  async drain(): Promise<void> {
    while (this.#inFlight || this.#waiters.length > 0) {
      if (this.#inFlight) await this.#inFlight.catch(() => {});
      else await this.#flush();
    }
  }

  /** One write at a time: counts that pile up meanwhile go in the next one. */
  async #flush(): Promise<void> {
    if (this.#inFlight || this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    // Sorted: concurrent writers (other nodes) lock the rows in one order and never deadlock.
    const counts = [...this.#pending.values()].sort((a, b) => (a.address < b.address ? -1 : 1));
    this.#waiters = [];
    this.#pending = new Map();
    const written = this.#write(counts);
    this.#inFlight = written.then(
      () => {},
      () => {},
    );
    try {
      await written;
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
    } finally {
      this.#inFlight = undefined;
      if (this.#waiters.length > 0) void this.#flush();
    }
  }
}
