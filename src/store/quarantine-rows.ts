/**
 * Quarantine and sender-history rows to store values, shared by both engines (their tables have
 * the same columns; see rows.ts for the integer and time conventions). Recipients and the verdict
 * are JSON text in both, so each engine gives back exactly what was written.
 */

import type { Row } from './rows.ts';
import type { Quarantined, QuarantinedSummary, QuarantineVerdict, SenderHistory } from './store.ts';

export const QUARANTINE_SUMMARY_COLUMNS =
  'id, received_at, mail_from, recipients, header_from, header_subject, size, score, category, reason';

export const QUARANTINE_COLUMNS = `${QUARANTINE_SUMMARY_COLUMNS}, verdict, content`;

export const DEFAULT_QUARANTINE_LIMIT = 1000;

export function quarantinedSummaryFromRow(row: Row): QuarantinedSummary {
  return {
    id: Number(row.id),
    receivedAt: new Date(Number(row.received_at)),
    mailFrom: String(row.mail_from),
    recipients: JSON.parse(String(row.recipients)) as string[],
    from: String(row.header_from),
    subject: String(row.header_subject),
    size: Number(row.size),
    score: Number(row.score),
    category: String(row.category),
    reason: String(row.reason),
  };
}

/** SQLite gives BLOBs as Uint8Array, PostgreSQL's driver as Buffer: both come out a plain Uint8Array. */
export function quarantinedFromRow(row: Row): Quarantined {
  const content = row.content as Uint8Array;
  return {
    ...quarantinedSummaryFromRow(row),
    verdict: JSON.parse(String(row.verdict)) as QuarantineVerdict,
    content: content instanceof Buffer ? new Uint8Array(content) : content,
  };
}

export function senderHistoryFromRow(row: Row | undefined): SenderHistory {
  if (!row) return { messages: 0, firstSeen: null };
  return { messages: Number(row.messages), firstSeen: new Date(Number(row.first_seen)) };
}

/** The values a quarantine INSERT writes, in QUARANTINE_COLUMNS order without the id. */
export function quarantineValues(
  message: {
    mailFrom: string;
    recipients: string[];
    content: Uint8Array;
    receivedAt: Date;
    verdict: QuarantineVerdict;
  },
  header: { from: string; subject: string },
): unknown[] {
  const { verdict } = message;
  const reason = storableText(verdict.reason);
  return [
    message.receivedAt.getTime(),
    message.mailFrom,
    JSON.stringify(message.recipients),
    header.from,
    header.subject,
    message.content.byteLength,
    verdict.score,
    verdict.category,
    reason,
    JSON.stringify({ ...verdict, reason }),
    message.content,
  ];
}

/**
 * The verdict's reason quotes what the sender wrote, decoded (a display name "PayPal=00Support"):
 * PostgreSQL's text refuses U+0000, which SQLite stores, so the row could not be written there and
 * the message was deferred for ever. Control characters, C1 too, become U+FFFD on both engines, as
 * the header summary (src/mime/summary.ts) keeps them out of From and Subject. An unpaired
 * surrogate does too: the engines would each write U+FFFD in the column, while the verdict's JSON
 * kept the surrogate, and the two would no longer agree.
 */
function storableText(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\p{Cs}]/gu, '\uFFFD');
}
