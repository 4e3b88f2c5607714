/**
 * One message through an open milter connection, from mail to eom, stopping at the first verdict that
 * ends it — for callers that hold the whole message (e.g. a pipeline stage after DATA). The SMTP
 * session, which talks to the milter stage by stage, calls MilterClient itself instead.
 */
import type { EomResult, Macros, MilterClient, MilterVerdict, Modification } from './client.ts';
import { splitMessage } from './modify.ts';

export interface MessageInput {
  from: string;
  recipients: string[];
  /** The message as received, CRLF. */
  content: Buffer;
  /** `rcpt` holds each recipient's macros, index for index with `recipients`. */
  macros?: { mail?: Macros; rcpt?: readonly Macros[]; data?: Macros; eoh?: Macros; eom?: Macros };
}

/** A recipient the milter refused at RCPT, with its verdict (and reply code, if it gave one). */
export interface RecipientRefusal {
  rcpt: string;
  verdict: Extract<MilterVerdict, { action: 'reject' | 'tempfail' }>;
}

/**
 * The eom result, or a verdict before eom with no changes. `rejected` lists the recipients refused one
 * by one with a reject (5xx), for the caller to leave out; the message goes on for the others.
 */
export type MessageOutcome = EomResult & { rejected?: RecipientRefusal[] };

/**
 * RFC 5322 §2.2: a field-name is one or more printable US-ASCII characters but the colon; §4.5 (the
 * obsolete syntax) allows white space before the colon.
 */
const FIELD_START = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

export async function filterMessage(client: MilterClient, input: MessageInput): Promise<MessageOutcome> {
  const m = input.macros ?? {};
  // A verdict before eom ends the message: SMFIC_ABORT tells the milter to forget it (xxfi_abort).
  const early = async (verdict: MilterVerdict) => {
    await client.abort();
    return { verdict, modifications: [] as Modification[] };
  };
  const mail = await client.mail(input.from, [], m.mail);
  if (mail.action !== 'continue') return early(mail);
  const rejected: RecipientRefusal[] = [];
  for (const [index, rcpt] of input.recipients.entries()) {
    const v = await client.rcpt(rcpt, [], m.rcpt?.[index]);
    // The message is in already, so a recipient cannot be refused alone any more without losing it
    // silently after our 250 (RFC 5321 §6.1). A temporary refusal (a greylisting milter) defers the
    // whole message: the client retries every recipient later, and none is delivered twice.
    if (v.action === 'tempfail') return early(v);
    if (v.action === 'reject') rejected.push({ rcpt, verdict: v });
    else if (v.action !== 'continue') return { ...(await early(v)), ...(rejected.length > 0 ? { rejected } : {}) };
  }
  // No recipient left: the message ends with the first refusal, its reply code and text kept.
  if (rejected.length === input.recipients.length && rejected[0]) {
    return { ...(await early(rejected[0].verdict)), rejected };
  }
  const extra = rejected.length > 0 ? { rejected } : {};
  const steps: (() => Promise<MilterVerdict>)[] = [() => client.data(m.data)];
  const { fields, body } = splitMessage(input.content);
  for (const f of fields) {
    // One char per octet: the milter gets the field's octets as they are (client.header), as Postfix
    // and Sendmail pass them; decoded as UTF-8, 8-bit octets of another charset became U+FFFD, and a
    // DKIM-signing or -verifying milter worked on other bytes than the message's.
    const text = f.raw.toString('latin1').replace(/\r?\n$/, '');
    // A line of the header section that is no field ("Hello Bob, see below", a header-less message's
    // text) is not made into one: it went as a name made up of the line. It stays where the store keeps
    // it, in the header section up to the empty line, which Postern's readers (mime/header-section.ts
    // readFirstFields, the MIME parser) skip over while reading the fields after it; so those go to the
    // milter as fields, and the body is the same body the store and the mail reader see.
    if (!FIELD_START.test(text)) continue;
    const colon = text.indexOf(':');
    steps.push(() => client.header(text.slice(0, colon), text.slice(colon + 1)));
  }
  steps.push(
    () => client.eoh(m.eoh),
    () => client.body(body),
  );
  for (const step of steps) {
    const v = await step();
    if (v.action !== 'continue') return { ...(await early(v)), ...extra };
  }
  return { ...(await client.eom(m.eom)), ...extra };
}
