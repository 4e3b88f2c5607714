/**
 * The job of a message queued for other domains (kind OUTBOUND_JOB): what the SMTP listener queues
 * for relayed mail and `postern quarantine release` queues for a released message's remote
 * recipients. The delivery issue (SMTP out) takes these jobs; until then they wait, listed by
 * `postern queue list`. The content rides in the job as base64 for now.
 */

import { type NewQueueJob, OUTBOUND_JOB } from './store.ts';

export interface OutboundMessage {
  /** The id shown in logs and replies: the envelope's, or `quarantine-<id>` for a released message. */
  id: string;
  mailFrom: string; // reverse-path without brackets; "" for the null sender
  recipients: string[];
  content: Uint8Array;
  receivedAt: Date;
}

/** What the payload holds; `postern queue list` reads it. */
export interface OutboundPayload {
  id: string;
  mailFrom: string;
  recipients: string[];
  receivedAt: string; // ISO 8601
  size: number;
  content: string; // base64
}

export function outboundJob(message: OutboundMessage): NewQueueJob {
  const { content } = message;
  const payload: OutboundPayload = {
    id: message.id,
    mailFrom: message.mailFrom,
    recipients: message.recipients,
    receivedAt: message.receivedAt.toISOString(),
    size: content.byteLength,
    content: Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('base64'),
  };
  return { kind: OUTBOUND_JOB, payload: JSON.stringify(payload) };
}
