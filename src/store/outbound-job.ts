/**
 * The job of a message queued for other domains (kind OUTBOUND_JOB): what the SMTP listener queues
 * for relayed mail and `postern quarantine release` queues for a released message's remote
 * recipients. The delivery issue (SMTP out) takes these jobs; until then they wait, listed by
 * `postern queue list`. The content rides in the job as base64 for now.
 */

import { isAscii } from 'node:buffer';
import { headerSectionLength } from '../mime/header-section.ts';
import { type NewQueueJob, OUTBOUND_JOB } from './store.ts';

/** RFC 6152 §2: BODY=8BITMIME, or 7BIT (the default when MAIL has no BODY). */
export type BodyType = '7BIT' | '8BITMIME';

export interface OutboundMessage {
  /** The id shown in logs and replies: the envelope's, or `quarantine-<id>` for a released message. */
  id: string;
  mailFrom: string; // reverse-path without brackets; "" for the null sender
  recipients: string[];
  content: Uint8Array;
  receivedAt: Date;
  /**
   * What the relay must say again at the next hop, or convert or bounce when it cannot:
   * BODY=8BITMIME (RFC 6152 §3) and SMTPUTF8 (RFC 6531 §3.4). Lost, an 8-bit or UTF-8 message would
   * be sent to a server that never agreed to take it.
   */
  body: BodyType;
  smtputf8: boolean;
}

/** What the payload holds. */
export interface OutboundPayload {
  id: string;
  mailFrom: string;
  recipients: string[];
  receivedAt: string; // ISO 8601
  size: number;
  body: BodyType;
  smtputf8: boolean;
  content: string; // base64
}

/** The payload read with Store.listJobs' `withContent: false`, as `postern queue list` reads it. */
export type OutboundSummary = Omit<OutboundPayload, 'content'>;

export function outboundJob(message: OutboundMessage): NewQueueJob {
  const { content } = message;
  const payload: OutboundPayload = {
    id: message.id,
    mailFrom: message.mailFrom,
    recipients: message.recipients,
    receivedAt: message.receivedAt.toISOString(),
    size: content.byteLength,
    body: message.body,
    smtputf8: message.smtputf8,
    content: Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('base64'),
  };
  return { kind: OUTBOUND_JOB, payload: JSON.stringify(payload) };
}

/**
 * The BODY and SMTPUTF8 a message needs at the next hop, read from what it is: alone for a message whose
 * MAIL parameters were not kept (a quarantine entry has none), added to the client's for relayed and
 * submitted mail, whose content may need more than MAIL declared: 8BITMIME when any octet has the high
 * bit set (RFC 6152 §2), SMTPUTF8 when an address or the header section is not ASCII (RFC 6531 §3.4,
 * RFC 6532 §3). The one definition both use. Conservative: a 7-bit
 * message sent as 8BITMIME, or an ASCII one as SMTPUTF8, only asks more of the next server than needed,
 * while the other way round would hand it octets it never agreed to take.
 */
export function transportOf(content: Uint8Array, addresses: readonly string[]): { body: BodyType; smtputf8: boolean } {
  const ascii = isAscii(content);
  const header = ascii || isAscii(content.subarray(0, headerSectionLength(content, content.byteLength)));
  return {
    body: ascii ? '7BIT' : '8BITMIME',
    smtputf8: !header || addresses.some((address) => !/^[\x00-\x7f]*$/.test(address)),
  };
}
