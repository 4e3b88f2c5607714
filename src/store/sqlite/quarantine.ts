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
import type { SenderBatch, SweepResult } from '../sender-tally.ts';
import type {
  CorrespondentDomain,
  MessageSummary,
  NewQuarantined,
  Quarantined,
  QuarantinedSummary,
  SenderHistory,
} from '../store.ts';

export class SqliteQuarantineWrites {
  readonly #insert: StatementSync;
  readonly #remove: StatementSync;
  readonly #expire: StatementSync;
  readonly #countSenders: StatementSync;
  readonly #countDomains: StatementSync;
  readonly #sweepSenders: StatementSync;
  readonly #sweepDomains: StatementSync;

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
    this.#countSenders = db.prepare(tallyUpsert('senders', 'address'));
    this.#countDomains = db.prepare(tallyUpsert('correspondent_domains', 'domain'));
    this.#sweepSenders = db.prepare(tallySweep('senders', 'address'));
    this.#sweepDomains = db.prepare(tallySweep('correspondent_domains', 'domain'));
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

  /** One tally batch of ../sender-tally.ts, and its sweep when it carries one. */
  countSenders(batch: SenderBatch): SweepResult {
    if (batch.senders.length > 0) this.#countSenders.run(JSON.stringify(batch.senders));
    if (batch.domains.length > 0) this.#countDomains.run(JSON.stringify(batch.domains));
    if (!batch.sweep) return { senders: 0, domains: 0 };
    const { before, limit } = batch.sweep;
    return {
      senders: Number(this.#sweepSenders.run(before, limit).changes),
      domains: Number(this.#sweepDomains.run(before, limit).changes),
    };
  }
}

/**
 * The relearn's read (content-filter.ts, every 10 minutes on the main thread): the per-domain table
 * in correspondent_domains_by_messages order, stopping at `limit`, so its cost is the rows it
 * returns and not the size of any history. Exported for the query-plan test.
 */
export const FREQUENT_CORRESPONDENTS_SQL = `SELECT domain, messages FROM correspondent_domains
  WHERE messages >= :min AND last_seen >= :since ORDER BY messages DESC, domain LIMIT :limit`;

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
    this.#frequent = db.prepare(FREQUENT_CORRESPONDENTS_SQL);
  }

  frequentCorrespondents(minMessages: number, limit: number, seenSince: Date): CorrespondentDomain[] {
    return this.#frequent
      .all({ min: minMessages, limit, since: seenSince.getTime() })
      .map((row) => ({ domain: String(row.domain), messages: Number(row.messages) }));
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

/**
 * A tally batch (../sender-tally.ts) added to `table` in one statement. `WHERE true` settles SQLite's
 * parsing ambiguity between an upsert's ON CONFLICT and a join (https://sqlite.org/lang_upsert.html,
 * "Parsing Ambiguity").
 */
function tallyUpsert(table: 'senders' | 'correspondent_domains', key: 'address' | 'domain'): string {
  return `INSERT INTO ${table} (${key}, messages, first_seen, last_seen)
       SELECT value ->> 'key', value ->> 'count', value ->> 'firstSeen', value ->> 'lastSeen' FROM json_each(?) WHERE true
       ON CONFLICT (${key}) DO UPDATE
       SET messages = messages + excluded.messages, first_seen = min(first_seen, excluded.first_seen),
         last_seen = max(last_seen, excluded.last_seen)`;
}

/** The oldest rows of `table` first, read from its last_seen index (migration 11): a batch costs its own rows. */
function tallySweep(table: 'senders' | 'correspondent_domains', key: 'address' | 'domain'): string {
  return `DELETE FROM ${table}
       WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE last_seen < ? ORDER BY last_seen LIMIT ?)`;
}
