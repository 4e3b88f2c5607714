/**
 * Messages between the main thread (writer-client.ts) and the writer thread (writer-worker.ts).
 * Every value here survives structured cloning: plain objects, strings, numbers, Dates, Uint8Arrays.
 */

import type { CheckedDelivery } from '../delivery-targets.ts';
import type { MigrationOutcome } from '../migrations.ts';
import type { SenderCount } from '../sender-tally.ts';
import type {
  Account,
  ClaimOptions,
  Delivery,
  DeliveryMailbox,
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
  Placement,
  QuarantinedSummary,
  QueueJob,
} from '../store.ts';

/**
 * A delivery as the writer thread stores it, flat: structured cloning costs per object and per
 * property, and every stored message crosses to the writer thread and back.
 */
export interface StoredDelivery {
  mailFrom: string;
  /** The RCPT TO addresses. */
  recipients: string[];
  content: Uint8Array;
  receivedAt: number;
  /** The listing's fields, as summarize() (src/mime/summary.ts) read them. */
  from: string;
  subject: string;
  date: number | null;
  messageId: string | null;
  /** checkDelivery()'s targets (../delivery-targets.ts): each account and its mailbox, index for index. */
  accountIds: number[];
  mailboxes: DeliveryMailbox[];
  flags: string;
}

export function storedDelivery(delivery: Delivery, summary: MessageSummary, checked: CheckedDelivery): StoredDelivery {
  return {
    mailFrom: delivery.mailFrom,
    recipients: delivery.recipients.map((recipient) => recipient.address),
    content: delivery.content,
    receivedAt: delivery.receivedAt.getTime(),
    from: summary.from,
    subject: summary.subject,
    date: summary.date?.getTime() ?? null,
    messageId: summary.messageId,
    accountIds: checked.targets.map((target) => target.accountId),
    mailboxes: checked.targets.map((target) => target.mailbox),
    flags: checked.flags,
  };
}

/** What the writer gives back for a stored delivery: the content's id and [account, mailbox, UID] triples. */
export interface StoredReceipt {
  messageId: number;
  placed: number[];
}

/** The receipt a caller sees; the mailbox names come from the delivery's targets. */
export function receiptOf({ messageId, placed }: StoredReceipt, stored: StoredDelivery): DeliveryReceipt {
  const placements: Placement[] = [];
  for (let i = 0; i + 2 < placed.length; i += 3) {
    const accountId = placed[i] as number;
    const mailbox = stored.mailboxes[stored.accountIds.indexOf(accountId)] ?? 'INBOX';
    placements.push({ accountId, mailboxId: placed[i + 1] as number, mailbox, uid: placed[i + 2] as number });
  }
  return { messageId, placements };
}

export type WriteRequest =
  | ({ id: number; kind: 'deliver' } & StoredDelivery)
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
      deliver?: StoredDelivery;
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
  | ({ id: number; ok: true; kind: 'deliver' } & StoredReceipt)
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
  | { id: number; ok: true; kind: 'releaseQuarantined'; released: boolean; stored?: StoredReceipt; job?: QueueJob }
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
