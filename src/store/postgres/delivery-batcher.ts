/**
 * Group commit on PostgreSQL: the deliveries asked for in one event-loop turn, and those that pile
 * up while earlier batches commit, go to the database as ONE call of postern_deliver() — one round
 * trip, one transaction, one WAL flush for the batch. `maxInFlight` batches may commit at once on
 * different pool connections (the store uses one); the function's ordered mailbox locks keep
 * batches from several nodes from deadlocking.
 *
 * A caller is told "stored" only when the batch's transaction has committed (synchronous_commit is
 * on for our sessions, see postgres-store.ts): the 250 of RFC 5321 §4.5.3.2's "accepted" follows it.
 */

import type pg from 'pg';
import type { CheckedDelivery } from '../delivery-targets.ts';
import type { Delivery, DeliveryReceipt, MessageSummary, StoreStats } from '../store.ts';
import { checkDeliveryText, checkText, RecipientsGoneError, StoreFullError, StoreUnavailableError } from '../store.ts';
import { CHANGE_CHANNEL, changePayload } from './change-channel.ts';
import { isDiskFull, postgresErrorText } from './errors.ts';

interface Pending {
  delivery: Delivery;
  summary: MessageSummary;
  checked: CheckedDelivery;
  resolve(receipt: DeliveryReceipt): void;
  reject(error: Error): void;
}

/** SQLSTATEs worth one more try: the transaction lost a race, the data is fine. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_ATTEMPTS = 3;

export class DeliveryBatcher {
  readonly #pool: pg.Pool;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  readonly #onError: (error: Error) => void;
  readonly #stats: StoreStats = { commits: 0, deliveries: 0 };
  #outbox: Pending[] = [];
  #inFlight = 0;
  #flushScheduled = false;
  #idleWaiters: (() => void)[] = [];

  constructor(pool: pg.Pool, options: { maxInFlight: number; maxBatch?: number; onError?: (error: Error) => void }) {
    this.#pool = pool;
    this.#onError = options.onError ?? (() => {});
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#maxBatch = options.maxBatch ?? 200;
  }

  get stats(): StoreStats {
    return { ...this.#stats };
  }

  /** `checked` is what checkDelivery() (../delivery-targets.ts) made of the delivery. */
  deliver(delivery: Delivery, summary: MessageSummary, checked: CheckedDelivery): Promise<DeliveryReceipt> {
    try {
      checkItemText({ delivery, summary, checked });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#outbox.push({ delivery, summary, checked, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // After the poll phase: every session served in this turn joins the batch.
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#flush();
        });
      }
    });
  }

  /** Resolves when nothing is queued or in flight. */
  drained(): Promise<void> {
    if (this.#inFlight === 0 && this.#outbox.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #flush(): void {
    while (this.#inFlight < this.#maxInFlight && this.#outbox.length > 0) {
      const batch = this.#outbox.splice(0, this.#maxBatch);
      this.#inFlight++;
      this.#run(batch).finally(() => {
        this.#inFlight--;
        this.#flush();
        if (this.#inFlight === 0 && this.#outbox.length === 0) {
          for (const wake of this.#idleWaiters.splice(0)) wake();
        }
      });
    }
  }

  async #run(batch: Pending[]): Promise<void> {
    let rows: BatchRow[];
    try {
      rows = await this.#call(batch);
    } catch (error) {
      // statement_timeout, lock_timeout or query_timeout (pool.ts) included: nothing of the batch
      // was committed, so each of its sessions answers 451 and the client sends it again.
      const text = `delivery transaction failed: ${postgresErrorText(error)}`;
      // A full disk is said as one (SMTP 452 4.3.1), as the SQLite store says its full file system.
      const failure = isDiskFull(error)
        ? new StoreFullError(text, { cause: error })
        : new StoreUnavailableError(text, { cause: error });
      for (const pending of batch) pending.reject(failure);
      return;
    }
    this.#stats.commits++;
    this.announce(rows);
    const byItem = new Map<number, BatchRow[]>();
    for (const row of rows) {
      const list = byItem.get(row.o_item) ?? [];
      list.push(row);
      byItem.set(row.o_item, list);
    }
    batch.forEach((pending, index) => {
      const placed = (byItem.get(index + 1) ?? []).filter((row) => row.o_message !== null);
      if (placed.length === 0) {
        pending.reject(new RecipientsGoneError('none of the recipient accounts exists any more'));
        return;
      }
      this.#stats.deliveries++;
      pending.resolve(receiptFor(pending.checked, placed));
    });
  }

  /**
   * Tells other nodes' listeners about placed rows (deliveries of this batcher, or a release's).
   * After the commit, in a statement of its own: a transaction that only notifies writes no WAL,
   * so PostgreSQL's notification lock is held for microseconds, not for a WAL flush. Nobody waits
   * for it; a failure is reported, and listeners resync when their connection comes back.
   */
  announce(rows: readonly BatchRow[]): void {
    const payloads = changePayloads(rows);
    if (payloads.length === 0) return;
    this.#pool
      .query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [CHANGE_CHANNEL, payloads])
      .catch((error: Error) => this.#onError(error));
  }

  async #call(batch: Pending[]): Promise<BatchRow[]> {
    const { text, values } = deliverQuery(batch);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transaction(text, values);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (attempt >= MAX_ATTEMPTS || !code || !RETRYABLE.has(code)) throw error;
      }
    }
  }

  /**
   * The delivery in a transaction committed only once its result has come back. As one autocommitted
   * statement, a delivery whose bytes were held up on the way (a network path that stalls, then heals)
   * was run and committed whenever they arrived, after the client had given up and its session had
   * answered 451: stored, and stored again when the sender retried. Now such a late statement finds
   * no COMMIT behind it, and the closed connection rolls its transaction back (pool.ts).
   */
  async #transaction(text: string, values: unknown[]): Promise<BatchRow[]> {
    const client = await this.#pool.connect();
    // A connection that ends while checked out also emits 'error' (pool.query listens for its
    // callers); the statement's own rejection reports it here.
    const ended = () => {};
    client.on('error', ended);
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<BatchRow>(text, values);
      await client.query('COMMIT');
      client.off('error', ended);
      client.release();
      return rows;
    } catch (error) {
      // Destroyed, not returned: a statement may still run on it, or its answer still be coming (the
      // listener stays for the errors of its end).
      client.release(error instanceof Error ? error : true);
      throw error;
    }
  }
}

/**
 * The strings of an item's postern_deliver() metadata. The batch goes as ONE jsonb parameter, and
 * jsonb refuses `\u0000` and an unpaired surrogate escape ("unsupported Unicode escape sequence"):
 * one such item would fail the whole batch, every session in it answering 451 and retrying into the
 * same failure. So an item is checked before it joins a batch and refused alone (InvalidTextError).
 * The recipients are JSON text inside the JSON, escaped twice: jsonb keeps them as written.
 */
export function checkItemText({ delivery, summary, checked }: Omit<Pending, 'resolve' | 'reject'>): void {
  checkDeliveryText(delivery);
  checkText('the From summary', summary.from);
  checkText('the Subject summary', summary.subject);
  checkText('the Message-ID summary', summary.messageId);
  checkText('the keywords', checked.flags);
}

/** One call of postern_deliver() for these deliveries; its rows name each item by its 1-based place. */
export function deliverQuery(items: readonly Omit<Pending, 'resolve' | 'reject'>[]): {
  text: string;
  values: unknown[];
} {
  // The shape postern_deliver() of schema version 5 reads (migrations.ts).
  const meta = items.map(({ delivery, summary, checked }) => ({
    targets: checked.targets.map(({ accountId, mailbox }) => ({ a: accountId, m: mailbox })),
    flags: checked.flags,
    from: summary.from,
    subject: summary.subject,
    date: summary.date?.getTime() ?? null,
    messageId: summary.messageId,
    mailFrom: delivery.mailFrom,
    recipients: JSON.stringify(delivery.recipients.map((recipient) => recipient.address)),
    receivedAt: delivery.receivedAt.getTime(),
  }));
  // Each content is its own parameter: the driver sends a Buffer as binary, where an array
  // parameter would be hex text twice its size.
  const contents = items.map(({ delivery: { content } }) =>
    Buffer.from(content.buffer, content.byteOffset, content.byteLength),
  );
  const placeholders = contents.map((_, index) => `$${index + 2}::bytea`).join(', ');
  return {
    text: `SELECT o_item, o_message, o_account, o_mailbox, o_uid FROM postern_deliver($1::jsonb, ARRAY[${placeholders}])`,
    values: [JSON.stringify(meta), ...contents],
  };
}

/** The receipt of the item's rows, or undefined when none of its accounts exists any more. */
export function placedReceipt(checked: CheckedDelivery, rows: readonly BatchRow[]): DeliveryReceipt | undefined {
  const placed = rows.filter((row) => row.o_message !== null);
  return placed.length === 0 ? undefined : receiptFor(checked, placed);
}

/** The change notifications of placed rows (change-channel.ts), sent after the commit. */
export function changePayloads(rows: readonly BatchRow[]): string[] {
  return rows
    .filter((row) => row.o_message !== null)
    .map((row) => changePayload(Number(row.o_account), Number(row.o_mailbox), Number(row.o_uid)));
}

export interface BatchRow {
  o_item: number;
  o_message: string | null;
  o_account: string | null;
  o_mailbox: string | null;
  o_uid: string | null;
}

/** Placements in the order of the delivery's recipients, as the SQLite engine gives them. */
function receiptFor(checked: CheckedDelivery, rows: BatchRow[]): DeliveryReceipt {
  const order = checked.targets.map((target) => target.accountId);
  const placements = rows
    .map((row) => {
      const accountId = Number(row.o_account);
      // One target per account: the mailbox it named is the one the row was placed in.
      const mailbox = checked.targets.find((target) => target.accountId === accountId)?.mailbox ?? 'INBOX';
      return { accountId, mailboxId: Number(row.o_mailbox), mailbox, uid: Number(row.o_uid) };
    })
    .sort((a, b) => order.indexOf(a.accountId) - order.indexOf(b.accountId));
  return { messageId: Number(rows[0]?.o_message), placements };
}
