/**
 * Sender history is written once per message, beside the delivery: recordSenders() and
 * recordCorrespondentDomains() calls made in one event-loop turn (and while the previous write is in
 * flight) are summed here and written as one request, so the tally costs the delivery path neither
 * a transaction nor a round trip each. Both engines use it; each gives the `write` that stores a batch.
 *
 * A write now and then also carries a sweep: rows unseen for SENDER_HISTORY_RETENTION_MS go, at most
 * SENDER_SWEEP_BATCH of each table per write, as greylisting sweeps its triplets beside its
 * decisions. Without it every address that ever wrote (each VERP bounce address is a new one)
 * stayed for good.
 */

/** Rows of `senders` and `correspondent_domains` not seen for this long are removed: 400 days. */
export const SENDER_HISTORY_RETENTION_MS = 400 * 86_400_000;
/** At most this many rows of each table per sweep: a backlog goes in short writes, not one long one. */
export const SENDER_SWEEP_BATCH = 500;
/** A sweep at most this often, by the clock of the messages recorded (their `at`). */
export const SENDER_SWEEP_INTERVAL_MS = 3_600_000;

/** One key's share of a batch (an address, or a domain): how many messages, and the times among them. */
export interface SenderCount {
  key: string;
  count: number;
  firstSeen: number; // ms since the epoch
  lastSeen: number;
}

/** What one write stores: address and domain tallies, each sorted, and maybe a sweep. */
export interface SenderBatch {
  senders: SenderCount[];
  domains: SenderCount[];
  /** Remove at most `limit` rows of each table last seen before `before` (ms since the epoch). */
  sweep?: { before: number; limit: number };
}

/** What a write's sweep removed (0 and 0 without one). */
export interface SweepResult {
  senders: number;
  domains: number;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

export class SenderTally {
  readonly #write: (batch: SenderBatch) => Promise<SweepResult>;
  #senders = new Map<string, SenderCount>();
  #domains = new Map<string, SenderCount>();
  #waiters: Waiter[] = [];
  #scheduled = false;
  #inFlight: Promise<void> | undefined;
  /** The message time from which the next write sweeps; the first write of a store sweeps. */
  #nextSweep = Number.NEGATIVE_INFINITY;

  constructor(write: (batch: SenderBatch) => Promise<SweepResult>) {
    this.#write = write;
  }

  /** One message for each distinct address; resolves once the batch holding them is committed. */
  record(addresses: readonly string[], at: Date): Promise<void> {
    return this.#add(this.#senders, addresses, at);
  }

  /** One message for each distinct domain (registrable, A-label: the caller's), as record(). */
  recordDomains(domains: readonly string[], at: Date): Promise<void> {
    return this.#add(this.#domains, domains, at);
  }

  #add(pending: Map<string, SenderCount>, keys: readonly string[], at: Date): Promise<void> {
    const distinct = new Set(keys.map((key) => key.toLowerCase()).filter((key) => key !== ''));
    if (distinct.size === 0) return Promise.resolve();
    const time = at.getTime();
    for (const key of distinct) {
      const counted = pending.get(key);
      if (counted) {
        counted.count++;
        counted.firstSeen = Math.min(counted.firstSeen, time);
        counted.lastSeen = Math.max(counted.lastSeen, time);
      } else {
        pending.set(key, { key, count: 1, firstSeen: time, lastSeen: time });
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
    const sorted = (pending: Map<string, SenderCount>) =>
      [...pending.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
    const batch: SenderBatch = { senders: sorted(this.#senders), domains: sorted(this.#domains) };
    const now = Math.max(...batch.senders.map((c) => c.lastSeen), ...batch.domains.map((c) => c.lastSeen));
    const sweeping = now >= this.#nextSweep;
    if (sweeping) {
      batch.sweep = { before: now - SENDER_HISTORY_RETENTION_MS, limit: SENDER_SWEEP_BATCH };
      this.#nextSweep = now + SENDER_SWEEP_INTERVAL_MS; // a sweep that fails is not retried at once
    }
    this.#waiters = [];
    this.#senders = new Map();
    this.#domains = new Map();
    const written = this.#write(batch);
    this.#inFlight = written.then(
      () => {},
      () => {},
    );
    try {
      const swept = await written;
      // A full batch leaves a backlog (a store down for long, the first sweep of old history): the
      // next write takes the next batch.
      if (sweeping && (swept.senders >= SENDER_SWEEP_BATCH || swept.domains >= SENDER_SWEEP_BATCH)) {
        this.#nextSweep = Number.NEGATIVE_INFINITY;
      }
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
    } finally {
      this.#inFlight = undefined;
      if (this.#waiters.length > 0) void this.#flush();
    }
  }
}
