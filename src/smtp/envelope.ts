/** The SMTP transaction as the session builds it (RFC 5321 §3.3) and the pipeline reads it. */
import type { Path } from './path.ts';

/**
 * Where an accepted recipient goes, decided by the recipient check (policy/): a local account's
 * INBOX, or the outbound queue (a client allowed to relay: logged in, or in mynetworks).
 */
export type RecipientRoute = { kind: 'local'; accountId: number } | { kind: 'outbound' };

export interface Recipient {
  path: Path;
  route: RecipientRoute;
}

export interface Envelope {
  /** The id shown in the 250 reply, logs and the Received header. */
  id: string;
  greeting: 'HELO' | 'EHLO';
  helo: string;
  mailFrom: Path | null; // null: the null reverse-path <> (RFC 5321 §4.5.5)
  declaredSize: number | undefined; // RFC 1870
  body: '7BIT' | '8BITMIME'; // RFC 6152
  smtputf8: boolean; // RFC 6531
  /** MAIL's AUTH= (RFC 4954 §5), xtext decoded: the original submitter as the client asserts it, or "<>". */
  authAuthor?: string | undefined;
  recipients: Recipient[];
}

/** Facts about the connection a check or the Received header needs. */
export interface Peer {
  sessionId: string;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** A submission listener (587/465, RFC 6409): its clients are users about to log in, not MTAs. */
  submission?: boolean;
  /** Set once TLS is up (implicit or STARTTLS): for Received (RFC 8314 §4.3) and SASL channel binding. */
  tls?: { protocol: string; cipher: string };
  tlsSocket?: import('node:tls').TLSSocket;
  /** The SASL login, once AUTH succeeded. */
  authenticated?: string;
  /** The SASL mechanism that login used, e.g. SCRAM-SHA-256 (milters' `{auth_type}`). */
  authMechanism?: string;
  /** The account that logged in: one removed and made again under the same name is another. */
  authAccountId?: number;
  /** Set by the listener once the connection has closed: a message not yet stored then is not stored. */
  gone?: boolean;
  /** Set by the message handler while it writes the message to the store: shutdown waits for the 250. */
  storing?: boolean;
}
