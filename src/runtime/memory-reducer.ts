/**
 * Gives memory back once a thread has gone quiet: a full garbage collection that also shrinks V8's
 * young generation and releases its pooled pages to the system.
 *
 * Why: V8 grows a thread's young generation (up to the semi-space size bin/postern sets) and keeps
 * the pages of a burst of mail when the burst is over. Left alone, a server that took a burst and
 * then sits with idle connections holds 15–20 MB it no longer uses; V8 only shrinks when it collects,
 * and an idle thread allocates nothing to make it collect. Browsers run a "memory reducer" for the
 * same reason when a tab goes quiet; Node.js does not, so each of our long-lived threads (the event
 * loop and the SQLite writer) runs this one. docs/benchmarks.md (twenty-fourth session) has the
 * figures.
 *
 * The collection is V8's last-resort one (`gc({ flavor: 'last-resort' })`: several full passes with
 * the memory-footprint flag, the young generation shrunk, pooled pages unmapped). It blocks the
 * thread for some tens of milliseconds, so it runs only when the thread's event loop has been nearly
 * idle for QUIET_CHECKS checks in a row, and again only after the thread's heap has grown by REGROW_BYTES
 * since: a server that receives a message now and then does not collect after each one.
 */

import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

type Collect = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** How often the thread's load is looked at. */
export const CHECK_MS = 1000;
/** Checks in a row with the event loop busy less than QUIET_UTILIZATION of the time: then it collects. */
export const QUIET_CHECKS = 2;
const QUIET_UTILIZATION = 0.02;
/** Growth of the heap (V8's pages and the memory its buffers hold) that makes another collection worth it. */
export const REGROW_BYTES = 4 * 1024 * 1024;

/** V8's `gc` function, made available to this code only (no global `gc` for any other module). */
function collector(): Collect | undefined {
  try {
    // The flag is process-wide and only adds the extension to contexts made after it: a fresh one here.
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as Collect) : undefined;
  } catch {
    return undefined;
  }
}

/** What this thread's heap holds: V8's pages and the memory outside them that its objects keep. */
function heapBytes(): number {
  const heap = v8.getHeapStatistics();
  return heap.total_physical_size + heap.external_memory;
}

/** One collection: this thread's heap (bytes) before and after, and how long it blocked the thread. */
export interface Collection {
  before: number;
  after: number;
  ms: number;
}

export interface ReducerOptions {
  checkMs?: number;
  quietChecks?: number;
  regrowBytes?: number;
  /** Told after each collection. */
  onCollect?: (collection: Collection) => void;
}

export class MemoryReducer {
  readonly #collect: Collect;
  readonly #timer: NodeJS.Timeout;
  readonly #quietChecks: number;
  readonly #regrowBytes: number;
  readonly #onCollect: ReducerOptions['onCollect'];
  #utilization: EventLoopUtilization;
  #quiet = 0;
  /** The heap's size after the last collection; zero before the first, so the start's garbage goes too. */
  #floor = 0;
  collections = 0;

  private constructor(collect: Collect, options: ReducerOptions) {
    this.#collect = collect;
    this.#quietChecks = options.quietChecks ?? QUIET_CHECKS;
    this.#regrowBytes = options.regrowBytes ?? REGROW_BYTES;
    this.#onCollect = options.onCollect;
    this.#utilization = performance.eventLoopUtilization();
    this.#timer = setInterval(() => this.#check(), options.checkMs ?? CHECK_MS);
    this.#timer.unref(); // never what keeps a thread alive
  }

  /** Starts watching this thread; undefined where V8 will not hand out its collector. */
  static start(options: ReducerOptions = {}): MemoryReducer | undefined {
    const collect = collector();
    return collect ? new MemoryReducer(collect, options) : undefined;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, this.#utilization).utilization;
    this.#utilization = now;
    this.#quiet = busy < QUIET_UTILIZATION ? this.#quiet + 1 : 0;
    if (this.#quiet < this.#quietChecks) return;
    const before = heapBytes();
    if (before < this.#floor + this.#regrowBytes) return;
    const started = performance.now();
    this.#collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const after = heapBytes();
    this.#floor = after;
    this.#quiet = 0;
    this.collections++;
    // The collection itself must not count as the next interval's load.
    this.#utilization = performance.eventLoopUtilization();
    this.#onCollect?.({ before, after, ms: performance.now() - started });
  }
}
