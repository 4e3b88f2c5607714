/**
 * Rows to store values, shared by both engines: their tables have the same columns. SQLite gives
 * integers as numbers or BigInts, PostgreSQL's driver gives BIGINT columns as strings; Number()
 * and BigInt() take either. Times are milliseconds since the epoch in both.
 */

import { counterValue } from './counters.ts';
import type { Account, Alias, DkimKey, DkimKeyState, Mailbox, MailboxMessage, NewDkimKey, QueueJob } from './store.ts';

export type Row = Record<string, unknown>;
type Integer = number | bigint | string;

export const ACCOUNT_COLUMNS = 'id, address, password_hash, scram, disabled, created_at';

/** `disabled` is an INTEGER 0/1 on SQLite and a boolean on PostgreSQL: Boolean() takes either. */
export function accountFromRow(row: Row): Account {
  return {
    id: Number(row.id),
    address: String(row.address),
    passwordHash: String(row.password_hash),
    scram: row.scram == null ? null : String(row.scram),
    disabled: Boolean(row.disabled),
    createdAt: new Date(Number(row.created_at)),
  };
}

/** An `alias, account` row: aliases joined to their account's address. */
export function aliasFromRow(row: Row): Alias {
  return { alias: String(row.alias), account: String(row.account) };
}

/** Selected FROM mailboxes; the count is correlated, so it costs a lookup per mailbox listed. */
export const MAILBOX_COLUMNS = `id, account_id, name, special_use, uid_validity, uid_next, highest_modseq,
  (SELECT count(*) FROM mailbox_messages WHERE mailbox_id = mailboxes.id) AS message_count`;

export function mailboxFromRow(row: Row): Mailbox {
  return {
    id: Number(row.id),
    accountId: Number(row.account_id),
    name: String(row.name),
    specialUse: row.special_use == null ? null : String(row.special_use),
    uidValidity: Number(row.uid_validity),
    uidNext: Number(row.uid_next),
    // Mod-sequences are 63-bit (RFC 7162 §3.1.1): never through a float.
    highestModSeq: BigInt(row.highest_modseq as Integer),
    messageCount: Number(row.message_count),
  };
}

export function mailboxMessageFromRow(row: Row): MailboxMessage {
  return {
    uid: Number(row.uid),
    modSeq: BigInt(row.modseq as Integer),
    flags: String(row.flags).split(' ').filter(Boolean), // flags are atoms: no spaces (RFC 9051 §9)
    internalDate: new Date(Number(row.internal_date)),
    size: Number(row.size),
    summary: {
      from: String(row.header_from),
      subject: String(row.header_subject),
      date: row.header_date === null ? null : new Date(Number(row.header_date)),
      messageId: row.header_message_id === null ? null : String(row.header_message_id),
    },
  };
}

export const JOB_COLUMNS = 'id, kind, payload, due_at, attempts, claimed_by, claimed_until, created_at';

/**
 * JOB_COLUMNS with each JSON-object payload read without its `content` member (Store.listJobs with
 * `withContent: false`), so that the engine, not this process, reads a queued message's bytes.
 * A payload not starting with `{` is no JSON object (outboundJob's JSON.stringify writes none with
 * leading space): it comes as stored. SQLite's JSON1 functions are built into node:sqlite.
 */
export const SQLITE_JOB_SUMMARY_COLUMNS = JOB_COLUMNS.replace(
  'payload',
  `CASE WHEN substr(payload, 1, 1) = '{' THEN json_remove(payload, '$.content') ELSE payload END AS payload`,
);

/**
 * The same on PostgreSQL. jsonb is the quicker, but holds no string (nor container) of 2^28 octets
 * or more ("string too long to represent as jsonb string"): a payload past `jsonbBelow` octets, well
 * short of that (a message of some 96 MiB), goes through json_each instead, slower but unbounded.
 * octet_length reads only the TOAST header. `jsonbBelow` is a parameter for the tests of both ways.
 */
export function postgresPayloadWithoutContent(jsonbBelow = 2 ** 27): string {
  return `CASE WHEN left(payload, 1) <> '{' THEN payload
    WHEN octet_length(payload) < ${Math.trunc(jsonbBelow)} THEN (payload::jsonb - 'content')::text
    ELSE (SELECT coalesce(json_object_agg(key, value), '{}')::text FROM json_each(payload::json) WHERE key <> 'content')
  END`;
}

export const POSTGRES_JOB_SUMMARY_COLUMNS = JOB_COLUMNS.replace(
  'payload',
  `${postgresPayloadWithoutContent()} AS payload`,
);

export function jobFromRow(row: Row): QueueJob {
  return {
    id: Number(row.id),
    kind: String(row.kind),
    payload: String(row.payload),
    dueAt: new Date(Number(row.due_at)),
    attempts: Number(row.attempts),
    claimedBy: row.claimed_by == null ? null : String(row.claimed_by),
    claimedUntil: row.claimed_until == null ? null : new Date(Number(row.claimed_until)),
    createdAt: new Date(Number(row.created_at)),
  };
}

/**
 * `name, value` rows of the counters table; Object.fromEntries keeps a name like `__proto__` as data.
 * PostgreSQL hands int8 over as text: Number() would round a value past 2^53 without a word.
 */
export function countersFromRows(rows: readonly Row[]): Record<string, number> {
  return Object.fromEntries(rows.map((row) => [String(row.name), counterValue(row.value)]));
}

export const DKIM_KEY_COLUMNS =
  'id, domain, selector, algorithm, bits, private_key, public_key, state, created_at, activated_at, retire_after';

/** The CHECK constraints of both schemas hold `algorithm` and `state` to these values. */
export function dkimKeyFromRow(row: Row): DkimKey {
  return {
    id: Number(row.id),
    domain: String(row.domain),
    selector: String(row.selector),
    algorithm: String(row.algorithm) as DkimKey['algorithm'],
    bits: Number(row.bits),
    privateKey: String(row.private_key),
    publicKey: String(row.public_key),
    state: String(row.state) as DkimKeyState,
    createdAt: new Date(Number(row.created_at)),
    activatedAt: row.activated_at == null ? null : new Date(Number(row.activated_at)),
    retireAfter: row.retire_after == null ? null : new Date(Number(row.retire_after)),
  };
}

/** DkimKeyStateTakenError's text, one for every engine. */
export function stateTaken(key: NewDkimKey, holder: string): string {
  return `${key.domain} has a ${key.state} ${key.algorithm} DKIM key already (${holder}): not adding ${key.selector} ${key.state} too`;
}
