/**
 * The thin adapter between node:net sockets and SmtpSession: it writes replies, runs the effects
 * (checks, storage) through the handlers, keeps the timers (RFC 5321 §4.5.3.2) and the connection
 * limit, and decides nothing about the protocol.
 */
import net from 'node:net';
import type { Logger } from '../log/logger.ts';
import type { Envelope, Peer } from './envelope.ts';
import type { Path } from './path.ts';
import { renderReply, replies } from './replies.ts';
import { type CheckOutcome, type Effect, type MessageOutcome, type SessionOptions, SmtpSession } from './session.ts';

export type CheckRequest =
  | { stage: 'helo'; helo: string }
  | { stage: 'mail'; envelope: Readonly<Envelope> }
  | { stage: 'rcpt'; envelope: Readonly<Envelope>; recipient: Path };

export interface SmtpHandlers {
  /** May answer synchronously (a cached look-up): the session then goes on without a round trip. */
  check(request: CheckRequest, peer: Peer): CheckOutcome | Promise<CheckOutcome>;
  /** Runs the pipeline for a received message; its reply is sent only once it resolves (250 = durable). */
  message(envelope: Envelope, content: Buffer, peer: Peer): Promise<MessageOutcome>;
}

export interface ListenerOptions {
  host: string;
  port: number;
  session: Omit<SessionOptions, 'sessionId'>;
  maxConnections: number;
  idleTimeoutMs: number;
  dataTimeoutMs: number;
  logger: Logger;
  handlers: SmtpHandlers;
}

interface Connection {
  socket: net.Socket;
  session: SmtpSession;
  peer: Peer;
  busy: boolean; // an effect is being carried out
  closing: boolean; // the final reply is written; the client has a moment to read it and close
  timeoutMs: number; // the socket timeout now armed
  log: Logger;
}

/** How long a client may take to close after our final reply before we cut the connection. */
const CLOSE_LINGER_MS = 1000;
/** Pipelined input held while a check or the store works, before the socket stops reading. */
const MAX_BUFFERED_INPUT = 256 * 1024;

const idPrefix = Date.now().toString(36).slice(-5);
let idCounter = 0;

export class SmtpListener {
  private readonly options: ListenerOptions;
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private draining = false;

  constructor(options: ListenerOptions) {
    this.options = options;
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
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

  /** Stops accepting, closes idle sessions with 421, lets busy ones finish within graceMs, then cuts the rest. */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) if (!c.busy) this.apply(c, c.session.shutdown());
    const deadline = Date.now() + graceMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Grace is over: a session still between commands hears why before it is cut (RFC 5321 §3.8).
    const hostname = this.options.session.hostname;
    for (const c of this.connections) if (!c.busy) this.apply(c, c.session.abort(replies.shuttingDown(hostname)));
    await new Promise((r) => setTimeout(r, 50));
    for (const c of this.connections) c.socket.destroy();
    await closed;
  }

  private accept(socket: net.Socket): void {
    const { logger, session: sessionOptions } = this.options;
    if (this.draining || this.connections.size >= this.options.maxConnections) {
      const reply = this.draining
        ? replies.shuttingDown(sessionOptions.hostname)
        : replies.tooManyConnections(sessionOptions.hostname);
      logger.warn({ remote: socket.remoteAddress, code: reply.code }, reply.lines[0]);
      socket.on('error', () => socket.destroy());
      socket.end(renderReply(reply));
      return;
    }
    const sessionId = `${idPrefix}${(++idCounter).toString(36).padStart(5, '0')}`;
    const session = new SmtpSession({ ...sessionOptions, sessionId });
    const remoteAddress = unmapped(socket.remoteAddress ?? '');
    const peer: Peer = {
      sessionId,
      remoteAddress,
      remotePort: socket.remotePort ?? 0,
      localAddress: unmapped(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
    };
    const conn: Connection = {
      socket,
      session,
      peer,
      busy: false,
      closing: false,
      timeoutMs: 0,
      log: logger.child({ session: sessionId }),
    };
    this.connections.add(conn);
    conn.log.debug({ remote: remoteAddress, port: peer.remotePort }, 'connected');
    socket.on('data', (chunk: Buffer) => {
      this.apply(conn, session.receive(chunk));
      this.backpressure(conn);
    });
    socket.on('timeout', () => {
      if (conn.closing) return socket.destroy(); // it did not close after our final reply
      if (conn.busy) return; // waiting on ourselves is not the client's delay
      conn.log.info({ phase: session.phaseName }, 'timeout');
      this.apply(conn, session.abort(replies.timeout(sessionOptions.hostname)));
    });
    socket.on('error', (err) => conn.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => {
      this.connections.delete(conn);
      conn.log.debug('disconnected');
    });
    this.apply(conn, session.start());
  }

  private apply(conn: Connection, effects: Effect[]): void {
    // Replies accumulate while checks answer synchronously, so a pipelined group (RFC 2920) gets
    // its replies in one write instead of one write (and one syscall) per command.
    let text = '';
    let close = false;
    let task: Promise<CheckOutcome | MessageOutcome> | undefined;
    let queue = effects;
    while (queue.length > 0) {
      let answered: CheckOutcome | undefined;
      for (const effect of queue) {
        switch (effect.type) {
          case 'reply':
            text += renderReply(effect.reply);
            if (effect.reply.code >= 400) {
              conn.log.info({ code: effect.reply.code, enhanced: effect.reply.enhanced }, effect.reply.lines.join(' '));
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
          default:
            return effect satisfies never;
        }
      }
      queue = answered ? conn.session.resolved(answered) : [];
    }
    const { socket } = conn;
    if (close) {
      conn.closing = true;
      if (!socket.destroyed) socket.end(text);
      socket.setTimeout(CLOSE_LINGER_MS);
      return;
    }
    if (text !== '' && !socket.destroyed) socket.write(text);
    if (task) {
      conn.busy = true;
      task
        .catch((err: unknown): CheckOutcome => {
          conn.log.error({ err }, 'handler failed');
          return { action: 'reject', reply: replies.localError() };
        })
        .then((outcome) => {
          conn.busy = false;
          if (socket.destroyed) return;
          this.apply(conn, conn.session.resolved(outcome));
          this.backpressure(conn);
        });
      return;
    }
    if (this.draining && conn.session.idle) {
      this.apply(conn, conn.session.shutdown());
      return;
    }
    const phase = conn.session.phaseName;
    const timeout = phase === 'data' || phase === 'bdat' ? this.options.dataTimeoutMs : this.options.idleTimeoutMs;
    if (timeout !== conn.timeoutMs) {
      conn.timeoutMs = timeout; // re-arming costs; socket activity refreshes the running timer
      socket.setTimeout(timeout);
    }
  }

  /** A check's exception is our fault, never the client's: 451, and the session goes on. */
  private runCheck(conn: Connection, request: CheckRequest): CheckOutcome | Promise<CheckOutcome> {
    try {
      return this.options.handlers.check(request, conn.peer);
    } catch (err) {
      conn.log.error({ err }, 'check failed');
      return { action: 'reject', reply: replies.localError() };
    }
  }

  /**
   * Input that arrives while the session waits is buffered by the session; past a bound the socket
   * stops reading, so a client cannot make us hold an unbounded pipeline.
   */
  private backpressure(conn: Connection): void {
    const over = conn.session.bufferedBytes > MAX_BUFFERED_INPUT;
    if (over && !conn.socket.isPaused()) conn.socket.pause();
    else if (!over && conn.socket.isPaused()) conn.socket.resume();
  }
}

/** "::ffff:192.0.2.1" on a dual-stack socket is the IPv4 client 192.0.2.1. */
function unmapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
