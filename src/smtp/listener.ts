/**
 * The thin adapter between node:net sockets and SmtpSession: it writes replies, runs the effects
 * (checks, storage) through the handlers, keeps the timers (RFC 5321 §4.5.3.2) and the connection
 * limit, and decides nothing about the protocol.
 */
import net from 'node:net';
import tls from 'node:tls';
import { socketAddress } from '../dns/ip.ts';
import type { Logger } from '../log/logger.ts';
import { OutageLog } from '../log/outage.ts';
import type { Envelope, Peer } from './envelope.ts';
import { renderReply, replies } from './replies.ts';
import { ReplyBatch } from './reply-batch.ts';
import {
  type AuthOutcome,
  type CheckOutcome,
  type Effect,
  type MessageOutcome,
  type SessionOptions,
  SmtpSession,
} from './session.ts';

/** A stage's check: the session's, or `connect` (the client restrictions, before the greeting). */
export type CheckRequest =
  | Extract<Effect, { type: 'check' }>
  /** `pregreet`: the client sent something before the greeting (postscreen's PREGREET). */
  | { type: 'check'; stage: 'connect'; pregreet: boolean };

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
  /** One SASL step of AUTH (RFC 4954); only called on a TLS connection of a submission listener. */
  auth?(request: Extract<Effect, { type: 'auth' }>, peer: Peer): Promise<AuthOutcome>;
}

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
  /** How long a TLS handshake may take before the connection is dropped; 30 s when absent. */
  tlsHandshakeTimeoutMs?: number;
  /** Shared by the server's listeners, so that a store outage is said once (src/log/outage.ts). */
  storeOutage?: OutageLog;
  /**
   * Implicit TLS: handshakes under way one client may have (0 or absent: no limit), counted by
   * `clientOf` (an IPv6 network as one client; undefined for a client no limit applies to, as
   * `limits.exceptions`); the per-client limit of the policy only sees sessions.
   */
  maxHandshakesPerClient?: number;
  clientOf?: (address: string) => string | undefined;
  /**
   * Postfix's stress mode (STRESS_README): with the listener nearly full, idle and data timeouts drop to
   * this, so clients that hold connections without sending (or a slow trickle) make room for others.
   * Absent or 0: off.
   */
  stressTimeoutMs?: number;
  logger: Logger;
  handlers: SmtpHandlers;
}

/** One client connection and what the listener keeps for it. */
class Connection {
  socket: net.Socket; // a tls.TLSSocket once TLS is up
  readonly session: SmtpSession;
  readonly peer: Peer;
  greeted = false; // the greeting (or the refusal) went out; before it, input is held
  early: Buffer[] = []; // input that came before the greeting
  errorReplies = 0;
  busy = false; // an effect is being carried out, or a reply is being delayed
  closing = false; // the final reply is written; the client has a moment to read it and close
  timeoutMs = 0; // the socket timeout now armed
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

/** A store that cannot answer (the database down, a timeout, too many connections): its errors carry a STORE_* code. */
function storeUnavailable(err: unknown): err is Error {
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('STORE_');
}

/**
 * Why a handshake failed, in OpenSSL's words (`http request`, `wrong version number`, `no shared
 * cipher`), without its error stack's hex codes and source file paths; a socket error's message otherwise.
 */
function tlsReason(err: Error): string {
  const reason = (err as { reason?: unknown }).reason;
  return typeof reason === 'string' && reason !== '' ? reason : err.message.trim();
}

/** How long a TLS handshake may take before the connection is dropped, unless configured. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** How long a client may take to close after our final reply before we cut the connection. */
const CLOSE_LINGER_MS = 1000;
/**
 * How long shutdown waits, after its grace, for messages the store is writing to be acknowledged (250)
 * or refused (451). The store bounds its own calls (PostgreSQL: a statement 30 s, an unanswering
 * server 35 s, src/store/postgres/pool.ts); a client cut before that hears nothing while its message
 * may still be committed, and sends it again: the duplicate this wait is for.
 */
const STORE_FINISH_MS = 45_000;
/** Pipelined input held while a check or the store works, before the socket stops reading. */
const MAX_BUFFERED_INPUT = 256 * 1024;
/**
 * Replies waiting for a client that does not read them: past this the socket stops reading, so the
 * replies a client's commands make (an EHLO reply is 20 times its command) cannot pile up in memory.
 */
const MAX_PENDING_OUTPUT = 256 * 1024;
/** The listener is under stress from this share of maxConnections on, and until it falls below the second. */
const STRESS_ON = 0.8;
const STRESS_OFF = 0.6;

/**
 * Lines about connections that never became sessions (a failed or timed-out TLS handshake on port
 * 465, a refusal at maxConnections): one client can open thousands a second, none of which the
 * session limits see. At most this many a second per listener; the next line logged counts the rest.
 */
const PRE_SESSION_LINES_PER_SECOND = 20;

class LineThrottle {
  #windowStart = 0;
  #inWindow = 0;
  #skipped = 0;

  /** Undefined: drop this line. Otherwise the fields to add (how many were dropped before it). */
  take(now: number): { notLogged?: number } | undefined {
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= PRE_SESSION_LINES_PER_SECOND) {
      this.#skipped++;
      return undefined;
    }
    this.#inWindow++;
    const skipped = this.#skipped;
    this.#skipped = 0;
    return skipped > 0 ? { notLogged: skipped } : {};
  }
}

const idPrefix = Date.now().toString(36).slice(-5);
let idCounter = 0;

function nextSessionId(): string {
  return `${idPrefix}${(++idCounter).toString(36).padStart(5, '0')}`;
}

export class SmtpListener {
  private readonly options: ListenerOptions;
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  /** Implicit-TLS sockets whose handshake is under way: not sessions yet, but descriptors all the same. */
  private readonly handshaking = new Set<net.Socket>();
  private readonly handshakesPerClient = new Map<string, number>();
  private draining = false;
  private stressed = false;
  private readonly storeOutage: OutageLog;
  private readonly preSessionLines = new LineThrottle();
  private readonly replyBatch = new ReplyBatch();

  constructor(options: ListenerOptions) {
    this.options = options;
    this.storeOutage = options.storeOutage ?? new OutageLog(options.logger, { name: 'store', level: 'error' });
    const implicit = options.tls?.mode === 'implicit' ? options.tls : undefined;
    this.server = net.createServer({ noDelay: true }, (socket) =>
      implicit ? this.handshake(socket, implicit, nextSessionId()) : this.accept(socket, nextSessionId()),
    );
  }

  /**
   * RFC 8314 §3.3: TLS from the first byte; the SMTP greeting follows the handshake. Each handshake
   * takes the certificates as they are now, so a renewed certificate serves the next client.
   */
  private handshake(raw: net.Socket, config: ListenerTls, sessionId: string): void {
    // The session id from the first byte, so every line about the connection carries it.
    const remote = { session: sessionId, client: socketAddress(raw.remoteAddress ?? '') };
    // Connections still in their handshake count toward maxConnections: uncounted, a flood that never
    // sends a ClientHello would hold a descriptor each for the handshake timeout, without limit, until
    // the process ran out of them on every port. No SMTP reply is possible before TLS: the socket closes.
    if (this.draining || this.connections.size + this.handshaking.size >= this.options.maxConnections) {
      this.preSessionLog('warn', { ...remote, phase: 'tls-handshake' }, 'too many connections: closed before TLS');
      raw.destroy();
      return;
    }
    // One client must not take the listener's every slot with handshakes it never finishes.
    const client = this.options.clientOf ? this.options.clientOf(remote.client) : remote.client;
    const max = client === undefined ? 0 : (this.options.maxHandshakesPerClient ?? 0);
    const underway = client === undefined ? 0 : (this.handshakesPerClient.get(client) ?? 0);
    if (max > 0 && underway >= max) {
      this.preSessionLog(
        'warn',
        { ...remote, phase: 'tls-handshake' },
        'too many TLS handshakes from this client: closed',
      );
      raw.destroy();
      return;
    }
    if (client !== undefined) this.handshakesPerClient.set(client, underway + 1);
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      this.handshaking.delete(raw);
      if (client === undefined) return;
      const left = (this.handshakesPerClient.get(client) ?? 1) - 1;
      if (left > 0) this.handshakesPerClient.set(client, left);
      else this.handshakesPerClient.delete(client);
    };
    this.handshaking.add(raw);
    raw.once('close', () => {
      done();
      this.checkStress();
    });
    this.checkStress();
    const secure = new tls.TLSSocket(raw, { ...config.options(), isServer: true });
    const timer = setTimeout(() => {
      this.preSessionLog('info', { ...remote, phase: 'tls-handshake' }, 'timeout');
      secure.destroy();
    }, this.handshakeTimeout());
    secure.once('secure', () => {
      clearTimeout(timer);
      done(); // a session now, counted as one (and by the policy's per-client limit)
      this.accept(secure, sessionId);
    });
    secure.once('error', (err) => {
      clearTimeout(timer);
      if (!this.connectionOf(secure))
        this.preSessionLog('info', { ...remote, reason: tlsReason(err) }, 'TLS handshake failed');
      secure.destroy();
    });
  }

  private connectionOf(socket: net.Socket): Connection | undefined {
    for (const c of this.connections) if (c.socket === socket) return c;
    return undefined;
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as net.AddressInfo;
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private preSessionLog(level: 'info' | 'warn', fields: Record<string, unknown>, message: string): void {
    const extra = this.preSessionLines.take(performance.now());
    if (extra) this.options.logger[level]({ ...fields, ...extra }, message);
  }

  private anyStoring(): boolean {
    for (const c of this.connections) if (c.peer.storing && !c.socket.destroyed) return true;
    return false;
  }

  /**
   * Stops accepting, closes idle sessions with 421, lets busy ones finish within graceMs, then cuts
   * the rest, except a message the store is writing: its 250 is waited for (STORE_FINISH_MS at most).
   */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) if (!c.busy) this.apply(c, c.session.shutdown());
    // The monotonic clock: NTP stepping the wall clock during a shutdown must not stretch or cut the grace.
    const deadline = performance.now() + graceMs;
    while (this.connections.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // A message the store is writing when grace ends gets its 250 before the cut: cut now, it would be
    // stored and the client, never told, would send it again (the duplicate RFC 1047 describes).
    const storeDeadline = performance.now() + STORE_FINISH_MS;
    while (this.anyStoring() && performance.now() < storeDeadline) await new Promise((r) => setTimeout(r, 10));
    // Grace is over: a session still between commands hears why before it is cut (RFC 5321 §3.8).
    const hostname = this.options.session.hostname;
    for (const c of this.connections) if (!c.busy) this.apply(c, c.session.abort(replies.shuttingDown(hostname)));
    await new Promise((r) => setTimeout(r, 50));
    for (const c of this.connections) c.socket.destroy();
    await closed;
  }

  private accept(socket: net.Socket, sessionId: string): void {
    const { logger, session: sessionOptions } = this.options;
    if (this.draining || this.connections.size >= this.options.maxConnections) {
      const reply = this.draining
        ? replies.shuttingDown(sessionOptions.hostname)
        : replies.tooManyConnections(sessionOptions.hostname);
      this.preSessionLog(
        'warn',
        { session: sessionId, client: socketAddress(socket.remoteAddress ?? ''), code: reply.code },
        reply.lines[0]!,
      );
      socket.on('error', () => socket.destroy());
      socket.end(renderReply(reply));
      // end() closes our side only: a client that never closes its own would keep the descriptor.
      const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
      socket.once('close', () => clearTimeout(linger));
      return;
    }
    const session = new SmtpSession({ ...sessionOptions, sessionId });
    const remoteAddress = socketAddress(socket.remoteAddress ?? '');
    const peer: Peer = {
      sessionId,
      remoteAddress,
      remotePort: socket.remotePort ?? 0,
      localAddress: socketAddress(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
      ...(sessionOptions.submission ? { submission: true } : {}),
    };
    const conn = new Connection(socket, session, peer, logger);
    this.connections.add(conn);
    this.checkStress();
    if (logger.isLevelEnabled('debug')) conn.log.debug({ port: peer.remotePort }, 'connected');
    if (socket instanceof tls.TLSSocket) this.secured(conn, socket);
    this.attach(conn, socket);
    socket.on('close', () => {
      conn.peer.gone = true;
      // A message a handler still works on (authentication, milters, the store) is still in memory:
      // its share is given back when the handler ends (apply()). A client that sends a message and
      // hangs up at once must not free the budget for the next one while the first is processed.
      if (!conn.busy) conn.session.released();
      this.connections.delete(conn);
      this.checkStress();
      this.options.handlers.disconnected?.(conn.peer);
      if (logger.isLevelEnabled('debug')) conn.log.debug('disconnected');
    });
    conn.timeoutMs = this.timeoutFor('');
    socket.setTimeout(conn.timeoutMs);
    const delay = this.options.greetDelayMs ?? 0;
    if (delay > 0) setTimeout(() => this.greet(conn), delay);
    else this.greet(conn);
  }

  /** Reads from `socket` into the session; a socket replaced by STARTTLS stops being read. */
  private attach(conn: Connection, socket: net.Socket): void {
    const { session } = conn;
    socket.on('data', (chunk: Buffer) => {
      if (conn.socket !== socket) return;
      if (!conn.greeted) {
        conn.early.push(chunk);
        if (conn.early.length === 1) socket.pause(); // a pregreet is noted; what it says waits
        return;
      }
      this.apply(conn, session.receive(chunk));
      this.backpressure(conn);
    });
    // Replies written: reading may go on (backpressure()); a session waiting on us or sleeping decides later.
    socket.on('drain', () => {
      if (conn.socket === socket && conn.greeted && !conn.busy) this.backpressure(conn);
    });
    socket.on('timeout', () => {
      if (conn.socket !== socket) return;
      if (conn.closing) return socket.destroy(); // it did not close after our final reply
      if (conn.busy) return; // waiting on ourselves is not the client's delay
      conn.log.info({ phase: session.phaseName }, 'timeout');
      this.apply(conn, session.abort(replies.timeout(this.options.session.hostname)));
    });
    socket.on('error', (err) => {
      if (this.options.logger.isLevelEnabled('debug')) conn.log.debug({ err: err.message }, 'socket error');
    });
  }

  /** TLS is up: note protocol and cipher for the Received header (RFC 8314 §4.3) and harden it. */
  private secured(conn: Connection, socket: tls.TLSSocket): void {
    this.options.tls?.harden?.(socket);
    const cipher = socket.getCipher();
    conn.peer.tls = { protocol: socket.getProtocol() ?? 'TLS', cipher: cipher?.standardName ?? cipher?.name ?? '' };
    conn.peer.tlsSocket = socket;
    const mechanisms = this.options.tls?.mechanisms?.(socket);
    if (mechanisms) conn.session.offerMechanisms(mechanisms);
  }

  /**
   * STARTTLS (RFC 3207 §4): the 220 is out; the same TCP connection now carries a TLS handshake.
   * Nothing read before it reaches the session (CVE-2011-0411), and the session starts afresh.
   */
  private upgrade(conn: Connection): void {
    const raw = conn.socket;
    this.replyBatch.flush(raw); // the 220 goes out in the clear, before the handshake
    const config = this.options.tls;
    if (!config) {
      raw.destroy();
      return;
    }
    conn.busy = true;
    const secure = new tls.TLSSocket(raw, { ...config.options(), isServer: true });
    conn.socket = secure;
    const timer = setTimeout(() => {
      conn.log.info({ phase: 'tls-handshake' }, 'timeout');
      secure.destroy();
    }, this.handshakeTimeout());
    secure.once('close', () => clearTimeout(timer));
    conn.timeoutMs = this.timeoutFor('');
    secure.setTimeout(conn.timeoutMs);
    this.attach(conn, secure);
    secure.once('secure', () => {
      clearTimeout(timer);
      conn.busy = false;
      this.secured(conn, secure);
      this.apply(conn, conn.session.tlsStarted());
    });
    secure.once('error', (err) => {
      conn.log.info({ reason: tlsReason(err) }, 'TLS handshake after STARTTLS failed');
      secure.destroy();
    });
  }

  /**
   * The client restrictions decide between the 220 greeting, a 554 refusal (RFC 5321 §3.1: then
   * 503 to all but QUIT) and a 421 close; they see whether the client talked before the greeting.
   */
  private greet(conn: Connection): void {
    if (conn.socket.destroyed) return;
    const request: CheckRequest = { type: 'check', stage: 'connect', pregreet: conn.early.length > 0 };
    const begin = (outcome: CheckOutcome | MessageOutcome) => {
      if (conn.socket.destroyed) return;
      conn.greeted = true;
      if (outcome.action === 'disconnect') {
        this.apply(conn, conn.session.abort(outcome.reply));
        return;
      }
      const refusal = outcome.action === 'reject' ? outcome.reply : undefined;
      this.apply(conn, conn.session.start(refusal));
      if (conn.early.length > 0) {
        const early = Buffer.concat(conn.early);
        conn.early = [];
        conn.socket.resume();
        if (!conn.closing) this.apply(conn, conn.session.receive(early));
      }
      this.backpressure(conn);
    };
    const outcome = this.runCheck(conn, request);
    if (outcome instanceof Promise) {
      conn.busy = true;
      outcome
        .catch((err: unknown): CheckOutcome => {
          this.logFailure(conn, err, 'connect check failed');
          return { action: 'disconnect', reply: replies.localErrorClosing(this.options.session.hostname) };
        })
        .then((o) => {
          conn.busy = false;
          begin(o);
        });
    } else begin(outcome);
  }

  private apply(conn: Connection, effects: Effect[]): void {
    // Replies accumulate while checks answer synchronously, so a pipelined group (RFC 2920) gets
    // its replies in one write instead of one write (and one syscall) per command.
    let text = '';
    let errors = 0;
    let close = false;
    let starttls = false;
    let task: Promise<CheckOutcome | MessageOutcome | AuthOutcome> | undefined;
    let queue = effects;
    while (queue.length > 0) {
      let answered: CheckOutcome | MessageOutcome | AuthOutcome | undefined;
      for (const effect of queue) {
        switch (effect.type) {
          case 'reply':
            text += renderReply(effect.reply);
            if (effect.reply.code >= 400) {
              // Every refusal is logged with its reason, once; only the client's errors make it wait (error
              // sleep), and the session says which are not (a 452 for recipients past the limit).
              if (effect.logged !== true) {
                conn.log.info(
                  { code: effect.reply.code, enhanced: effect.reply.enhanced },
                  effect.reply.lines.join(' '),
                );
              }
              if (effect.notAnError !== true) {
                conn.errorReplies++;
                errors++;
              }
            }
            break;
          case 'close':
            close = true;
            break;
          case 'check': {
            const outcome = this.runCheck(conn, effect);
            if (outcome instanceof Promise) task = outcome;
            else answered = outcome;
            break;
          }
          case 'message':
            task = this.options.handlers.message(effect.envelope, effect.content, conn.peer);
            break;
          case 'starttls':
            starttls = true;
            break;
          case 'auth':
            task = this.options.handlers.auth
              ? this.options.handlers.auth(effect, conn.peer).then((outcome) => {
                  if (outcome.action === 'success') {
                    conn.peer.authenticated = outcome.username;
                    conn.peer.authMechanism = effect.mechanism;
                    if (outcome.accountId !== undefined) conn.peer.authAccountId = outcome.accountId;
                  }
                  return outcome;
                })
              : Promise.resolve({ action: 'reject', reply: replies.authNotAvailable() });
            break;
          default:
            return effect satisfies never;
        }
      }
      queue = answered ? conn.session.resolved(answered) : [];
    }
    // Postfix smtpd_error_sleep_time: past the soft limit, each error reply costs the client time.
    const soft = this.options.softErrorLimit ?? Number.POSITIVE_INFINITY;
    const over = Math.min(errors, conn.errorReplies - soft);
    const sleepMs = over > 0 ? over * (this.options.errorSleepMs ?? 0) : 0;
    if (sleepMs > 0) {
      conn.busy = true;
      conn.socket.pause();
      setTimeout(() => {
        conn.busy = false;
        if (conn.socket.destroyed) return;
        conn.socket.resume();
        this.finish(conn, text, close, task);
      }, sleepMs);
      return;
    }
    this.finish(conn, text, close, task);
    if (starttls && !close) this.upgrade(conn);
  }

  /** Writes a batch of replies, then closes, waits for a pending effect, or re-arms the timer. */
  private finish(
    conn: Connection,
    text: string,
    close: boolean,
    task: Promise<CheckOutcome | MessageOutcome | AuthOutcome> | undefined,
  ): void {
    const { socket } = conn;
    if (close) {
      conn.closing = true;
      this.replyBatch.flush(socket);
      if (!socket.destroyed) socket.end(text);
      socket.setTimeout(CLOSE_LINGER_MS);
      return;
    }
    if (!socket.destroyed) this.replyBatch.send(socket, text);
    if (task) {
      conn.busy = true;
      task
        .catch((err: unknown): CheckOutcome | MessageOutcome | AuthOutcome => {
          this.logFailure(conn, err, 'handler failed');
          return { action: 'reject', reply: replies.localError() };
        })
        .then((outcome) => {
          conn.busy = false;
          // A 250 for a message (or a VRFY) means the store answered: an outage under way is over.
          if (this.storeOutage.out && outcome.action === 'reply' && outcome.reply.code === 250) {
            this.storeOutage.succeeded();
          }
          if (socket.destroyed) {
            conn.session.released(); // the client left while we worked: the content is free only now
            return;
          }
          this.apply(conn, conn.session.resolved(outcome));
          this.backpressure(conn);
        });
      return;
    }
    if (this.draining && conn.session.idle) {
      this.apply(conn, conn.session.shutdown());
      return;
    }
    const timeout = this.timeoutFor(conn.session.phaseName);
    if (timeout !== conn.timeoutMs) {
      conn.timeoutMs = timeout; // re-arming costs; socket activity refreshes the running timer
      socket.setTimeout(timeout);
    }
  }

  /**
   * A handler's failure, answered 451: the store's is an outage, said when it starts, once a minute
   * while it lasts and when it ends (each session still logs its 451); anything else, a bug of ours,
   * keeps its stack under `what`.
   */
  private logFailure(conn: Connection, err: unknown, what: string): void {
    if (storeUnavailable(err)) {
      this.storeOutage.failed({ session: conn.peer.sessionId, client: conn.peer.remoteAddress }, err.message);
    } else conn.log.error({ err }, what);
  }

  /** The socket timeout for a session in this phase: RFC 5321 §4.5.3.2's, or the stress timeout. */
  private timeoutFor(phase: string): number {
    const { dataTimeoutMs, idleTimeoutMs, stressTimeoutMs } = this.options;
    const timeout = phase === 'data' || phase === 'bdat' ? dataTimeoutMs : idleTimeoutMs;
    // RFC 5321 §4.5.3.2 asks for minutes; Postfix cuts them to 10 s under stress (smtpd_timeout =
    // ${stress?{10}:{300}}s), since a full server that waits minutes for idle clients turns everyone away.
    return this.stressed && stressTimeoutMs ? Math.min(timeout, stressTimeoutMs) : timeout;
  }

  /** Postfix's smtpd_starttls_timeout is ${stress?{10}:{300}}s too. */
  private handshakeTimeout(): number {
    const timeout = this.options.tlsHandshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    const { stressTimeoutMs } = this.options;
    return this.stressed && stressTimeoutMs ? Math.min(timeout, stressTimeoutMs) : timeout;
  }

  /** Enters or leaves stress as connections come and go, and re-arms every waiting connection's timer. */
  private checkStress(): void {
    const { maxConnections, stressTimeoutMs, logger } = this.options;
    if (!stressTimeoutMs) return;
    const count = this.connections.size + this.handshaking.size;
    const stressed = this.stressed ? count >= maxConnections * STRESS_OFF : count >= maxConnections * STRESS_ON;
    if (stressed === this.stressed) return;
    this.stressed = stressed;
    if (stressed) {
      logger.warn(
        { connections: count, maxConnections, timeoutMs: stressTimeoutMs },
        `under stress: ${count} of ${maxConnections} connections; idle clients get ${stressTimeoutMs} ms instead of minutes until fewer than ${Math.ceil(maxConnections * STRESS_OFF)} are open`,
      );
    } else logger.info({ connections: count, maxConnections }, 'stress over: timeouts back to normal');
    for (const c of this.connections) {
      if (c.busy || c.closing) continue; // our own work, or its final moment, keeps its timer
      const timeout = this.timeoutFor(c.session.phaseName);
      if (timeout !== c.timeoutMs) {
        c.timeoutMs = timeout;
        c.socket.setTimeout(timeout);
      }
    }
  }

  /** A check's exception is our fault, never the client's: 451, and the session goes on. */
  private runCheck(
    conn: Connection,
    request: CheckRequest,
  ): CheckOutcome | MessageOutcome | Promise<CheckOutcome | MessageOutcome> {
    try {
      return this.options.handlers.check(request, conn.peer);
    } catch (err) {
      this.logFailure(conn, err, 'check failed');
      return { action: 'reject', reply: replies.localError() };
    }
  }

  /**
   * Input that arrives while the session waits is buffered by the session, and replies wait for a
   * client that reads slowly; past a bound of either the socket stops reading, so a client cannot make
   * us hold an unbounded pipeline, nor the replies to one.
   */
  private backpressure(conn: Connection): void {
    const output = conn.socket.writableLength + this.replyBatch.pendingBytes(conn.socket);
    const over = conn.session.bufferedBytes > MAX_BUFFERED_INPUT || output > MAX_PENDING_OUTPUT;
    if (over && !conn.socket.isPaused()) conn.socket.pause();
    else if (!over && conn.socket.isPaused()) conn.socket.resume();
  }
}
