/**
 * Header fields a client cannot be trusted to write, removed from what it sends before the message is
 * stored or queued (as Postfix's cleanup(8) removes them):
 *
 * - Return-Path: the final delivery adds it from the envelope (RFC 5321 §4.4); one written by the
 *   client claims a sender the envelope does not have, above ours or below it;
 * - X-Postern-Verdict and X-Postern-Signals: our phishing verdict, which mail clients and Sieve rules
 *   trust; scored mail gets them replaced, every other message would keep whatever the client wrote;
 * - Bcc and Resent-Bcc, on submission: the blind copies' addresses, which the mail program should
 *   have taken out (RFC 5322 §3.6.3) and every recipient, other domains' included, would read.
 *
 * After the sender authentication: a DKIM signature may cover one of them (RFC 6376 §5.4 advises
 * against signing Return-Path, not every signer listens), and it is verified on what was sent.
 */
import { readRawFields, splitEntity } from '../mime/entity.ts';

const ANY_CLIENT: ReadonlySet<string> = new Set(['return-path', 'x-postern-verdict', 'x-postern-signals']);
const SUBMITTED: ReadonlySet<string> = new Set([...ANY_CLIENT, 'bcc', 'resent-bcc']);
/** A quick test before the fields are read one by one: nearly every message has none of them. */
const MAY_HAVE_ANY = /^(?:return-path|x-postern-verdict|x-postern-signals)[ \t]*:/im;
const MAY_HAVE_SUBMITTED = /^(?:return-path|x-postern-verdict|x-postern-signals|bcc|resent-bcc)[ \t]*:/im;

/** The message without those fields (the same Buffer when it has none). */
export function withoutClientFields(message: Buffer, submitted: boolean): Buffer {
  const { fieldsEnd } = splitEntity(message, 0, message.length);
  const header = message.toString('latin1', 0, fieldsEnd);
  if (!(submitted ? MAY_HAVE_SUBMITTED : MAY_HAVE_ANY).test(header)) return message;
  const names = submitted ? SUBMITTED : ANY_CLIENT;
  const kept: Buffer[] = [];
  let at = 0;
  for (const field of readRawFields(message, 0, fieldsEnd)) {
    if (!names.has(field.name)) continue;
    kept.push(message.subarray(at, field.start));
    at = field.end;
  }
  if (at === 0) return message;
  kept.push(message.subarray(at));
  return Buffer.concat(kept);
}
