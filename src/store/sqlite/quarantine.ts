/**
 * Quarantine and sender history on SQLite. Writes run on the writer thread inside a batch
 * transaction (writes.ts), so a quarantined message is synced like a delivery and a sender tally
 * shares the commit of the deliveries beside it; reads run on the main thread's connection.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import {
  QUARANTINE_COLUMNS,
  QUARANTINE_SUMMARY_COLUMNS,
  quarantinedFromRow,
  quarantinedSummaryFromRow,
  quarantineValues,
  senderHistoryFromRow,
} from '../quarantine-rows.ts';
import type { SenderCount } from '../sender-tally.ts';
import type { MessageSummary, NewQuarantined, Quarantined, QuarantinedSummary, SenderHistory } from '../store.ts';

export class SqliteQuarantineWrites {
  readonly #insert: StatementSync;
  readonly #remove: StatementSync;
  readonly #expire: StatementSync;
  readonly #countSenders: StatementSync;

  constructor(db: DatabaseSync) {
    this.#insert = db.prepare(
      `INSERT INTO quarantine (received_at, mail_from, recipients, header_from, header_subject, size, score,
         category, reason, verdict, content)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${QUARANTINE_SUMMARY_COLUMNS}`,
    );
    this.#remove = db.prepare('DELETE FROM quarantine WHERE id = ?');
    // The oldest first, read from quarantine_by_received_at (migration 9): a batch costs its own
    // rows, not a scan of the table, inside the writer's transaction.
    this.#expire = db.prepare(
      `DELETE FROM quarantine
       WHERE id IN (SELECT id FROM quarantine WHERE received_at < ? ORDER BY received_at LIMIT ?)`,
    );
    // One statement for the whole batch. `WHERE true` settles SQLite's parsing ambiguity between
    // an upsert's ON CONFLICT and a join (https://sqlite.org/lang_upsert.html, "Parsing Ambiguity").
    this.#countSenders = db.prepare(
      `INSERT INTO senders (address, messages, first_seen)
       SELECT value ->> 'address', value ->> 'count', value ->> 'firstSeen' FROM json_each(?) WHERE true
       ON CONFLICT (address) DO UPDATE
       SET messages = messages + excluded.messages, first_seen = min(first_seen, excluded.first_seen)`,
    );
  }

  quarantine(message: NewQuarantined, header: Pick<MessageSummary, 'from' | 'subject'>): QuarantinedSummary {
    const row = this.#insert.get(...(quarantineValues(message, header) as (string | number | Uint8Array)[]));
    if (!row) throw new Error('INSERT … RETURNING gave no row');
    return quarantinedSummaryFromRow(row);
  }

  remove(id: number): boolean {
    return this.#remove.run(id).changes > 0;
  }

  /** Store.expireQuarantine: at most `limit` entries received before `before`; how many went. */
  expire(before: Date, limit: number): number {
    return Number(this.#expire.run(before.getTime(), limit).changes);
  }

  countSenders(counts: readonly SenderCount[]): void {
    this.#countSenders.run(JSON.stringify(counts));
  }
}

export class SqliteQuarantineReads {
  readonly #list: StatementSync;
  readonly #read: StatementSync;
  readonly #senderHistory: StatementSync;
  readonly #frequent: StatementSync;

  constructor(db: DatabaseSync) {
    this.#list = db.prepare(
      `SELECT ${QUARANTINE_SUMMARY_COLUMNS} FROM quarantine
       WHERE :before IS NULL OR id < :before ORDER BY id DESC LIMIT :limit`,
    );
    this.#read = db.prepare(`SELECT ${QUARANTINE_COLUMNS} FROM quarantine WHERE id = ?`);
    this.#senderHistory = db.prepare('SELECT messages, first_seen FROM senders WHERE address = ?');
    this.#frequent = db.prepare(
      // The domain is after the last @ ("a@b"@c.org is at c.org): rtrim strips back to it. An address
      // without one (a domain-less postmaster) has no domain to count.
      `SELECT replace(address, rtrim(address, replace(address, '@', '')), '') AS domain, sum(messages) AS total
       FROM senders WHERE address LIKE '%@%'
       GROUP BY domain HAVING total >= :min ORDER BY total DESC, domain LIMIT :limit`,
    );
  }

  frequentCorrespondents(minMessages: number, limit: number): string[] {
    return this.#frequent.all({ min: minMessages, limit }).map((row) => String(row.domain));
  }

  list(limit: number, before: number | undefined): QuarantinedSummary[] {
    return this.#list.all({ limit, before: before ?? null }).map(quarantinedSummaryFromRow);
  }

  read(id: number): Quarantined | undefined {
    const row = this.#read.get(id);
    return row ? quarantinedFromRow(row) : undefined;
  }

  senderHistory(address: string): SenderHistory {
    return senderHistoryFromRow(this.#senderHistory.get(address.toLowerCase()));
  }
}
