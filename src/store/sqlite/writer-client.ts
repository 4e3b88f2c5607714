/**
 * The main thread's side of the writer thread: posts write requests, matches results to callers,
 * and makes sure no caller is ever told "written" unless the writer committed it.
 *
 * If the thread dies or fails to commit, every pending promise rejects with StoreUnavailableError,
 * and so does every later request: an SMTP session then answers 451 and the sender retries.
 */

import { Worker } from 'node:worker_threads';
import type { Collection } from '../../runtime/memory-reducer.ts';
import type { MigrationOutcome } from '../migrations.ts';
import {
  AccountExistsError,
  AliasExistsError,
  DkimKeyExistsError,
  DkimKeyStateTakenError,
  NoSuchAccountError,
  RecipientsGoneError,
  SchemaTooNewError,
  type StoreError,
  StoreFullError,
  type StoreStats,
  StoreUnavailableError,
} from '../store.ts';
import { CommitSignal } from './commit-delay.ts';
import {
  type DeliveryTuple,
  packDelivery,
  type StoredDelivery,
  unpackReceipts,
  type WorkerCommand,
  type WorkerMessage,
  type WriteFailure,
  type WriteRequest,
  type WriteResult,
  type WriterWorkerData,
} from './protocol.ts';

/** A request before the client numbers it. Distributes over the union, keeping each kind's fields. */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;
export type WriteCommand = Unnumbered<WriteRequest>;
export type WriteSuccess = Extract<WriteResult, { ok: true }>;

interface Pending {
  resolve(result: WriteSuccess): void;
  reject(error: Error): void;
}

export class WriterClient {
  readonly #worker: Worker;
  readonly #signal: CommitSignal;
  readonly #pending = new Map<number, Pending>();
  readonly #stats: StoreStats = { commits: 0, deliveries: 0 };
  readonly #exited: Promise<void>;
  #nextId = 1;
  #failure: StoreUnavailableError | undefined;
  /** Requests of this event-loop turn, posted together once the turn's I/O is handled. */
  #outbox: (WriteRequest | DeliveryTuple)[] = [];
  /** Memory of requests in the outbox that moves to the thread instead of being copied (deliver()). */
  #moving: ArrayBuffer[] = [];
  #flushScheduled = false;
  #closing = false;
  /** Told once when the store can take no more writes while open: the thread died, or its file is gone. */
  #onFatal: ((error: StoreUnavailableError) => void) | undefined;
  #onMemory: ((collection: Collection) => void) | undefined;

  /** What opening the database migrated, if anything. */
  readonly migration: MigrationOutcome;

  private constructor(worker: Worker, migration: MigrationOutcome, signal: CommitSignal) {
    this.#worker = worker;
    this.#signal = signal;
    this.migration = migration;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'fatal') {
        this.#fatal(new StoreUnavailableError(message.message));
        return;
      }
      if (message.type === 'memory') {
        const { before, after, ms } = message;
        this.#onMemory?.({ before, after, ms });
        return;
      }
      if (message.type !== 'batch') return;
      if (message.committed) this.#stats.commits++;
      this.#settle(unpackReceipts(message.receipts));
      this.#settle(message.results);
    });
    worker.on('error', (error) =>
      this.#fatal(new StoreUnavailableError(`store writer thread crashed: ${error.message}`, { cause: error })),
    );
    worker.on('exit', (code) => {
      const error = new StoreUnavailableError(`store writer thread exited (code ${code})`);
      if (this.#closing) this.#fail(error);
      else this.#fatal(error);
    });
  }

  /** Starts the thread and resolves once it has opened the database and applied the schema. */
  static async start(options: Omit<WriterWorkerData, 'commitSignal'>): Promise<WriterClient> {
    const signal = new CommitSignal();
    const data: WriterWorkerData = { ...options, commitSignal: signal.buffer };
    // From a checkout Node runs the .ts source; an installed package runs the compiled .js (dist/).
    const file = import.meta.url.endsWith('.ts') ? './writer-worker.ts' : './writer-worker.js';
    const worker = new Worker(new URL(file, import.meta.url), { workerData: data });
    const outcome = await new Promise<WorkerMessage | Error>((resolve) => {
      const settle = (value: WorkerMessage | Error) => {
        // Only our own listeners: Worker keeps internal ones that removeAllListeners() would break.
        worker.off('message', settle).off('error', settle).off('exit', onExit);
        resolve(value);
      };
      const onExit = (code: number) => settle(new Error(`writer thread exited during startup (code ${code})`));
      worker.on('message', settle).on('error', settle).on('exit', onExit);
    });
    if (outcome instanceof Error || outcome.type !== 'ready') {
      await worker.terminate();
      if (!(outcome instanceof Error) && outcome.type === 'startup-failed' && outcome.code === 'SCHEMA_TOO_NEW') {
        throw new SchemaTooNewError(outcome.message);
      }
      const reason =
        outcome instanceof Error ? outcome.message : outcome.type === 'startup-failed' ? outcome.message : '';
      throw new StoreUnavailableError(`cannot open the SQLite store ${data.file}: ${reason}`, { cause: outcome });
    }
    return new WriterClient(worker, outcome.migration, signal);
  }

  /** Where to say that the store failed for good while open (the server stops, for a supervisor to restart it). */
  onFatal(listener: (error: StoreUnavailableError) => void): void {
    this.#onFatal = listener;
  }

  /** Where to say that the thread went quiet and gave memory back. */
  onMemory(listener: (collection: Collection) => void): void {
    this.#onMemory = listener;
  }

  get stats(): StoreStats {
    return { ...this.#stats };
  }

  /** Resolves when the request is committed and synced; rejects when it is not. */
  write(command: WriteCommand): Promise<WriteSuccess> {
    const id = this.#nextId++;
    return this.#post(id, { ...command, id } as WriteRequest);
  }

  /** write() for a delivery, the request every stored message makes: packed for the hand-over. */
  deliver(stored: StoredDelivery, move = false): Promise<WriteSuccess> {
    const id = this.#nextId++;
    // Its own ArrayBuffer whole (exactBytes()), never a slice of Node's shared pool, which a transfer
    // would take from every other Buffer in it.
    if (move) this.#moving.push(stored.content.buffer as ArrayBuffer);
    return this.#post(id, packDelivery(id, stored));
  }

  #post(id: number, request: WriteRequest | DeliveryTuple): Promise<WriteSuccess> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<WriteSuccess>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#outbox.push(request);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // setImmediate runs after the poll phase: every session served in this turn is in the batch.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const requests = this.#outbox;
    const moving = [...new Set(this.#moving)];
    this.#outbox = [];
    this.#moving = [];
    if (requests.length === 0 || this.#failure) return;
    this.#worker.postMessage({ kind: 'requests', requests } satisfies WorkerCommand, moving);
    this.#signal.posted(requests.length);
  }

  /** The mail transactions under way, for the thread's commit delay (commit-delay.ts). */
  transactionsUnderWay(count: number): void {
    this.#signal.underWay(count);
  }

  /** Asks the thread to close its connection once the queue is written, and waits for it to exit. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#flush();
    // Also after a failure: a thread that refuses writes (its file lost) still waits for this to exit;
    // one that has exited ignores it.
    this.#worker.postMessage({ kind: 'close' } satisfies WorkerCommand);
    this.#signal.wake();
    await this.#exited;
  }

  /** Kills the thread as a crash would, failing every pending request at once. For failure tests. */
  async crash(): Promise<void> {
    this.#fatal(new StoreUnavailableError('store writer thread was terminated'));
    this.#closing = true; // the exit that follows is this one
    await this.#worker.terminate();
  }

  #settle(results: readonly WriteResult[]): void {
    for (const result of results) {
      const pending = this.#pending.get(result.id);
      if (!pending) continue; // already failed by a crash: the caller was told "not written"
      this.#pending.delete(result.id);
      if (result.ok) {
        if (result.kind === 'deliver') this.#stats.deliveries++;
        pending.resolve(result);
      } else {
        pending.reject(errorFor(result.failure, result.message));
      }
    }
  }

  #fatal(error: StoreUnavailableError): void {
    const first = this.#failure === undefined;
    this.#fail(error);
    if (first && !this.#closing) this.#onFatal?.(error);
  }

  #fail(error: StoreUnavailableError): void {
    this.#failure ??= error;
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
  }
}

function errorFor(failure: WriteFailure, message: string): StoreError {
  switch (failure) {
    case 'account-exists':
      return new AccountExistsError(message);
    case 'alias-exists':
      return new AliasExistsError(message);
    case 'no-account':
      return new NoSuchAccountError(message);
    case 'no-recipient-account':
      return new RecipientsGoneError(message);
    case 'dkim-key-exists':
      return new DkimKeyExistsError(message);
    case 'dkim-key-state-taken':
      return new DkimKeyStateTakenError(message);
    case 'storage-full':
      return new StoreFullError(message);
    case 'unavailable':
      return new StoreUnavailableError(message);
    default:
      return failure satisfies never;
  }
}
