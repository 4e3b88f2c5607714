/**
 * Commit delay: when recent commits carried the writes of several sessions, the writer thread waits a
 * moment (at most COMMIT_DELAY_MS) for as many before it commits again, so that they share one
 * transaction and one fsync instead of trickling in by twos and threes.
 *
 * Why: a commit costs the same whatever it carries (the WAL's pages, the fsync, the virtual disk's
 * notification, a wake-up of each thread), and on a machine whose fsync is quick the batches stay
 * small: the writer is idle again before most sessions have sent their next message. PostgreSQL's
 * commit_delay with commit_siblings does the same for the same reason. With one session at a time
 * nothing waits: the last batch was one write, so none is expected. With smtp-source's 20 sessions this
 * took the server's CPU per message from ~160 to ~115 µs (docs/benchmarks.md, twenty-second session).
 *
 * The two threads share two counters: how many writes the main thread has posted, and how many the
 * writer waits for. The main thread wakes the writer only when that many have been posted, so a
 * delayed commit costs the writer one wake-up, not one per session.
 */

/** The longest a write waits for others to share its commit: far below any SMTP client's timeout. */
export const COMMIT_DELAY_MS = 1;

/**
 * How many batches back the expected size looks. After the load drops, at most this many commits wait
 * in vain before none is expected any more.
 */
const RECENT_BATCHES = 16;

const POSTED = 0;
const WANTED = 1;

/** Differences of the wrapping 32-bit counters, right as long as fewer than 2^31 writes are in flight. */
function reached(count: number, target: number): boolean {
  return ((count - target) | 0) >= 0;
}

/** The main thread's side: counts what it posts, and wakes a waiting writer once enough has come. */
export class CommitSignal {
  readonly buffer: SharedArrayBuffer;
  readonly #cells: Int32Array;

  /** A buffer of its own, or (in tests) one another thread's signal counts in. */
  constructor(buffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)) {
    this.buffer = buffer;
    this.#cells = new Int32Array(buffer);
  }

  /** Call after postMessage, so that the writer finds the writes on its port when it sees the count. */
  posted(writes: number): void {
    const total = (Atomics.add(this.#cells, POSTED, writes) + writes) | 0;
    if (reached(total, Atomics.load(this.#cells, WANTED))) Atomics.notify(this.#cells, POSTED);
  }
}

/** The writer thread's side: decides whether to wait, and waits. */
export class CommitGatherer {
  readonly #cells: Int32Array;
  readonly #delayMs: number;
  /** Writes taken off the port so far (wrapping like the main thread's count). */
  #taken = 0;
  /** The sizes of the last batches: a batch cut short by the delay does not lower what is expected. */
  readonly #recent = new Array<number>(RECENT_BATCHES).fill(0);
  #next = 0;

  constructor(buffer: SharedArrayBuffer, delayMs = COMMIT_DELAY_MS) {
    this.#cells = new Int32Array(buffer);
    this.#delayMs = delayMs;
    this.#noneWanted();
  }

  /** Nobody waits: spares the main thread its notify() calls until the next wait. */
  #noneWanted(): void {
    Atomics.store(this.#cells, WANTED, (this.#taken + 0x40000000) | 0);
  }

  /** Counts writes taken off the port. */
  took(writes: number): void {
    this.#taken = (this.#taken + writes) | 0;
  }

  /**
   * Waits, up to the delay, until the batch holds as many writes as the largest recent one; `drain` takes
   * whatever is on the port (calling took()) and returns the batch's size so far.
   */
  gather(batch: number, drain: () => number): number {
    const expected = Math.max(...this.#recent);
    if (expected > 1 && batch < expected) {
      const deadline = performance.now() + this.#delayMs;
      while (batch < expected) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        const posted = Atomics.load(this.#cells, POSTED);
        // Otherwise posted but not yet taken: on the port already (posted() runs after postMessage).
        if (posted === this.#taken) {
          Atomics.store(this.#cells, WANTED, (this.#taken + expected - batch) | 0);
          // Returns at once if a write was posted since the load above: no wake-up is lost.
          Atomics.wait(this.#cells, POSTED, posted, left);
        }
        batch = drain();
      }
      this.#noneWanted();
    }
    this.#recent[this.#next] = batch;
    this.#next = (this.#next + 1) % this.#recent.length;
    return batch;
  }
}
