/**
 * The fields a submission server completes (RFC 6409 §8): a message from a logged-in user that has no
 * Message-ID gets one (§8.3, SHOULD: receivers such as Gmail refuse mail without it) and one without
 * a Date gets the time of submission (§8.2, MAY). A Date or Message-ID field with nothing in it counts
 * as missing and is replaced (RFC 5322 §3.6.1 and §3.6.4 require a value; §8 lets the server fix it).
 * Nothing else is changed, and a field with a value, however written, is left as it is.
 */

import { randomBytes } from 'node:crypto';
import type { HeaderField } from '../authentication/dkim/message.ts';

/** `fields`: the message's header fields as readMessage() (../authentication/dkim/message.ts) read them. */
export function withSubmissionFields(
  content: Buffer,
  fields: readonly HeaderField[],
  hostname: string,
  now: Date,
): Buffer {
  const has = (key: string) => fields.some((field) => field.key === key && !isEmptyField(field.line));
  const emptied = fields.some(
    (field) => (field.key === 'date' || field.key === 'message-id') && isEmptyField(field.line),
  );
  const kept = emptied ? withoutEmptyFields(content) : content;
  let added = '';
  // RFC 5322 §3.6.4: a unique id-left (time and 64 random bits) @ our host name.
  if (!has('message-id'))
    added += `Message-ID: <${now.getTime().toString(36)}.${randomBytes(8).toString('hex')}@${hostname}>\r\n`;
  if (!has('date')) added += `Date: ${dateTime(now)}\r\n`;
  return added === '' ? kept : Buffer.concat([Buffer.from(added, 'latin1'), kept]);
}

/** `Date:` with only white space and folds after the colon. */
function isEmptyField(line: string): boolean {
  return /^[^:]*:\s*$/.test(line);
}

/** An empty Date or Message-ID line at the start of a header line, folds included, up to its line end. */
const EMPTY_FIELD = /(?<=^|\n)(?:date|message-id)[ \t]*:(?:[ \t]|\r?\n(?=[ \t]))*\r?\n/gi;

/** The content without its empty Date and Message-ID fields; the header section only is looked at. */
function withoutEmptyFields(content: Buffer): Buffer {
  const blank = content.indexOf('\r\n\r\n');
  const end = blank < 0 ? content.length : blank + 2;
  const header = content.subarray(0, end).toString('latin1');
  const cleaned = header.replace(EMPTY_FIELD, '');
  return cleaned.length === header.length
    ? content
    : Buffer.concat([Buffer.from(cleaned, 'latin1'), content.subarray(end)]);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * RFC 5322 §3.3 date-time, "Mon, 30 Nov 2026 01:02:03 +0100": the date-time SHOULD express local time,
 * with the zone as its offset from UTC (Postfix writes the host's). `offsetMinutes`: east of UTC, the
 * server's own at that instant (its TZ) unless given.
 */
export function dateTime(now: Date, offsetMinutes = -now.getTimezoneOffset()): string {
  // The local wall clock, read through the UTC getters of an instant shifted by the offset.
  const local = new Date(now.getTime() + offsetMinutes * 60_000);
  const two = (n: number) => String(n).padStart(2, '0');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const offset = Math.abs(offsetMinutes);
  return (
    `${DAYS[local.getUTCDay()]}, ${two(local.getUTCDate())} ${MONTHS[local.getUTCMonth()]} ${local.getUTCFullYear()} ` +
    `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())} ` +
    `${sign}${two(Math.floor(offset / 60))}${two(offset % 60)}`
  );
}
