/**
 * Commit delay: when SMTP sessions have mail transactions under way whose messages are not yet in the
 * batch, the writer thread waits a moment (at most COMMIT_DELAY_MS) for them before it commits, so
 * that they share one transaction and one fsync instead of trickling in by twos and threes.
 *
 * Why: a commit costs the same whatever it carries (the WAL's pages, the fsync, the virtual disk's
 * notification, a wake-up of each thread), and on a machine whose fsync is quick the batches stay
 * small: the writer is idle again before most sessions have sent their next message. PostgreSQL's
 * commit_delay does the same, and like its commit_siblings it waits only when other transactions are
 * open: here, the listeners' count of mail transactions whose sessions sent something lately
 * (src/smtp/transaction-gauge.ts). A lone session never waits, nor does a write no session is about
 * to follow (the CLI, the tests' stores), and a wait ends as soon as every counted transaction has
 * posted its message or ended without one. A wait that gains nothing (the sessions counted are
 * thinking) makes the next commits skip theirs. docs/benchmarks.md (twenty-second session) has the
 * measurements.
 *
 * The two threads share four counters: the writes the main thread has posted, the writes taken less
 * the batch while the writer waits, the transactions under way, and a count of the main thread's
 * events. The main thread wakes the writer only when what it waits for is there (every transaction
 * under way has posted its write or ended without one, in any order), so a delayed commit costs the
 * writer one wake-up.
 */

/** The longest a write waits for others to share its commit: far below any SMTP client's timeout. */
export const COMMIT_DELAY_MS = 1;

const POSTED = 0;
/**
 * The writes taken less the batch's size while the writer waits: it has all it waits for once
 * POSTED − BASE ≥ UNDER_WAY, whichever of the two moved (posts, or transactions ending without one).
 */
const BASE = 1;
const UNDER_WAY = 2;
/** Changed by every event of the main thread's: the writer sleeps on it, so no event is missed. */
const EVENTS = 3;
const CELLS = 4;

/** After a wait in vain, this many commits do not wait; twice as many after each further one in a row. */
const FIRST_SKIPPED = 8;
const MAX_SKIPPED = 256;

/** Far ahead of any count: nothing is waited for. */
const NEVER = 0x40000000;

/** Differences of the wrapping 32-bit counters, right as long as fewer than 2^31 writes are in flight. */
function reached(count: number, target: number): boolean {
  return ((count - target) | 0) >= 0;
}

/** The main thread's side: counts what it posts and the transactions under way, and wakes a waiting writer. */
export class CommitSignal {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;

  /** A buffer of its own, or (in tests) one another thread's signal counts in. */
  constructor(buffer = new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.#cells = new Int32Array(buffer);
  }

  /** Call after postMessage, so that the writer finds the writes on its port when it sees the count. */
  posted(writes: number): void {
    Atomics.add(this.#cells, POSTED, writes);
    Atomics.add(this.#cells, EVENTS, 1);
    this.#wakeIfDone();
  }

  /** How many mail transactions are under way now (TransactionGauge). */
  underWay(transactions: number): void {
    Atomics.store(this.#cells, UNDER_WAY, transactions);
    Atomics.add(this.#cells, EVENTS, 1);
    this.#wakeIfDone();
  }

  #wakeIfDone(): void {
    const needed = (Atomics.load(this.#cells, BASE) + Atomics.load(this.#cells, UNDER_WAY)) | 0;
    if (reached(Atomics.load(this.#cells, POSTED), needed)) Atomics.notify(this.#cells, EVENTS);
  }

  /** Wakes a waiting writer whatever it waits for: the close request behind this must not wait out the delay. */
  wake(): void {
    Atomics.add(this.#cells, EVENTS, 1);
    Atomics.notify(this.#cells, EVENTS);
  }
}

/** The writer thread's side: decides whether to wait, and waits. */
export class CommitGatherer {
  readonly #cells: Int32Array;
  readonly #delayMs: number;
  /** Writes taken off the port so far (wrapping like the main thread's count). */
  #taken = 0;
  /** Commits that will not wait after a wait in vain, and how many the next wait in vain skips. */
  #skip = 0;
  #skipAfterVain = FIRST_SKIPPED;

  constructor(buffer: SharedArrayBuffer, delayMs = COMMIT_DELAY_MS) {
    this.#cells = new Int32Array(buffer);
    this.#delayMs = delayMs;
    this.#waitForNothing();
  }

  /** Counts writes taken off the port. */
  took(writes: number): void {
    this.#taken = (this.#taken + writes) | 0;
  }

  /**
   * Waits, at most the delay, while more transactions are under way than the batch holds writes.
   * `drain` takes whatever is on the port (calling took()) and returns the batch's size so far;
   * `closing` ends the wait at once.
   */
  gather(batch: number, drain: () => number, closing: () => boolean = () => false): number {
    if (Atomics.load(this.#cells, UNDER_WAY) <= batch) return batch;
    if (this.#skip > 0) {
      this.#skip--;
      return batch;
    }
    const before = batch;
    const deadline = performance.now() + this.#delayMs;
    let ranOut = false;
    for (;;) {
      // Read first: anything the main thread does after this changes it, and the wait below returns.
      const events = Atomics.load(this.#cells, EVENTS);
      const underWay = Atomics.load(this.#cells, UNDER_WAY);
      if (underWay <= batch || closing()) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        ranOut = true;
        break;
      }
      // Otherwise posted but not yet taken: on the port already (posted() runs after postMessage).
      if (Atomics.load(this.#cells, POSTED) === this.#taken) {
        Atomics.store(this.#cells, BASE, (this.#taken - batch) | 0);
        Atomics.wait(this.#cells, EVENTS, events, left);
      }
      batch = drain();
    }
    this.#waitForNothing();
    if (ranOut && batch === before) {
      // A wait in vain: the transactions counted are not sending (a client thinking between commands,
      // or stuck in its DATA). The next commits do not wait, more of them after each wait in vain in a
      // row, so that a session delivering beside such clients is not slowed by a millisecond a message.
      this.#skip = this.#skipAfterVain;
      this.#skipAfterVain = Math.min(this.#skipAfterVain * 2, MAX_SKIPPED);
    } else this.#skipAfterVain = FIRST_SKIPPED;
    return batch;
  }

  /** Nobody waits: spares the main thread its notify() calls until the next wait. */
  #waitForNothing(): void {
    Atomics.store(this.#cells, BASE, (this.#taken + NEVER) | 0);
  }
}
