/** One client connection and what the listener keeps for it: its socket, session, peer and state. */
import type net from 'node:net';
import type { Logger } from '../log/logger.ts';
import type { Peer } from './envelope.ts';
import type { SmtpSession } from './session.ts';

/**
 * How long a client may take to close after our final reply before we cut the connection: counted by a
 * timer of its own from that reply, which nothing the client sends afterwards restarts.
 */
export const CLOSE_LINGER_MS = 1000;

export class Connection {
  socket: net.Socket; // a tls.TLSSocket once TLS is up
  readonly session: SmtpSession;
  readonly peer: Peer;
  greeted = false; // the greeting (or the refusal) went out; before it, input is held
  early: Buffer[] = []; // input that came before the greeting
  errorReplies = 0;
  busy = false; // an effect is being carried out, or a reply is being delayed
  closing = false; // the final reply is written; the client has the linger to read it and close, its input dropped
  timeoutMs = 0; // the socket timeout now armed
  inTransaction = false; // counted in the listener's TransactionGauge
  lastInputAt = 0; // performance.now() of the last bytes read, for the TransactionGauge
  readonly #logger: Logger;
  #log: Logger | undefined;

  constructor(socket: net.Socket, session: SmtpSession, peer: Peer, logger: Logger) {
    this.socket = socket;
    this.session = session;
    this.peer = peer;
    this.#logger = logger;
  }

  /**
   * The session's logger. A pino child per connection costs more than most of a session's commands,
   * and most sessions log nothing at the level configured, so it is made when first used. A getter
   * on the class, not on each connection's object: an accessor in an object literal is defined by
   * a runtime call per connection.
   */
  get log(): Logger {
    // The client on every line, as the policy's lines have it: one grep follows a client's sessions.
    this.#log ??= this.#logger.child({ session: this.peer.sessionId, client: this.peer.remoteAddress });
    return this.#log;
  }
}

const idPrefix = Date.now().toString(36).slice(-5);
let idCounter = 0;

/** A connection's id from its first byte, so every line about it (a handshake's too) carries it. */
export function nextSessionId(): string {
  return `${idPrefix}${(++idCounter).toString(36).padStart(5, '0')}`;
}
