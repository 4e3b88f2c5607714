/**
 * Quarantine and sender history on PostgreSQL, shared by every node. A quarantined message is one
 * INSERT committed with synchronous_commit on (postgres-store.ts), as durable as a delivery; sender
 * tallies arrive summed and sorted (../sender-tally.ts) and go in one upsert, whose row locks in
 * address order keep two nodes counting the same senders from deadlocking.
 */

import type pg from 'pg';
import type { CheckedDelivery } from '../delivery-targets.ts';
import {
  QUARANTINE_COLUMNS,
  QUARANTINE_SUMMARY_COLUMNS,
  quarantinedFromRow,
  quarantinedSummaryFromRow,
  quarantineValues,
  senderHistoryFromRow,
} from '../quarantine-rows.ts';
import type { SenderBatch, SenderCount, SweepResult } from '../sender-tally.ts';
import {
  type CorrespondentDomain,
  type Delivery,
  type DeliveryReceipt,
  type MessageSummary,
  type NewQuarantined,
  type NewQueueJob,
  type Quarantined,
  type QuarantinedSummary,
  type QueueJob,
  RecipientsGoneError,
  type SenderHistory,
} from '../store.ts';
import { type BatchRow, checkItemText, deliverQuery, placedReceipt } from './delivery-batcher.ts';
import { insertQueueJob } from './queue.ts';

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

export class PostgresQuarantine {
  readonly #query: Query;

  constructor(query: Query) {
    this.#query = query;
  }

  async add(message: NewQuarantined, header: Pick<MessageSummary, 'from' | 'subject'>): Promise<QuarantinedSummary> {
    const values = quarantineValues(message, header);
    const { content } = message;
    // The driver sends a Buffer as binary bytea; a plain Uint8Array it would not.
    values[values.length - 1] = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    const { rows } = await this.#query(
      `INSERT INTO quarantine (received_at, mail_from, recipients, header_from, header_subject, size, score,
         category, reason, verdict, content)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${QUARANTINE_SUMMARY_COLUMNS}`,
      values,
    );
    return quarantinedSummaryFromRow(rows[0] ?? {});
  }

  async list(limit: number, before: number | undefined): Promise<QuarantinedSummary[]> {
    const { rows } = await this.#query(
      `SELECT ${QUARANTINE_SUMMARY_COLUMNS} FROM quarantine
       WHERE $1::bigint IS NULL OR id < $1 ORDER BY id DESC LIMIT $2`,
      [before ?? null, limit],
    );
    return rows.map(quarantinedSummaryFromRow);
  }

  async read(id: number): Promise<Quarantined | undefined> {
    const { rows } = await this.#query(`SELECT ${QUARANTINE_COLUMNS} FROM quarantine WHERE id = $1`, [id]);
    return rows[0] ? quarantinedFromRow(rows[0]) : undefined;
  }

  async remove(id: number): Promise<boolean> {
    const result = await this.#query('DELETE FROM quarantine WHERE id = $1', [id]);
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Store.expireQuarantine, the oldest first from quarantine_by_received_at (migration 9). SKIP
   * LOCKED passes over the entries a release or another node's sweep holds, so sweeps on several
   * nodes share the backlog instead of queueing on each other's rows; one passed over goes with a
   * later batch, or with its release. One statement, committed on its own: a batch holds its row
   * locks for that statement alone.
   */
  async expire(before: Date, limit: number): Promise<number> {
    const result = await this.#query(
      `DELETE FROM quarantine WHERE id IN (
         SELECT id FROM quarantine WHERE received_at < $1 ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before.getTime(), limit],
    );
    return result.rowCount ?? 0;
  }

  async senderHistory(address: string): Promise<SenderHistory> {
    const { rows } = await this.#query('SELECT messages, first_seen FROM senders WHERE address = $1', [
      address.toLowerCase(),
    ]);
    return senderHistoryFromRow(rows[0]);
  }

  /** The relearn's read, in correspondent_domains_by_messages order (migration 11), stopping at `limit`. */
  async frequentCorrespondents(minMessages: number, limit: number, seenSince: Date): Promise<CorrespondentDomain[]> {
    const { rows } = await this.#query(
      // Ordered bytewise, as SQLite does.
      `SELECT domain, messages FROM correspondent_domains WHERE messages >= $1 AND last_seen >= $2
       ORDER BY messages DESC, domain COLLATE "C" LIMIT $3`,
      [minMessages, seenSince.getTime(), limit],
    );
    return rows.map((row) => ({ domain: String(row.domain), messages: Number(row.messages) }));
  }

  /**
   * One tally batch of ../sender-tally.ts, each table's rows in key order (no deadlock between
   * nodes), and its sweep when it carries one. The sweep takes the oldest first from the last_seen
   * indexes (migration 11) and passes over rows another node's tally or sweep holds (SKIP LOCKED).
   */
  async countSenders(batch: SenderBatch): Promise<SweepResult> {
    await this.#upsert('senders', 'address', batch.senders);
    await this.#upsert('correspondent_domains', 'domain', batch.domains);
    if (!batch.sweep) return { senders: 0, domains: 0 };
    const { before, limit } = batch.sweep;
    const sweep = async (table: string, key: string) =>
      (
        await this.#query(
          `DELETE FROM ${table} WHERE ${key} IN (
             SELECT ${key} FROM ${table} WHERE last_seen < $1 ORDER BY last_seen LIMIT $2 FOR UPDATE SKIP LOCKED)`,
          [before, limit],
        )
      ).rowCount ?? 0;
    return { senders: await sweep('senders', 'address'), domains: await sweep('correspondent_domains', 'domain') };
  }

  async #upsert(table: string, key: string, counts: readonly SenderCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.#query(
      `INSERT INTO ${table} (${key}, messages, first_seen, last_seen)
       SELECT k, messages, first_seen, last_seen
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
         WITH ORDINALITY AS s (k, messages, first_seen, last_seen, ord)
       ORDER BY ord
       ON CONFLICT (${key}) DO UPDATE
       SET messages = ${table}.messages + excluded.messages, first_seen = least(${table}.first_seen, excluded.first_seen),
         last_seen = greatest(${table}.last_seen, excluded.last_seen)`,
      [
        counts.map((c) => c.key),
        counts.map((c) => c.count),
        counts.map((c) => c.firstSeen),
        counts.map((c) => c.lastSeen),
      ],
    );
  }
}

/**
 * Store.releaseQuarantined's writes, on a client inside the caller's transaction: removal, job and
 * delivery commit together. Undefined when the entry is gone. A delivery whose accounts are all gone
 * leaves the job to commit; with no job either, RecipientsGoneError rolls everything back.
 * `rows` are postern_deliver()'s, for the change notifications sent after the commit.
 */
export async function releaseWith(
  client: pg.PoolClient,
  id: number,
  work: { deliver?: { delivery: Delivery; summary: MessageSummary; checked: CheckedDelivery }; job?: NewQueueJob },
): Promise<{ receipt?: DeliveryReceipt; job?: QueueJob; rows: BatchRow[] } | undefined> {
  if (work.deliver) checkItemText(work.deliver);
  const removed = await client.query('DELETE FROM quarantine WHERE id = $1', [id]);
  if (removed.rowCount === 0) return undefined;
  const job = work.job ? await insertQueueJob((text, values) => client.query(text, values), work.job) : undefined;
  if (!work.deliver) return { ...(job ? { job } : {}), rows: [] };
  const { text, values } = deliverQuery([work.deliver]);
  const { rows } = await client.query<BatchRow>(text, values);
  const receipt = placedReceipt(work.deliver.checked, rows);
  if (!receipt && !job) throw new RecipientsGoneError('none of the recipient accounts exists any more');
  return { ...(receipt ? { receipt } : {}), ...(job ? { job } : {}), rows };
}
