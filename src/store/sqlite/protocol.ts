/**
 * Messages between the main thread (writer-client.ts) and the writer thread (writer-worker.ts).
 * Every value here survives structured cloning: plain objects, strings, numbers, Dates, Uint8Arrays.
 */

import type { DeliveryTarget } from '../delivery-targets.ts';
import type { MigrationOutcome } from '../migrations.ts';
import type { SenderCount } from '../sender-tally.ts';
import type {
  Account,
  ClaimOptions,
  Delivery,
  DeliveryReceipt,
  DkimKey,
  DkimKeyState,
  GreylistRequest,
  GreylistResult,
  LoginFailureOptions,
  LoginFailureRecord,
  MessageSummary,
  NewDkimKey,
  NewQuarantined,
  NewQueueJob,
  QuarantinedSummary,
  QueueJob,
} from '../store.ts';

export type WriteRequest =
  /** `targets` and `flags` as checkDelivery() (../delivery-targets.ts) gave them. */
  | {
      id: number;
      kind: 'deliver';
      delivery: Delivery;
      summary: MessageSummary;
      targets: DeliveryTarget[];
      flags: string;
    }
  | { id: number; kind: 'createAccount'; address: string; passwordHash: string; scram: string | null; createdAt: Date }
  | { id: number; kind: 'removeAccount'; address: string }
  | { id: number; kind: 'setPassword'; address: string; passwordHash: string; scram: string | null }
  | { id: number; kind: 'setDisabled'; address: string; disabled: boolean }
  | { id: number; kind: 'addAlias'; alias: string; account: string; createdAt: Date }
  | { id: number; kind: 'removeAlias'; alias: string }
  | { id: number; kind: 'recordLoginFailure'; key: string; options: LoginFailureOptions }
  | { id: number; kind: 'clearLoginFailures'; key: string }
  | { id: number; kind: 'enqueueJob'; job: NewQueueJob; now: Date }
  | { id: number; kind: 'claimJobs'; options: ClaimOptions & { now: Date } }
  | { id: number; kind: 'completeJob'; jobId: number; claimant: string }
  | { id: number; kind: 'rescheduleJob'; jobId: number; claimant: string; dueAt: Date }
  /** Sorted by name (../counters.ts). */
  | { id: number; kind: 'addCounters'; entries: [string, number][] }
  | { id: number; kind: 'greylist'; request: GreylistRequest }
  | { id: number; kind: 'addDkimKey'; key: NewDkimKey; createdAt: Date }
  | { id: number; kind: 'setDkimKeyState'; keyId: number; state: DkimKeyState; now: Date; retireAfter?: Date }
  /** `header`: From and Subject as summarize() (src/mime/summary.ts) read them on the main thread. */
  | { id: number; kind: 'quarantine'; message: NewQuarantined; header: Pick<MessageSummary, 'from' | 'subject'> }
  | { id: number; kind: 'removeQuarantined'; quarantineId: number }
  /** `deliver` as in a 'deliver' request; `now` dates the job. */
  | {
      id: number;
      kind: 'releaseQuarantined';
      quarantineId: number;
      deliver?: { delivery: Delivery; summary: MessageSummary; targets: DeliveryTarget[]; flags: string };
      job?: NewQueueJob;
      now: Date;
    }
  /** Summed and sorted by ../sender-tally.ts. */
  | { id: number; kind: 'recordSenders'; counts: SenderCount[] };

/** Why one request failed; the main thread turns it into the matching StoreError class. */
export type WriteFailure =
  | 'account-exists'
  | 'alias-exists'
  | 'no-account'
  | 'no-recipient-account'
  | 'dkim-key-exists'
  | 'unavailable';

export type WriteResult =
  | { id: number; ok: true; kind: 'deliver'; receipt: DeliveryReceipt }
  | { id: number; ok: true; kind: 'createAccount'; account: Account }
  | { id: number; ok: true; kind: 'removeAccount'; removed: boolean }
  | { id: number; ok: true; kind: 'setPassword' | 'setDisabled' | 'removeAlias'; done: boolean }
  | { id: number; ok: true; kind: 'addAlias' | 'clearLoginFailures' }
  | { id: number; ok: true; kind: 'recordLoginFailure'; record: LoginFailureRecord }
  | { id: number; ok: true; kind: 'enqueueJob'; job: QueueJob }
  | { id: number; ok: true; kind: 'claimJobs'; jobs: QueueJob[] }
  | { id: number; ok: true; kind: 'completeJob' | 'rescheduleJob'; done: boolean }
  | { id: number; ok: true; kind: 'addCounters' }
  | { id: number; ok: true; kind: 'greylist'; result: GreylistResult }
  | { id: number; ok: true; kind: 'addDkimKey'; key: DkimKey }
  | { id: number; ok: true; kind: 'setDkimKeyState' | 'removeQuarantined'; done: boolean }
  | { id: number; ok: true; kind: 'quarantine'; summary: QuarantinedSummary }
  | { id: number; ok: true; kind: 'recordSenders' }
  | { id: number; ok: true; kind: 'releaseQuarantined'; released: boolean; receipt?: DeliveryReceipt; job?: QueueJob }
  | { id: number; ok: false; failure: WriteFailure; message: string };

/**
 * What the main thread sends: the write requests of one event-loop turn in one message (one
 * wake-up of the writer thread for many sessions), and a last request to close the connection.
 */
export type WorkerCommand = { kind: 'requests'; requests: WriteRequest[] } | { kind: 'close' };

export type WorkerMessage =
  | { type: 'ready'; migration: MigrationOutcome }
  /** `code` carries a StoreError's code (SCHEMA_TOO_NEW) so the main thread can rethrow its class. */
  | { type: 'startup-failed'; message: string; code?: string }
  /** One transaction: the results of every request written in it; `committed` is false when it failed. */
  | { type: 'batch'; committed: boolean; results: WriteResult[] };

export interface WriterWorkerData {
  file: string;
  busyTimeoutMs: number;
  /** Where a populated database is copied before a migration changes it. */
  backupDir: string;
}
