/**
 * ⚠️  NullStore DISCARDS ALL MAIL. ⚠️
 *
 * For benchmarking only (`postern serve --discard-mail`): it measures the SMTP path without the
 * disk. `deliver()` resolves at once, stores nothing, and the message is gone — yet the sender is
 * told it was accepted. Never use it where mail matters.
 *
 * Accounts come from a fixed list given to the constructor, or from a wrapped store that answers
 * the account reads (so recipients are checked against real accounts). Mailbox reads see nothing.
 * Counters, failed logins, DKIM keys and sender history are kept in memory, for this process only
 * (`postern stats` in another process sees none of them, and keys are lost at exit); greylisting
 * passes everything, so a benchmark's sender is never deferred. A quarantined message is discarded
 * like a delivered one.
 */

import { randomBytes } from 'node:crypto';
import { summarize } from '../mime/summary.ts';
import { counterEntries, saturatedSum } from './counters.ts';
import { checkDelivery } from './delivery-targets.ts';
import {
  activeBlock,
  checkLoginFailureOptions,
  type LoginFailureRow,
  loginFailureRecord,
  nextLoginFailure,
} from './login-failures.ts';
import { stateTaken } from './rows.ts';

import {
  type Account,
  type AccountId,
  type Alias,
  type ClaimOptions,
  type CorrespondentDomain,
  checkLimit,
  type DeleteJobOptions,
  type Delivery,
  type DeliveryReceipt,
  type DkimKey,
  DkimKeyExistsError,
  type DkimKeyState,
  DkimKeyStateTakenError,
  type GreylistRequest,
  type GreylistResult,
  type JobDeletion,
  type ListJobsOptions,
  type LoginFailureOptions,
  type LoginFailureRecord,
  type Mailbox,
  type MailboxChange,
  type MailboxId,
  type MailboxMessage,
  type NewDkimKey,
  type NewQuarantined,
  type NewQueueJob,
  type Quarantined,
  type QuarantinedSummary,
  type QuarantineRelease,
  type QueueJob,
  type ReleasedQuarantine,
  SECRET_BYTES,
  type SenderHistory,
  type Store,
  StoreClosedError,
  StoreError,
  type StoreStats,
} from './store.ts';

export type NullStoreAccounts = readonly Account[] | { readFrom: Store };

export class NullStore implements Store {
  readonly #accounts: readonly Account[] | undefined;
  readonly #accountStore: Store | undefined;
  #closed = false;
  #discarded = 0;
  readonly #counters = new Map<string, number>();
  readonly #secrets = new Map<string, Buffer>();
  readonly #loginFailures = new Map<string, LoginFailureRow>();
  readonly #dkimKeys: DkimKey[] = [];
  readonly #senders = new Map<string, { messages: number; firstSeen: number }>();
  readonly #domains = new Map<string, { messages: number; lastSeen: number }>();

  constructor(accounts: NullStoreAccounts) {
    if ('readFrom' in accounts) this.#accountStore = accounts.readFrom;
    else this.#accounts = [...accounts];
  }

  /** How many messages deliver() has thrown away. */
  get discardedCount(): number {
    return this.#discarded;
  }

  async createAccount(_address: string, _passwordHash: string, _scram?: string | null): Promise<Account> {
    this.#assertOpen();
    throw new StoreError('NullStore cannot create accounts: it is a benchmark store that discards mail');
  }

  async findAccount(address: string): Promise<Account | undefined> {
    this.#assertOpen();
    if (this.#accountStore) return this.#accountStore.findAccount(address);
    return this.#accounts?.find((account) => account.address === address);
  }

  async hasAccounts(): Promise<boolean> {
    this.#assertOpen();
    if (this.#accountStore) return this.#accountStore.hasAccounts();
    return (this.#accounts?.length ?? 0) > 0;
  }

  async listAccounts(): Promise<Account[]> {
    this.#assertOpen();
    if (this.#accountStore) return this.#accountStore.listAccounts();
    return [...(this.#accounts ?? [])];
  }

  async removeAccount(_address: string): Promise<boolean> {
    this.#assertOpen();
    throw new StoreError('NullStore cannot remove accounts: it is a benchmark store that discards mail');
  }

  async setPassword(_address: string, _passwordHash: string, _scram: string | null): Promise<boolean> {
    this.#assertOpen();
    throw new StoreError('NullStore cannot change passwords: it is a benchmark store that discards mail');
  }

  async setDisabled(_address: string, _disabled: boolean): Promise<boolean> {
    this.#assertOpen();
    throw new StoreError('NullStore cannot disable accounts: it is a benchmark store that discards mail');
  }

  async addAlias(_alias: string, _accountAddress: string): Promise<void> {
    this.#assertOpen();
    throw new StoreError('NullStore cannot add aliases: it is a benchmark store that discards mail');
  }

  async removeAlias(_alias: string): Promise<boolean> {
    this.#assertOpen();
    throw new StoreError('NullStore cannot remove aliases: it is a benchmark store that discards mail');
  }

  /** A fixed list has no aliases. */
  async listAliases(accountAddress?: string): Promise<Alias[]> {
    this.#assertOpen();
    if (this.#accountStore) return this.#accountStore.listAliases(accountAddress);
    return [];
  }

  async resolveAddress(address: string): Promise<Account | undefined> {
    this.#assertOpen();
    if (this.#accountStore) return this.#accountStore.resolveAddress(address);
    return this.#accounts?.find((account) => account.address === address);
  }

  /** In memory, this process only. */
  async recordLoginFailure(key: string, options: LoginFailureOptions): Promise<LoginFailureRecord> {
    this.#assertOpen();
    checkLoginFailureOptions(options);
    const next = nextLoginFailure(this.#loginFailures.get(key), options);
    this.#loginFailures.set(key, next);
    return loginFailureRecord(next, options.now);
  }

  async loginBlockedUntil(key: string, now: Date): Promise<Date | null> {
    this.#assertOpen();
    return activeBlock(this.#loginFailures.get(key)?.blockedUntil, now);
  }

  async clearLoginFailures(key: string): Promise<void> {
    this.#assertOpen();
    this.#loginFailures.delete(key);
  }

  /**
   * Throws the message away and pretends it was stored: every placement gets UID 0, mailbox 0, in
   * the mailbox it would have gone to. A delivery the real stores refuse (a bad keyword) is refused.
   */
  async deliver(delivery: Delivery): Promise<DeliveryReceipt> {
    this.#assertOpen();
    const { targets } = checkDelivery(delivery);
    this.#discarded++;
    const placements = targets.map(({ accountId, mailbox }) => ({ accountId, mailboxId: 0, mailbox, uid: 0 }));
    return { messageId: 0, placements };
  }

  async getMailbox(_accountId: AccountId, _name: string): Promise<Mailbox | undefined> {
    this.#assertOpen();
    return undefined;
  }

  async listMailboxes(_accountId: AccountId): Promise<Mailbox[]> {
    this.#assertOpen();
    return [];
  }

  async listMessages(_mailboxId: MailboxId): Promise<MailboxMessage[]> {
    this.#assertOpen();
    return [];
  }

  async readMessage(_mailboxId: MailboxId, _uid: number): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    return undefined;
  }

  /** In memory, this process only; copies go in and out, as a database would give them. */
  async addDkimKey(key: NewDkimKey): Promise<DkimKey> {
    this.#assertOpen();
    if (this.#dkimKeys.some((k) => k.domain === key.domain && k.selector === key.selector)) {
      throw new DkimKeyExistsError(`${key.domain} already has a DKIM key with selector ${key.selector}`);
    }
    const holder = this.#dkimKeys.find(
      (k) => k.domain === key.domain && k.algorithm === key.algorithm && k.state === key.state,
    );
    if (holder) {
      throw new DkimKeyStateTakenError(stateTaken(key, holder.selector));
    }
    const { createdAt = new Date(), ...fields } = key;
    const stored: DkimKey = {
      ...fields,
      id: this.#dkimKeys.length + 1,
      createdAt,
      activatedAt: key.state === 'active' ? createdAt : null,
      retireAfter: null,
    };
    this.#dkimKeys.push(stored);
    return { ...stored };
  }

  async listDkimKeys(domain?: string): Promise<DkimKey[]> {
    this.#assertOpen();
    return this.#dkimKeys
      .filter((key) => domain === undefined || key.domain === domain)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id - b.id)
      .map((key) => ({ ...key }));
  }

  async setDkimKeyState(
    id: number,
    state: DkimKeyState,
    options: { retireAfter?: Date; now?: Date; from?: DkimKeyState } = {},
  ): Promise<boolean> {
    this.#assertOpen();
    const key = this.#dkimKeys.find((k) => k.id === id);
    if (!key || (options.from !== undefined && key.state !== options.from)) return false;
    if (state === 'active' && key.state !== 'active') key.activatedAt = options.now ?? new Date();
    if (options.retireAfter) key.retireAfter = options.retireAfter;
    else if (state === 'active') key.retireAfter = null;
    key.state = state;
    return true;
  }

  async activateDkimKey(id: number, options: { now: Date; retireAfter: Date }): Promise<string[] | undefined> {
    this.#assertOpen();
    const key = this.#dkimKeys.find((k) => k.id === id);
    if (key?.state !== 'pending') return undefined;
    Object.assign(key, { state: 'active', activatedAt: options.now, retireAfter: null });
    const replaced = this.#dkimKeys
      .filter((k) => k.domain === key.domain && k.algorithm === key.algorithm && k.state === 'active' && k !== key)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id - b.id);
    for (const old of replaced) Object.assign(old, { state: 'retiring', retireAfter: options.retireAfter });
    return replaced.map((k) => k.selector);
  }

  async removeDkimKey(id: number): Promise<boolean> {
    this.#assertOpen();
    const index = this.#dkimKeys.findIndex((k) => k.id === id);
    if (index < 0) return false;
    this.#dkimKeys.splice(index, 1);
    return true;
  }

  async enqueueJob(_job: NewQueueJob): Promise<QueueJob> {
    this.#assertOpen();
    throw new StoreError('NullStore has no queue: it is a benchmark store that discards mail');
  }

  async listJobs(options: ListJobsOptions = {}): Promise<QueueJob[]> {
    this.#assertOpen();
    checkLimit('listJobs', options.limit ?? 1000);
    return [];
  }

  async claimJobs(options: ClaimOptions): Promise<QueueJob[]> {
    this.#assertOpen();
    checkLimit('claimJobs', options.limit);
    return [];
  }

  async completeJob(_id: number, _claimant: string): Promise<boolean> {
    this.#assertOpen();
    return false;
  }

  async getJob(_id: number): Promise<QueueJob | undefined> {
    this.#assertOpen();
    return undefined;
  }

  async countJobs(_kind?: string): Promise<number> {
    this.#assertOpen();
    return 0;
  }

  async deleteJob(_id: number, _options?: DeleteJobOptions): Promise<JobDeletion> {
    this.#assertOpen();
    return { outcome: 'missing' };
  }

  async rescheduleJob(_id: number, _claimant: string, _dueAt: Date): Promise<boolean> {
    this.#assertOpen();
    return false;
  }

  /** Nothing is ever stored, so nothing ever changes. */
  async watchChanges(_listener: (change: MailboxChange) => void): Promise<() => void> {
    this.#assertOpen();
    return () => {};
  }

  /** In memory, this process only: nothing is stored. */
  async addCounters(deltas: Readonly<Record<string, number>>): Promise<void> {
    this.#assertOpen();
    for (const [name, delta] of counterEntries(deltas))
      this.#counters.set(name, saturatedSum(this.#counters.get(name) ?? 0, delta)); // as the engines hold them
  }

  async readCounters(prefix: string): Promise<Record<string, number>> {
    this.#assertOpen();
    return Object.fromEntries([...this.#counters].filter(([name]) => name.startsWith(prefix)));
  }

  /** Per process: a null store keeps nothing past it. */
  async secret(name: string): Promise<Buffer> {
    this.#assertOpen();
    const value = this.#secrets.get(name) ?? randomBytes(SECRET_BYTES);
    this.#secrets.set(name, value);
    return value;
  }

  /** Greylisting needs a store to remember first attempts: with none, every triplet passes. */
  async greylist(_request: GreylistRequest): Promise<GreylistResult> {
    this.#assertOpen();
    return { outcome: 'pass', learned: false };
  }

  /** Throws the message away, as deliver() does, and answers as if it had been kept under id 0. */
  async quarantine(message: NewQuarantined): Promise<QuarantinedSummary> {
    this.#assertOpen();
    const { from, subject } = summarize(message.content);
    const { mailFrom, recipients, receivedAt, verdict } = message;
    const { score, category, reason } = verdict;
    return {
      id: 0,
      receivedAt,
      mailFrom,
      recipients,
      from,
      subject,
      size: message.content.byteLength,
      score,
      category,
      reason,
    };
  }

  async listQuarantine(options: { limit?: number; before?: number } = {}): Promise<QuarantinedSummary[]> {
    this.#assertOpen();
    checkLimit('listQuarantine', options.limit ?? 1);
    return [];
  }

  async readQuarantined(_id: number): Promise<Quarantined | undefined> {
    this.#assertOpen();
    return undefined;
  }

  async removeQuarantined(_id: number): Promise<boolean> {
    this.#assertOpen();
    return false;
  }

  /** Nothing is ever kept here, so nothing expires. */
  async expireQuarantine(_before: Date, limit: number): Promise<number> {
    this.#assertOpen();
    checkLimit('expireQuarantine', limit);
    return 0;
  }

  /** Nothing is ever quarantined here, so there is nothing to release. */
  async releaseQuarantined(_id: number, _release: QuarantineRelease): Promise<ReleasedQuarantine | undefined> {
    this.#assertOpen();
    return undefined;
  }

  /** In memory, this process only. */
  async senderHistory(address: string): Promise<SenderHistory> {
    this.#assertOpen();
    const seen = this.#senders.get(address.toLowerCase());
    return seen ? { messages: seen.messages, firstSeen: new Date(seen.firstSeen) } : { messages: 0, firstSeen: null };
  }

  async recordSenders(addresses: string[], at: Date): Promise<void> {
    this.#assertOpen();
    for (const address of new Set(addresses.map((a) => a.toLowerCase()).filter((a) => a !== ''))) {
      const seen = this.#senders.get(address);
      const firstSeen = Math.min(seen?.firstSeen ?? at.getTime(), at.getTime());
      this.#senders.set(address, { messages: (seen?.messages ?? 0) + 1, firstSeen });
    }
  }
  /** In memory, this process only: a benchmark's outbound mail is discarded, so little comes here. */
  async recordCorrespondentDomains(domains: string[], at: Date): Promise<void> {
    this.#assertOpen();
    for (const domain of new Set(domains.map((d) => d.toLowerCase()).filter((d) => d !== ''))) {
      const seen = this.#domains.get(domain);
      const lastSeen = Math.max(seen?.lastSeen ?? at.getTime(), at.getTime());
      this.#domains.set(domain, { messages: (seen?.messages ?? 0) + 1, lastSeen });
    }
  }

  async frequentCorrespondents(options: {
    minMessages: number;
    limit: number;
    seenSince: Date;
  }): Promise<CorrespondentDomain[]> {
    this.#assertOpen();
    return [...this.#domains]
      .filter(
        ([, { messages, lastSeen }]) => messages >= options.minMessages && lastSeen >= options.seenSince.getTime(),
      )
      .sort(([a, x], [b, y]) => y.messages - x.messages || (a < b ? -1 : a > b ? 1 : 0)) // bytewise, as SQLite
      .slice(0, options.limit)
      .map(([domain, { messages }]) => ({ domain, messages }));
  }

  stats(): StoreStats {
    return { commits: 0, deliveries: this.#discarded };
  }

  /** Closes only itself: a wrapped account store belongs to the caller, who closes it. */
  async close(): Promise<void> {
    this.#assertOpen();
    this.#closed = true;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('the store is closed');
  }
}
