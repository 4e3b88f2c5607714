/**
 * What an SMTP listener is given: where to listen, its limits and timers, how it speaks TLS, and the
 * handlers that carry out the session's effects (checks, the message pipeline, AUTH).
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { ClientLogBudget } from '../log/client-budget.ts';
import type { Logger } from '../log/logger.ts';
import type { OutageLog } from '../log/outage.ts';
import type { Envelope, Peer } from './envelope.ts';
import type { Reply } from './replies.ts';
import type { AuthOutcome, CheckOutcome, Effect, MessageOutcome, SessionOptions } from './session.ts';
import type { TransactionGauge } from './transaction-gauge.ts';

/** A stage's check: the session's, or `connect` (the client restrictions, before the greeting). */
export type CheckRequest =
  | Extract<Effect, { type: 'check' }>
  /**
   * `pregreet`: the client sent something before the greeting (postscreen's PREGREET). `talked` says
   * whether it has by now: bytes that arrive while the client restrictions still run (a slow DNS list)
   * come before the greeting too.
   */
  | { type: 'check'; stage: 'connect'; pregreet: boolean; talked?: () => boolean };

export interface SmtpHandlers {
  /**
   * May answer synchronously (a cached look-up): the session then goes on without a round trip.
   * A `vrfy` check answers with a `reply` outcome.
   */
  check(request: CheckRequest, peer: Peer): CheckOutcome | MessageOutcome | Promise<CheckOutcome | MessageOutcome>;
  /** Runs the pipeline for a received message; its reply is sent only once it resolves (250 = durable). */
  message(envelope: Envelope, content: Buffer, peer: Peer): Promise<MessageOutcome>;
  /** The connection is gone (per-client concurrency accounting). */
  disconnected?(peer: Peer): void;
  /** The client closed its sending side (a TCP half-close): a wait that only delays a refusal may end now. */
  clientEnded?(peer: Peer): void;
  /** One SASL step of AUTH (RFC 4954); only called on a TLS connection of a submission listener. */
  auth?(request: Extract<Effect, { type: 'auth' }>, peer: Peer): Promise<AuthOutcome>;
  /**
   * Admits each connection as it is accepted, before any greet delay: the server's per-client
   * connection count and rate (InboundPolicy.admit), taken there as postscreen takes its count, so
   * that connections held in the delay cannot fill `maxConnections`. A refusal is the connection's
   * only reply (RFC 5321 §3.1: a 421 in place of the greeting closes it) and it never becomes a session.
   */
  admit?(peer: Peer): Admission;
}

/** `logged`: the handler logged the refusal with its reason; the listener does not log it again. */
export type Admission = { action: 'continue' } | { action: 'disconnect'; reply: Reply; logged?: true };

/** How this listener speaks TLS: STARTTLS on a plaintext port (RFC 3207) or implicit TLS (RFC 8314). */
export interface ListenerTls {
  mode: 'starttls' | 'implicit';
  /** Server options for each handshake: the secure context (certificates, SNI), versions, ciphers. */
  options(): tls.TlsOptions;
  /** Called on every TLS socket once it is up (e.g. to disable renegotiation). */
  harden?(socket: tls.TLSSocket): void;
  /** The SASL mechanisms to offer on this TLS connection (submission only). */
  mechanisms?(socket: tls.TLSSocket): readonly string[];
}

export interface ListenerOptions {
  host: string;
  port: number;
  session: Omit<SessionOptions, 'sessionId'>;
  /** Wait this long before the greeting; a client that talks meanwhile is a pregreet (postscreen). */
  greetDelayMs?: number;
  /** Postfix smtpd_soft_error_limit and smtpd_error_sleep_time: past the limit, error replies wait. */
  softErrorLimit?: number;
  errorSleepMs?: number;
  maxConnections: number;
  /** Absent: plaintext only, no STARTTLS offered. */
  tls?: ListenerTls;
  idleTimeoutMs: number;
  dataTimeoutMs: number;
  /**
   * Postfix's smtpd_min_data_rate, in octets a second: a DATA phase, or a BDAT transaction from its
   * first chunk to LAST, must end by dataTimeoutMs plus its octets read at this rate (stress.ts).
   * Absent: 500, Postfix's default; 0: no such deadline, only dataTimeoutMs between two reads.
   */
  minDataRate?: number;
  /** How long a TLS handshake may take before the connection is dropped; 30 s when absent. */
  tlsHandshakeTimeoutMs?: number;
  /** Shared by the server's listeners, so that a store outage is said once (src/log/outage.ts). */
  storeOutage?: OutageLog;
  /**
   * A check or handler met a full store (a StoreFullError: greylisting's write at RCPT): answered 452
   * 4.3.1, and this is told, so that the next MAIL FROM asks the file system again (the server's
   * free-space check, src/server/free-space.ts). Absent: only the reply.
   */
  storeFull?: () => void;
  /** Shared by the server's listeners: the mail transactions under way, for the store's commit delay. */
  transactions?: TransactionGauge;
  /**
   * Implicit TLS: handshakes under way one client may have (0 or absent: no limit), counted by
   * `clientOf` (an IPv6 network as one client; undefined for a client no limit applies to, as
   * `limits.exceptions`); the per-client limit of the policy only sees sessions.
   */
  maxHandshakesPerClient?: number;
  clientOf?: (address: string) => string | undefined;
  /**
   * Postfix's stress mode (STRESS_README): with the listener nearly full, idle and data timeouts drop to
   * this, and each bounds a whole record (smtpd_per_record_deadline): a command line, or 1 KiB of content,
   * must arrive within it. So clients that hold connections without sending, or trickle a byte at a time,
   * make room for others (stress.ts). Under stress the hard error limit is also 1, without error sleep
   * (Postfix's smtpd_hard_error_limit, effect-runner.ts). Absent or 0: off.
   */
  stressTimeoutMs?: number;
  /**
   * Accepting a connection failed after listen (EMFILE or ENFILE once libuv has no spare descriptor
   * left to drop it quietly, src/server/descriptor-watch.ts). Absent: an error line.
   */
  acceptFailed?: (err: Error, fields: Record<string, unknown>) => void;
  /**
   * Listens on a port bound before the server gave up root's rights (src/server/early-ports.ts)
   * instead of binding host:port itself. Absent: listen() binds.
   */
  takeOver?: (server: net.Server) => Promise<void>;
  logger: Logger;
  /**
   * The lines a client's refusals may add a minute, across its connections (src/log/client-budget.ts);
   * shared by the server's listeners and its policy, which closes it. Absent: the listener keeps its
   * own, counted by `clientOf`, and closes it with itself.
   */
  clientLog?: ClientLogBudget;
  handlers: SmtpHandlers;
}
