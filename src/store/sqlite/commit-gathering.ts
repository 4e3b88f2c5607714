/**
 * When the writer thread should wait for more requests before it commits (group commit).
 *
 * Each commit costs an fsync and the WAL frames of the pages every delivery touches (the mailbox's
 * counters, the placement index), whatever the batch holds; on a virtual disk that is most of the
 * writer's CPU. Concurrent sessions deliver a little apart, so a batch taken the moment the writer is
 * free holds only those that happened to arrive. Like MySQL's binlog_group_commit_sync_delay with
 * binlog_group_commit_sync_no_delay_count, the writer then waits a short while, and stops waiting
 * once the batch holds as many requests as the recent batches did: waiting longer would only idle
 * the sessions already in it (docs/benchmarks.md has the measurements).
 *
 * A lone sender's batches hold one request each, so it never waits.
 */

/** The longest a batch waits for more requests; mail's latency budget is seconds, not milliseconds. */
export const GATHER_MS = 1;
/**
 * The writer sleeps in slices this long and looks for new requests in between: a wake-up for every
 * request posted would cost as much CPU as the larger batch saves.
 */
export const GATHER_SLICE_MS = 0.2;
/** Batches average more requests than this when sessions deliver concurrently. */
const CONCURRENT_AVERAGE = 1.5;
/** A batch holding this share of the recent batches' size commits at once. */
const USUAL_SHARE = 0.75;

export class CommitGathering {
  /** Moving average of the requests per batch. */
  #average = 1;
  /** The recent batches' size: the largest, fading so that a past burst stops counting. */
  #usual = 1;

  /** How many requests a batch should hold before it commits; 0: commit at once. */
  enough(): number {
    return this.#average > CONCURRENT_AVERAGE ? Math.ceil(this.#usual * USUAL_SHARE) : 0;
  }

  /** A batch of `size` requests was committed. */
  committed(size: number): void {
    this.#average = 0.8 * this.#average + 0.2 * size;
    this.#usual = Math.max(size, this.#usual * 0.95);
  }
}
