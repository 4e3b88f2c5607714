/**
 * What the sans-I/O session asks of its host (effects) and what the host answers (outcomes),
 * ARCHITECTURE.md principle 1. A leaf: the listener, the pipeline and tests import it.
 */
import type { ContentBudget } from './content-budget.ts';
import type { Envelope, RecipientRoute } from './envelope.ts';
import type { Path } from './path.ts';
import type { Reply } from './replies.ts';

export interface SessionOptions {
  sessionId: string;
  hostname: string;
  maxMessageSize: number;
  /** Shared by the server's sessions: content held in memory by all of them (content-budget.ts). */
  contentBudget?: ContentBudget;
  maxRecipients: number;
  maxCommandsBeforeMail: number;
  maxErrors: number;
  bareLineEndings: 'reject' | 'normalize';
  /** RFC 5321 §3.5.3: off answers 502; ambiguous 252 to all; on asks the host (a `vrfy` check). */
  vrfy: 'off' | 'ambiguous' | 'on';
  /** Submission (RFC 6409): MAIL needs a logged-in client; an MX listener offers no AUTH at all. */
  submission?: boolean;
  /** TLS on this listener: none (no certificate), STARTTLS offered (RFC 3207), or implicit (RFC 8314). */
  tls?: 'none' | 'starttls' | 'implicit';
  /**
   * STARTTLS whose certificate may arrive while the server runs (ACME): whether one is loaded now,
   * asked at EHLO, STARTTLS and MAIL. Absent: always.
   */
  tlsReady?: () => boolean;
  /** RFC 3207 §4: STARTTLS first; MAIL (and AUTH) before it get 530 5.7.0 (454 4.7.0 while STARTTLS cannot be offered). */
  requireTls?: boolean;
  /** SASL mechanisms offered once the connection is secure (RFC 4954 §4: never in the clear). */
  authMechanisms?: readonly string[];
}

export type Effect =
  /**
   * `notAnError`: a 4xx the session does not count as the client's error (recipients over the limit).
   * `logged`: the host logged this refusal already (the connect check's, with its rule and reason):
   * the listener does not log it again, so a refused client's every command does not add a line.
   */
  | { type: 'reply'; reply: Reply; notAnError?: true; logged?: true }
  | { type: 'close' }
  | { type: 'check'; stage: 'helo'; helo: string }
  | { type: 'check'; stage: 'mail'; envelope: Readonly<Envelope> }
  | { type: 'check'; stage: 'rcpt'; envelope: Readonly<Envelope>; recipient: Path }
  /** Before the 354 of DATA or the first BDAT chunk; `unauthPipelining` is Postfix's reject_unauth_pipelining signal. */
  | { type: 'check'; stage: 'data'; envelope: Readonly<Envelope>; unauthPipelining: boolean }
  | { type: 'check'; stage: 'vrfy'; argument: string }
  | { type: 'message'; envelope: Envelope; content: Buffer } // the 250 waits for its outcome
  /** After the 220 to STARTTLS: the host starts TLS and calls `tlsStarted()` (RFC 3207 §4). */
  | { type: 'starttls' }
  /** One SASL step (RFC 4954 §4): `first` with the AUTH command's initial response, then each client response. */
  | { type: 'auth'; mechanism: string; response: Buffer | undefined; first: boolean };

export type AuthOutcome =
  | { action: 'challenge'; data: Buffer }
  /** Logged in; `data` is the server's last message (SCRAM's v=), sent as a 334 before the 235. */
  /** `accountId`: the account logged in, so a later one of the same name is not taken for it. */
  | { action: 'success'; username: string; accountId?: number; data?: Buffer }
  | { action: 'reject'; reply: Reply; logged?: true };

/** `logged`: the host logged the refusal with its reason; the listener does not log the reply again. */
export type CheckOutcome =
  | { action: 'continue'; route?: RecipientRoute }
  | { action: 'reject'; reply: Reply; logged?: true }
  | { action: 'disconnect'; reply: Reply; logged?: true };
/**
 * The answer to a message, or to a VRFY (250, 252 or 550 chosen by the host). `logged`: the host
 * logged the refusal with its reason (and the message's id); the listener does not log it again.
 */
export type MessageOutcome = { action: 'reply'; reply: Reply; logged?: true };
