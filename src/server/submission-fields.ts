/**
 * The fields a submission server completes (RFC 6409 §8): a message from a logged-in user that has no
 * Message-ID gets one (§8.3, SHOULD: receivers such as Gmail refuse mail without it) and one without
 * a Date gets the time of submission (§8.2, MAY). Nothing else is changed, and a field already there,
 * however written, is left as it is.
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
  const has = (key: string) => fields.some((field) => field.key === key);
  let added = '';
  // RFC 5322 §3.6.4: a unique id-left (time and 64 random bits) @ our host name.
  if (!has('message-id'))
    added += `Message-ID: <${now.getTime().toString(36)}.${randomBytes(8).toString('hex')}@${hostname}>\r\n`;
  // RFC 5322 §3.3: "Sat, 28 Nov 2026 22:40:32 +0000".
  if (!has('date')) added += `Date: ${now.toUTCString().replace(/GMT$/, '+0000')}\r\n`;
  return added === '' ? content : Buffer.concat([Buffer.from(added, 'latin1'), content]);
}
