/**
 * The store contract: the operations the server needs, not SQL. Every engine (sqlite/ now,
 * postgres/ next) implements it and runs the same contract suite in test/store/.
 *
 * Mailboxes are IMAP-ready (RFC 9051 §2.3.1.1 UIDs, RFC 7162 §3.1 modification sequences):
 * a mailbox has a UIDVALIDITY fixed at creation, a strictly increasing UIDNEXT and HIGHESTMODSEQ.
 * One stored copy of message content is shared by all its recipients.
 *
 * Special-use mailboxes (RFC 6154 §2): a delivery may go to the account's `Junk` mailbox instead
 * of its INBOX; the store creates `Junk`, marked `\Junk`, the first time it is needed.
 */

import type { MessageSummary } from '../mime/summary.ts';

/** Header facts the listing needs; each engine derives them from the content with summarize(). */
export type { MessageSummary };

export type AccountId = number;
export type MailboxId = number;

export interface Account {
  id: AccountId;
  address: string; // lower-cased local@domain
  passwordHash: string; // PHC string, argon2id
  /**
   * SCRAM-SHA-256 credentials in RFC 5803 form, `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`;
   * null for an account whose password was set before Postern stored them (PLAIN and LOGIN still
   * work; SCRAM needs `postern user passwd`).
   */
  scram: string | null;
  /** A disabled account keeps its mail and addresses but cannot log in. */
  disabled: boolean;
  createdAt: Date;
}

/** An alias: another full address (never a catch-all) whose mail goes to an account. */
export interface Alias {
  alias: string; // lower-cased local@domain
  account: string; // the account's address
}

/**
 * Brute-force protection shared by every node: failed logins are counted per key (`ip:192.0.2.1`,
 * `account:alice@example.com`) in a window of `windowMs` from the first failure in it. A failure
 * after the window starts a new one at 1. Each failure at or past `threshold` in one window blocks
 * the key until `now + blockMs`, so an attacker who keeps trying after a block ends meets a new one
 * at once. `now` is the caller's clock: keep nodes NTP-synced.
 */
export interface LoginFailureOptions {
  now: Date;
  windowMs: number;
  /** A positive integer. */
  threshold: number;
  blockMs: number;
}

export interface LoginFailureRecord {
  /** Failures in the current window, this one included. */
  count: number;
  /** Until when the key is blocked, or null when it is not blocked at `now`. */
  blockedUntil: Date | null;
}

export interface Mailbox {
  id: MailboxId;
  accountId: AccountId;
  name: string; // "INBOX" for the inbox
  /** The RFC 6154 §2 attribute (`\Junk` …), or null for a mailbox with no special use. */
  specialUse: string | null;
  uidValidity: number; // RFC 9051 §2.3.1.1
  uidNext: number;
  highestModSeq: bigint; // RFC 7162 §3.1.1
  messageCount: number;
}

/**
 * Where a recipient's copy goes. `Junk` is the account's mailbox of that name: created on first
 * use with the RFC 6154 §2 attribute `\Junk`, a fresh UIDVALIDITY and UIDs from 1; a mailbox the
 * account already has under that name is used as it is.
 */
export type DeliveryMailbox = 'INBOX' | 'Junk';

export interface DeliveryRecipient {
  address: string;
  accountId: AccountId;
  /** INBOX when absent. */
  mailbox?: DeliveryMailbox;
}

export interface Delivery {
  mailFrom: string; // reverse-path without brackets; "" for the null sender
  /**
   * An account gets one copy however many of its addresses are recipients; when they name
   * different mailboxes, INBOX wins: mail one of the account's addresses accepted as good is
   * not hidden in Junk.
   */
  recipients: DeliveryRecipient[];
  /**
   * IMAP keywords (RFC 9051 §2.3.2, e.g. `$Junk` from the IANA keyword registry, RFC 5788) set on
   * every copy. Each must be an atom (RFC 9051 §9 flag-keyword): deliver() rejects the delivery
   * with InvalidKeywordError, storing nothing, otherwise. Duplicates are stored once.
   */
  keywords?: string[];
  /** The complete message as stored: trace headers (Return-Path, Received) already prepended. */
  content: Uint8Array;
  receivedAt: Date;
  /**
   * The caller does not read `content` again: an engine may take its memory instead of copying it
   * (SQLite moves it to its writer thread, and the caller's view is then empty).
   */
  handOver?: boolean;
}

export interface Placement {
  accountId: AccountId;
  mailboxId: MailboxId;
  /** The mailbox's name: "INBOX" or "Junk". */
  mailbox: string;
  uid: number;
}

export interface DeliveryReceipt {
  messageId: number; // the stored content's id
  placements: Placement[];
}

export interface MailboxMessage {
  uid: number;
  modSeq: bigint;
  flags: string[]; // IMAP system flags (\Seen …) and keywords
  internalDate: Date;
  size: number;
  summary: MessageSummary;
}

/**
 * A job in the shared queue (the outbound delivery queue and other background work build on it).
 * A job is claimed by one node for a lease; a node that dies leaves its claim to expire, and another
 * node takes the job over. Times come from the node's clock: keep nodes NTP-synced.
 */
export interface QueueJob {
  id: number;
  kind: string;
  payload: string; // JSON chosen by the job's kind
  dueAt: Date;
  attempts: number; // claims so far, this one included
  claimedBy: string | null;
  claimedUntil: Date | null;
  createdAt: Date;
}

/** The job kind of a message accepted for other domains (the outbound queue, `postern queue list`). */
export const OUTBOUND_JOB = 'outbound';

export interface NewQueueJob {
  kind: string;
  payload: string;
  dueAt?: Date; // now when absent
}

export interface ListJobsOptions {
  kind?: string;
  limit?: number;
  /** False: payloads without their `content` member (Store.listJobs). True when absent. */
  withContent?: boolean;
}

/**
 * What Store.deleteJob did. `leased`: a node holds a live lease on the job (it may be delivering it
 * right now), so nothing was done; `claimedBy` and `claimedUntil` say who and until when.
 */
export type JobDeletion =
  | { outcome: 'deleted' }
  | { outcome: 'missing' }
  | { outcome: 'leased'; claimedBy: string | null; claimedUntil: Date };

export interface DeleteJobOptions {
  kind?: string;
  force?: boolean;
  now?: Date;
}

export interface ClaimOptions {
  /** Who claims: a node name unique in the cluster, e.g. `<hostname>:<pid>`. */
  claimant: string;
  limit: number;
  leaseMs: number;
  now?: Date;
}

/**
 * A DKIM signing key of one of our domains (RFC 6376 §3.6), kept in the store so every node signs
 * with the same keys. Lifecycle of a rotation (docs/domain-setup.md): `pending` (published, not yet
 * seen in DNS) → `active` (signs) → `retiring` (still published, no longer signs, until `retireAfter`)
 * → `retired` (neither; kept for the record).
 */
export type DkimKeyState = 'pending' | 'active' | 'retiring' | 'retired';

export interface DkimKey {
  id: number;
  domain: string; // A-label, lower case
  /** Lower case: DNS names compare case-insensitively (RFC 4343 §3), so `(domain, selector)` is unique as stored. */
  selector: string;
  algorithm: 'rsa' | 'ed25519';
  /** RSA modulus size; 256 for Ed25519. */
  bits: number;
  /** PKCS#8 PEM. A secret: never logged, printed only when the admin asks. */
  privateKey: string;
  /** The p= value of the DNS record: base64 SPKI for RSA, the raw 32-byte key for Ed25519 (RFC 8463 §4). */
  publicKey: string;
  state: DkimKeyState;
  createdAt: Date;
  /** When the key started signing. */
  activatedAt: Date | null;
  /** A retiring key is retired after this time. */
  retireAfter: Date | null;
}

export interface NewDkimKey {
  domain: string;
  selector: string;
  algorithm: 'rsa' | 'ed25519';
  bits: number;
  privateKey: string;
  publicKey: string;
  state: 'pending' | 'active';
  /** The store's clock when absent; also the activatedAt of a key added `active`. */
  createdAt?: Date;
}

/** A committed change to a mailbox, published to every node (LISTEN/NOTIFY on PostgreSQL). */
export type MailboxChange =
  | { kind: 'message-added'; accountId: AccountId; mailboxId: MailboxId; uid: number }
  /** Changes may have been missed (the notification connection was lost): re-read what you show. */
  | { kind: 'resync' };

export interface StoreStats {
  /** Transactions committed; deliveries > commits shows that commits are shared. */
  commits: number;
  deliveries: number;
}

/**
 * One greylisting decision, as postgrey (a Postfix policy server) makes it: a (client network,
 * sender, recipient) triplet seen for the first time is deferred; the same triplet retried after
 * `delayMs`, and within `retryWindowMs` after that, passes, and keeps passing until it goes unseen
 * for `expireMs`. A retry later than the window starts over, so a triplet never retried in time is
 * removed by the first sweep after `delayMs + retryWindowMs` from its first attempt, not kept for `expireMs`.
 * A client that passed `autoPassAfter` times passes at once from then on (postgrey's
 * auto-whitelist-clients). As in postgrey, only a triplet's first pass after its delay counts, and only
 * when the client's last counted pass is at least an hour old, so `autoPassAfter` passes take at least
 * `autoPassAfter - 1` hours; a last count more than an hour ahead of `now` (a clock stepped back) does
 * not hold the count back. A client whose last counted pass is older than `expireMs` (listed: last
 * seen) counts from 1 again.
 * Times are the caller's clock (`now`); keep cluster nodes NTP-synced.
 */
export interface GreylistRequest {
  /** The lower-cased key `<network>/<sender>/<recipient>` (src/policy/greylist.ts builds it). */
  triplet: string;
  /** The pass-list's key for the client: its IPv4 address, or its IPv6 /64 (greylistClient). */
  network: string;
  now: Date;
  delayMs: number;
  retryWindowMs: number;
  /** Triplets and clients not seen for this long are forgotten (and swept from the tables). */
  expireMs: number;
  /** 0 turns the learning pass-list off. */
  autoPassAfter: number;
  /**
   * The most never-passed triplets kept: a flood of new senders would otherwise grow the table by
   * its rate times the retry window. Checked every GREYLIST_SWEEP_EVERY decisions (of a node); the
   * oldest never-passed rows go first, passed ones are kept. Absent: no bound.
   */
  maxPending?: number;
}

export interface GreylistResult {
  outcome: 'pass' | 'defer';
  /** On 'defer': how long until a retry would pass. */
  retryInMs?: number;
  /** This pass put the client on the pass-list (its counted passes reached `autoPassAfter`). */
  learned: boolean;
  /** Never-passed triplets this decision removed to keep to `maxPending`. */
  trimmed?: number;
}

/**
 * What the content filter decided about a quarantined message (src/filter builds it): the score, the
 * mask it most resembles, the action taken, a one-line reason, and every signal with its weight and
 * its explanation in both admin languages. Kept as written; the store reads nothing inside but the
 * score, category and reason it lists.
 */
export interface QuarantineVerdict {
  score: number;
  category: string;
  action: string;
  reason: string;
  signals: { name: string; weight: number; en: string; ru: string; evidence?: string }[];
  /** Attached messages the detector left unopened past its limit: the verdict does not cover them. */
  unopenedAttachedMessages?: number;
}

export interface NewQuarantined {
  mailFrom: string; // reverse-path without brackets; "" for the null sender
  recipients: string[]; // as given in RCPT TO
  /** The complete message as it would have been stored, trace headers included. */
  content: Uint8Array;
  receivedAt: Date;
  verdict: QuarantineVerdict;
}

/** Where a released message goes: local accounts, other domains, or both. */
export interface QuarantineRelease {
  delivery?: Delivery;
  job?: NewQueueJob;
}

export interface ReleasedQuarantine {
  /** Absent when there was no delivery, or none of its accounts exists any more. */
  receipt?: DeliveryReceipt;
  job?: QueueJob;
}

/** One quarantined message as `postern quarantine list` shows it; From and Subject as summarize() reads them. */
export interface QuarantinedSummary {
  /** Never reused, on either engine: an id the admin noted keeps naming the same message or none. */
  id: number;
  receivedAt: Date;
  mailFrom: string;
  recipients: string[];
  from: string;
  subject: string;
  size: number;
  score: number;
  category: string;
  reason: string;
}

export interface Quarantined extends QuarantinedSummary {
  verdict: QuarantineVerdict;
  content: Uint8Array;
}

/** How often an address has corresponded with the organisation: for the "first message from this sender" signal. */
export interface SenderHistory {
  messages: number;
  /** When it was first recorded; null for an address never seen. */
  firstSeen: Date | null;
}

/** A domain our users wrote to, and in how many messages. */
export interface CorrespondentDomain {
  domain: string;
  messages: number;
}

export interface Store {
  /**
   * Creates the account and its INBOX. Throws AccountExistsError when the address is taken, by an
   * account or by an alias.
   */
  createAccount(address: string, passwordHash: string, scram?: string | null): Promise<Account>;
  findAccount(address: string): Promise<Account | undefined>;
  listAccounts(): Promise<Account[]>;
  /** Whether any account exists: a store with none has lost its recipient table (a data directory not mounted). */
  hasAccounts(): Promise<boolean>;
  /** Removes the account with its mailboxes and aliases; content no longer referenced is deleted. */
  removeAccount(address: string): Promise<boolean>;
  /** Replaces both credentials at once (null: no SCRAM); false when there is no such account. */
  setPassword(address: string, passwordHash: string, scram: string | null): Promise<boolean>;
  /** False when there is no such account. */
  setDisabled(address: string, disabled: boolean): Promise<boolean>;

  /**
   * Makes `alias` deliver to the account `accountAddress`. Throws AliasExistsError when the alias
   * is taken, as an alias or as an account's address, and NoSuchAccountError when no account has
   * that address (an alias cannot point to an alias).
   */
  addAlias(alias: string, accountAddress: string): Promise<void>;
  /** False when there is no such alias. */
  removeAlias(alias: string): Promise<boolean>;
  /** Every alias, or those of one account, sorted by alias. */
  listAliases(accountAddress?: string): Promise<Alias[]>;
  /**
   * The account with this address, else the account an alias of it points to: what RCPT TO and
   * sender-login checks need. Disabled accounts are returned too; the caller decides.
   */
  resolveAddress(address: string): Promise<Account | undefined>;

  /** Counts one failed login for `key`, atomically across nodes (see LoginFailureOptions). */
  recordLoginFailure(key: string, options: LoginFailureOptions): Promise<LoginFailureRecord>;
  /** Until when `key` is blocked, or null when it is not blocked at `now`. */
  loginBlockedUntil(key: string, now: Date): Promise<Date | null>;
  /** Forgets the failures of `key` (after a successful login). */
  clearLoginFailures(key: string): Promise<void>;

  /**
   * Stores one message for all its recipients (into each one's INBOX, or Junk: see Delivery) and
   * resolves only once the write is committed and synced to disk. Concurrent calls share commits
   * (group commit). Recipients whose account no longer exists are skipped; with none left it
   * rejects with RecipientsGoneError. A keyword that is not an atom rejects it with
   * InvalidKeywordError before anything is written.
   */
  deliver(delivery: Delivery): Promise<DeliveryReceipt>;

  /**
   * How many SMTP mail transactions are under way in this process (src/smtp/transaction-gauge.ts):
   * messages that may reach deliver() soon. An engine that gathers concurrent writes into one commit
   * may wait a moment for them (the SQLite engine's commit delay); the others need not implement it.
   */
  transactionsUnderWay?(count: number): void;

  getMailbox(accountId: AccountId, name: string): Promise<Mailbox | undefined>;
  /** The account's mailboxes, INBOX first, then by name (bytewise); [] for no such account. */
  listMailboxes(accountId: AccountId): Promise<Mailbox[]>;
  listMessages(mailboxId: MailboxId): Promise<MailboxMessage[]>;
  /** The stored bytes of one message, or undefined when the UID does not exist. */
  readMessage(mailboxId: MailboxId, uid: number): Promise<Uint8Array | undefined>;

  /**
   * Stores a DKIM key; DkimKeyExistsError when (domain, selector) is taken, DkimKeyStateTakenError when
   * the domain has a key of that algorithm in that state (pending or active) already: one rotation at a
   * time, one signing key per algorithm. Both are checked atomically with the insert.
   */
  addDkimKey(key: NewDkimKey): Promise<DkimKey>;
  /** Keys of one domain, or of all, oldest first. */
  listDkimKeys(domain?: string): Promise<DkimKey[]>;
  /**
   * Moves a key to `state`; false when the key does not exist, or with `from`, is no longer in that
   * state (checked atomically with the update). A key that becomes active gets activatedAt = `now`
   * (the store's clock when absent) and loses any retireAfter; `retireAfter`, when given, is set
   * whatever the state. Other fields stay as they were.
   */
  setDkimKeyState(
    id: number,
    state: DkimKeyState,
    options?: { retireAfter?: Date; now?: Date; from?: DkimKeyState },
  ): Promise<boolean>;
  /**
   * A rotation's switch, in one transaction: the key becomes active (activatedAt = `now`) only if it is
   * still pending, and the active keys of its domain and algorithm become retiring until `retireAfter`.
   * The selectors it retired, oldest first; undefined, with nothing changed, when the key is gone or no
   * longer pending (removed, or activated by another node meanwhile).
   */
  activateDkimKey(id: number, options: { now: Date; retireAfter: Date }): Promise<string[] | undefined>;
  /** Deletes a key, whatever its state (the caller decides whether it may go); false when there was none. */
  removeDkimKey(id: number): Promise<boolean>;

  /** Adds a job to the shared queue, due at once unless `dueAt` says later. */
  enqueueJob(job: NewQueueJob): Promise<QueueJob>;
  /**
   * Claims up to `limit` due jobs that no live lease holds, for `leaseMs`. Two nodes racing never
   * claim the same job (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer).
   */
  claimJobs(options: ClaimOptions): Promise<QueueJob[]>;
  /**
   * Jobs of a kind (all kinds when absent), due first, at most `limit`: for `postern queue list`.
   * `withContent: false` leaves out the top-level `content` member of each payload that is a JSON
   * object (an outbound job's message, base64): the engine drops it, so a listing of large messages
   * never brings their content into this process. Other payloads come as stored.
   */
  listJobs(options?: ListJobsOptions): Promise<QueueJob[]>;
  /** One job with its payload whole (an outbound job's content included); undefined when there is none. */
  getJob(id: number): Promise<QueueJob | undefined>;
  /** How many jobs of a kind there are (all kinds when absent): `serve` says so at start. */
  countJobs(kind?: string): Promise<number>;
  /**
   * An admin's removal (`postern queue delete`), not a claimant's completeJob. A job under a live lease
   * (`claimedUntil` after `now`) is left alone and reported unless `force`: its holder may be
   * delivering it at this moment, and would send a message the admin believes gone. The check and
   * the removal are one statement, so a claim racing it cannot slip between them. With `kind`, a job
   * of another kind is `missing`: an id mistyped at `postern queue delete` removes no other work.
   */
  deleteJob(id: number, options?: DeleteJobOptions): Promise<JobDeletion>;
  /** Deletes a finished job; false when `claimant` no longer holds it (its lease expired and moved on). */
  completeJob(id: number, claimant: string): Promise<boolean>;
  /** Releases a claimed job to run again at `dueAt` (a retry); false when `claimant` no longer holds it. */
  rescheduleJob(id: number, claimant: string, dueAt: Date): Promise<boolean>;

  /**
   * Calls `listener` after each committed mailbox change, on this node or another. Resolves, with
   * the function that unsubscribes, once every change committed from then on will be reported.
   */
  watchChanges(listener: (change: MailboxChange) => void): Promise<() => void>;

  /**
   * Adds each delta (a safe integer) to its counter, creating it at 0, all in one transaction.
   * Counters are shared by every process and node on the store (`postern stats` reads them).
   */
  addCounters(deltas: Readonly<Record<string, number>>): Promise<void>;
  /** Every counter whose name starts with `prefix` (compared exactly: no wildcards, case-sensitive). */
  readCounters(prefix: string): Promise<Record<string, number>>;

  /**
   * A random secret of SECRET_BYTES kept in the store under `name`, made on first use: the same on
   * every node and after every restart (a key whose output must not change between them).
   */
  secret(name: string): Promise<Buffer>;

  /** Decides a greylisting triplet now, atomically across processes and nodes (see GreylistRequest). */
  greylist(request: GreylistRequest): Promise<GreylistResult>;

  /**
   * Keeps a message the filter held back, with its verdict, and resolves only once it is committed
   * and synced to disk, as deliver() does: the SMTP 250 follows it.
   */
  quarantine(message: NewQuarantined): Promise<QuarantinedSummary>;
  /** Newest first (by id); `before` lists only ids below it (the next page); at most `limit` (default 1000). */
  listQuarantine(options?: { limit?: number; before?: number }): Promise<QuarantinedSummary[]>;
  readQuarantined(id: number): Promise<Quarantined | undefined>;
  /** False when there is no such entry. */
  removeQuarantined(id: number): Promise<boolean>;
  /**
   * The retention sweep (src/filter/quarantine-expiry.ts): removes at most `limit` quarantined
   * messages received before `before`, the oldest first, and nothing else; returns how many went.
   * Bounded so that a backlog (a phishing flood, a store down for weeks) goes in short writes
   * between deliveries, not in one that holds the write lock. Several nodes may sweep at once: each
   * entry goes once, and an entry another transaction holds (a release under way) is passed over
   * rather than waited for.
   */
  expireQuarantine(before: Date, limit: number): Promise<number>;
  /**
   * Releases a quarantined message in ONE transaction: queues `job` (recipients elsewhere), delivers
   * `delivery` (local accounts) and removes the entry, so a crash or a second release at the same
   * time can never deliver it twice. Undefined when the entry is gone (released or deleted
   * meanwhile): nothing is written. When none of the delivery's accounts exists any more, the job
   * and the removal still commit and the result has no receipt; with no job either, nothing is
   * written and it rejects with RecipientsGoneError.
   */
  releaseQuarantined(id: number, release: QuarantineRelease): Promise<ReleasedQuarantine | undefined>;

  /**
   * The messages recorded for `address` (compared lower-cased) and when it was first seen: mail
   * from it (its envelope sender when SPF passed for it, its author when DMARC did, the message
   * unmarked in the inbox) and mail the organisation sent to it both count.
   */
  senderHistory(address: string): Promise<SenderHistory>;
  /**
   * Counts one message for each distinct address (lower-cased; "" — the null sender — is skipped),
   * first seen at `at` when new, last seen at `at` when later. Called per message: calls close
   * together share one statement. Rows unseen for 400 days are swept beside these writes
   * (sender-tally.ts), a bounded batch at a time.
   */
  recordSenders(addresses: string[], at: Date): Promise<void>;
  /**
   * Counts one message the organisation sent for each distinct recipient domain (the caller gives
   * registrable domains, A-labels; lower-cased here), as recordSenders() does addresses, in a table
   * of its own: only our users' mail teaches which domains are partners, never mail from outside.
   */
  recordCorrespondentDomains(domains: string[], at: Date): Promise<void>;
  /**
   * The domains the organisation writes to most: at least `minMessages` messages, last written to
   * at or after `seenSince`, most first (then bytewise by name), at most `limit`. Read from the
   * per-domain table through its index, never a scan of the per-address history.
   */
  frequentCorrespondents(options: {
    minMessages: number;
    limit: number;
    seenSince: Date;
  }): Promise<CorrespondentDomain[]>;

  stats(): StoreStats;

  /** Waits for pending writes, then closes. Further calls reject with StoreClosedError. */
  close(): Promise<void>;
}

/** The length of a Store.secret(). */
export const SECRET_BYTES = 32;

export class StoreError extends Error {
  readonly code: string = 'STORE_ERROR';
}
export class AccountExistsError extends StoreError {
  override readonly code = 'ACCOUNT_EXISTS';
}
export class AliasExistsError extends StoreError {
  override readonly code = 'ALIAS_EXISTS';
}
export class NoSuchAccountError extends StoreError {
  override readonly code = 'NO_SUCH_ACCOUNT';
}
/** Every recipient account of a delivery was removed after RCPT accepted it: a permanent failure. */
export class RecipientsGoneError extends StoreError {
  override readonly code = 'RECIPIENTS_GONE';
}
/** A DKIM key with this domain and selector exists already. */
export class DkimKeyExistsError extends StoreError {
  override readonly code = 'DKIM_KEY_EXISTS';
}
/** The domain has a pending (or active) key of this algorithm already; nothing was stored. */
export class DkimKeyStateTakenError extends StoreError {
  override readonly code = 'DKIM_KEY_STATE_TAKEN';
}
/** A delivery's keyword is not an IMAP atom (RFC 9051 §9 flag-keyword); nothing was stored. */
export class InvalidKeywordError extends StoreError {
  override readonly code = 'INVALID_KEYWORD';
}
/**
 * A string the store would keep holds U+0000 or an unpaired UTF-16 surrogate: nothing was stored.
 * Permanent: the same input fails the same way on every engine and every retry (checkText says why).
 */
export class InvalidTextError extends StoreError {
  override readonly code = 'INVALID_TEXT';
}
export class StoreClosedError extends StoreError {
  override readonly code = 'STORE_CLOSED';
}
export class StoreUnavailableError extends StoreError {
  override readonly code: string = 'STORE_UNAVAILABLE';
}
/**
 * The store's file system (or the database server's disk) is full: nothing was written, and nothing
 * will be until space is freed. Temporary, as a store that cannot answer is; SMTP says 452 4.3.1.
 */
export class StoreFullError extends StoreUnavailableError {
  override readonly code: string = 'STORE_FULL';
}
/** The database was migrated by a newer Postern than this one: refuse rather than misread it. */
export class SchemaTooNewError extends StoreError {
  override readonly code = 'SCHEMA_TOO_NEW';
}

/**
 * A row limit a caller passes must be a positive integer: the engines would otherwise differ (SQLite
 * reads a negative LIMIT as none, so a computed limit gone negative would claim the whole queue;
 * PostgreSQL refuses it as a database error).
 */
export function checkLimit(what: string, limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`${what}: limit ${limit} is not a positive integer`);
}

/**
 * PostgreSQL's text and jsonb refuse U+0000 (SQLSTATE 22021, and `\u0000` in jsonb), and jsonb
 * refuses an unpaired surrogate escape; the driver would send a lone surrogate in text as U+FFFD.
 * SQLite keeps the NUL and also swaps the surrogate. So the engines would disagree, and PostgreSQL's
 * refusal would read as "store unavailable, try again" though every retry fails alike. In `u` mode
 * \p{Cs} matches only a surrogate that is not half of a pair.
 */
const UNSTORABLE_TEXT = /[\0\p{Cs}]/u;

/** Whether the store can keep `text` exactly as given; a look-up by a key that is not can match nothing. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE_TEXT.test(text);
}

/**
 * Both engines call this before writing any string they keep, so such a string is refused the
 * same way on each, before anything is written. The value is not quoted: it may be a secret.
 */
export function checkText(what: string, text: string | null | undefined): void {
  if (typeof text === 'string' && !isStorableText(text)) {
    throw new InvalidTextError(`${what} holds U+0000 or an unpaired UTF-16 surrogate, which the store cannot keep`);
  }
}

/** The envelope strings of a delivery (the summary's are cleaned by summarize(), the keywords are atoms). */
export function checkDeliveryText(delivery: Delivery): void {
  checkText('the delivery reverse-path', delivery.mailFrom);
  for (const recipient of delivery.recipients) checkText('a delivery recipient address', recipient.address);
}

export function checkQueueJobText(job: NewQueueJob): void {
  checkText('the job kind', job.kind);
  checkText('the job payload', job.payload);
}

/**
 * The columns of a quarantined message. The verdict is JSON text, which escapes what it holds, and
 * its reason is cleaned (quarantine-rows.ts): both quote the sender and are kept, not refused.
 */
export function checkQuarantineText(message: NewQuarantined): void {
  checkText('the quarantined reverse-path', message.mailFrom);
  for (const recipient of message.recipients) checkText('a quarantined recipient address', recipient);
  checkText('the verdict category', message.verdict.category);
}

export function checkDkimKeyText(key: NewDkimKey): void {
  for (const field of ['domain', 'selector', 'privateKey', 'publicKey'] as const)
    checkText(`the DKIM key ${field}`, key[field]);
}

export function checkCounterText(deltas: Readonly<Record<string, number>>): void {
  for (const name of Object.keys(deltas)) checkText('a counter name', name);
}

export function checkGreylistText(request: GreylistRequest): void {
  checkText('the greylist triplet', request.triplet);
  checkText('the greylist network', request.network);
}

/** Checked before any of them joins a batch: one bad address must not cost the others their count. */
export function checkSenderText(addresses: readonly string[]): void {
  for (const address of addresses) checkText('a sender address', address);
}
