/**
 * The writer thread: owns the only write connection of this process, so the fsync of each commit
 * blocks this thread and never the server's event loop.
 *
 * Group commit: while a transaction commits, new requests queue on the port. When it is done, the
 * thread takes the next request and every other one already queued (waiting up to a millisecond for
 * the messages of SMTP transactions under way: commit-delay.ts), and writes them all in one
 * transaction — one fsync for the batch — then posts all their results in one message.
 *
 * Loaded with `new Worker(new URL('./writer-worker.ts', import.meta.url))`; Node strips the types.
 */

import path from 'node:path';
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { MemoryReducer } from '../../runtime/memory-reducer.ts';
import type { MigrationOutcome } from '../migrations.ts';
import { StoreError } from '../store.ts';
import { CommitGatherer } from './commit-delay.ts';
import { openConnection } from './connection.ts';
import { FileIdentity } from './file-identity.ts';
import { withFullFileSystem } from './full-file-system.ts';
import { migrateSqlite } from './migrations.ts';
import {
  packReceipts,
  unpackDelivery,
  type WorkerCommand,
  type WorkerMessage,
  type WriteRequest,
  type WriterWorkerData,
} from './protocol.ts';
import { SqliteWriter } from './writes.ts';

function start(port: MessagePort, data: WriterWorkerData): void {
  const post = (message: WorkerMessage) => port.postMessage(message);
  let db: ReturnType<typeof openConnection> | undefined;
  let writer: SqliteWriter;
  let migration: MigrationOutcome;
  const identity = new FileIdentity(data.file);
  try {
    db = openConnection(data.file, { busyTimeoutMs: data.busyTimeoutMs, role: 'writer' });
    migration = migrateSqlite(db, { backupDir: data.backupDir });
    writer = new SqliteWriter(db);
    identity.problem(); // what the file is now, before the first commit
  } catch (error) {
    db?.close();
    const code = error instanceof StoreError ? error.code : undefined;
    post({ type: 'startup-failed', message: withFullFileSystem(error, path.dirname(data.file)), code });
    port.close();
    return;
  }

  /** Set once the file is lost or corrupt: every later request is refused with this, none written. */
  let dead: string | undefined;
  const gatherer = new CommitGatherer(data.commitSignal);
  // The deliveries of a burst (their content copied or moved here) leave this thread's heap grown too.
  const reducer = MemoryReducer.start({ onCollect: (collection) => post({ type: 'memory', ...collection }) });
  port.on('message', (first: WorkerCommand) => {
    const requests: WriteRequest[] = [];
    let closing = false;
    const drain = (command: WorkerCommand | undefined = nextQueued(port)) => {
      for (; command; command = nextQueued(port)) {
        if (command.kind === 'close') {
          closing = true;
          continue;
        }
        gatherer.took(command.requests.length);
        for (const request of command.requests)
          requests.push(Array.isArray(request) ? unpackDelivery(request) : request);
      }
      return requests.length;
    };
    drain(first);
    if (!closing) gatherer.gather(requests.length, drain, () => closing);
    const refuse = (message: string) =>
      post({
        type: 'batch',
        committed: false,
        receipts: new Float64Array(0),
        results: requests.map((request) => ({ id: request.id, ok: false, failure: 'unavailable', message })),
      });
    if (requests.length > 0 && dead !== undefined) refuse(dead);
    else if (requests.length > 0) {
      // Checked before the commit (a change then is rolled back) and after it (one during the commit).
      const { committed, results, broken } = writer.writeBatch(requests, () => identity.problem());
      const lost = broken ?? (committed ? identity.problem() : undefined);
      if (lost !== undefined) {
        // Nothing of this batch is acknowledged, nor anything later (requests already on their way get
        // the same answer): the main thread stops the server.
        dead = `the SQLite store can take no more mail: ${lost}`;
        refuse(dead);
        post({ type: 'fatal', message: dead });
      } else {
        const { receipts, others } = packReceipts(results);
        post({ type: 'batch', committed, receipts, results: others });
      }
    }
    if (closing) {
      reducer?.stop();
      db?.close();
      port.close(); // nothing keeps the thread alive any more: it exits
    }
  });
  post({ type: 'ready', migration });
}

function nextQueued(port: MessagePort): WorkerCommand | undefined {
  return receiveMessageOnPort(port)?.message as WorkerCommand | undefined;
}

if (!parentPort) throw new Error('writer-worker.ts must run as a worker thread');
start(parentPort, workerData as WriterWorkerData);
