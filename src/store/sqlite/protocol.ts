/**
 * Messages between the main thread (writer-client.ts) and the writer thread (writer-worker.ts).
 * Every value here survives structured cloning: plain objects, strings, numbers, Dates, Uint8Arrays.
 */

import type { Account, Delivery, DeliveryReceipt, MessageSummary } from '../store.ts';

export type WriteRequest =
  | { id: number; kind: 'deliver'; delivery: Delivery; summary: MessageSummary }
  | { id: number; kind: 'createAccount'; address: string; passwordHash: string; createdAt: Date }
  | { id: number; kind: 'removeAccount'; address: string };

/** Why one request failed; the main thread turns it into the matching StoreError class. */
export type WriteFailure = 'account-exists' | 'no-recipient-account' | 'unavailable';

export type WriteResult =
  | { id: number; ok: true; kind: 'deliver'; receipt: DeliveryReceipt }
  | { id: number; ok: true; kind: 'createAccount'; account: Account }
  | { id: number; ok: true; kind: 'removeAccount'; removed: boolean }
  | { id: number; ok: false; failure: WriteFailure; message: string };

/**
 * What the main thread sends: the write requests of one event-loop turn in one message (one
 * wake-up of the writer thread for many sessions), and a last request to close the connection.
 */
export type WorkerCommand = { kind: 'requests'; requests: WriteRequest[] } | { kind: 'close' };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'startup-failed'; message: string }
  /** One transaction: the results of every request written in it; `committed` is false when it failed. */
  | { type: 'batch'; committed: boolean; results: WriteResult[] };

export interface WriterWorkerData {
  file: string;
  busyTimeoutMs: number;
}
