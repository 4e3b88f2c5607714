/**
 * What the sans-I/O session asks of its host (effects) and what the host answers (outcomes),
 * ARCHITECTURE.md principle 1. A leaf: the listener, the pipeline and tests import it.
 */
import type { Envelope, RecipientRoute } from './envelope.ts';
import type { Path } from './path.ts';
import type { Reply } from './replies.ts';

export interface SessionOptions {
  sessionId: string;
  hostname: string;
  maxMessageSize: number;
  maxRecipients: number;
  maxCommandsBeforeMail: number;
  maxErrors: number;
  bareLineEndings: 'reject' | 'normalize';
  vrfy: 'off' | 'ambiguous';
}

export type Effect =
  | { type: 'reply'; reply: Reply }
  | { type: 'close' }
  | { type: 'check'; stage: 'helo'; helo: string }
  | { type: 'check'; stage: 'mail'; envelope: Readonly<Envelope> }
  | { type: 'check'; stage: 'rcpt'; envelope: Readonly<Envelope>; recipient: Path }
  | { type: 'message'; envelope: Envelope; content: Buffer }; // the 250 waits for its outcome

export type CheckOutcome =
  | { action: 'continue'; route?: RecipientRoute }
  | { action: 'reject'; reply: Reply }
  | { action: 'disconnect'; reply: Reply };
export type MessageOutcome = { action: 'reply'; reply: Reply };
