/**
 * Carries out a session's effects on its connection: writes the replies (one batch per turn,
 * reply-batch.ts), runs the checks, the message pipeline and AUTH through the handlers, answers the
 * session with their outcomes, and keeps the error sleep, the timers and the backpressure. It decides
 * nothing about the protocol: the session does.
 */
import type { ClientLogBudget } from '../log/client-budget.ts';
import type { OutageLog } from '../log/outage.ts';
import { CLOSE_LINGER_MS, type Connection } from './connection.ts';
import type { CheckRequest, ListenerOptions } from './listener-options.ts';
import { renderReply, replies, textstring } from './replies.ts';
import type { ReplyBatch } from './reply-batch.ts';
import type { AuthOutcome, CheckOutcome, Effect, MessageOutcome } from './session.ts';
import type { StressMode } from './stress.ts';

/** Pipelined input held while a check or the store works, before the socket stops reading. */
const MAX_BUFFERED_INPUT = 256 * 1024;
/**
 * Replies waiting for a client that does not read them: past this the socket stops reading, so the
 * replies a client's commands make (an EHLO reply is 20 times its command) cannot pile up in memory.
 */
const MAX_PENDING_OUTPUT = 256 * 1024;

type Outcome = CheckOutcome | MessageOutcome | AuthOutcome;

/** A store that cannot answer (the database down, a timeout, too many connections): its errors carry a STORE_* code. */
function storeUnavailable(err: unknown): err is Error {
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('STORE_');
}

/** What the listener lends the runner: its options, the shared reply batch, and its state. */
export interface RunnerHost {
  options: ListenerOptions;
  replyBatch: ReplyBatch;
  storeOutage: OutageLog;
  /** Each refusal's line counts toward its client's budget (src/log/client-budget.ts). */
  clientLog: ClientLogBudget;
  stress: StressMode;
  draining(): boolean;
  /** The 220 to STARTTLS is decided: the listener hands the socket to TLS (RFC 3207 §4). */
  startTls(conn: Connection): void;
}

export class EffectRunner {
  readonly #host: RunnerHost;
  /** Clients that closed their sending side (TCP half-close): answered, then closed (clientEnded()). */
  readonly #ended = new WeakSet<Connection>();

  constructor(host: RunnerHost) {
    this.#host = host;
  }

  /**
   * The client restrictions decide between the 220 greeting, a 554 refusal (RFC 5321 §3.1: then
   * 503 to all but QUIT) and a 421 close; they see whether the client talked before the greeting.
   */
  greet(conn: Connection): void {
    if (conn.socket.destroyed) return;
    const request: CheckRequest = {
      type: 'check',
      stage: 'connect',
      pregreet: conn.early.length > 0,
      talked: () => conn.early.length > 0,
    };
    const begin = (outcome: CheckOutcome | MessageOutcome) => {
      if (conn.socket.destroyed) return;
      conn.greeted = true;
      if (outcome.action === 'disconnect') {
        this.apply(conn, conn.session.abort(outcome.reply, 'logged' in outcome ? outcome.logged : undefined));
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
    const outcome = this.#runCheck(conn, request);
    if (outcome instanceof Promise) {
      conn.busy = true;
      outcome
        .catch((err: unknown): CheckOutcome => {
          this.#logFailure(conn, err, 'connect check failed');
          return { action: 'disconnect', reply: replies.localErrorClosing(this.#host.options.session.hostname) };
        })
        .then((o) => {
          conn.busy = false;
          begin(o);
        });
    } else begin(outcome);
  }

  /**
   * The client closed its sending side, after its QUIT or without one (a FIN; the listener allows half-open
   * connections). All it sent has been read: what is still being worked on (a message being stored) is
   * answered, then our side closes (RFC 5321 §3.8: the server does not close before it has answered).
   * Nothing more can come, so a session with nothing pending is closed at once: a half-open
   * connection holds no slot past its last reply.
   */
  clientEnded(conn: Connection): void {
    this.#ended.add(conn);
    if (conn.greeted && !conn.busy && !conn.closing) this.#endOurSide(conn);
  }

  #endOurSide(conn: Connection): void {
    const { socket } = conn;
    conn.closing = true;
    this.#host.replyBatch.flush(socket);
    if (!socket.destroyed) socket.end();
    socket.setTimeout(CLOSE_LINGER_MS); // a client that does not read its replies is cut after the linger
  }

  apply(conn: Connection, effects: Effect[]): void {
    const { options } = this.#host;
    // Effects: a record of the client's was read in full, or we answered; its next record starts now.
    const spoke = effects.length > 0;
    // Replies accumulate while checks answer synchronously, so a pipelined group (RFC 2920) gets
    // its replies in one write instead of one write (and one syscall) per command.
    let text = '';
    let errors = 0;
    let close = false;
    let starttls = false;
    let task: Promise<Outcome> | undefined;
    let queue = effects;
    while (queue.length > 0) {
      let answered: Outcome | undefined;
      for (const effect of queue) {
        switch (effect.type) {
          case 'reply':
            text += renderReply(effect.reply);
            if (effect.reply.code >= 400) {
              // Every refusal is logged with its reason, once; only the client's errors make it wait (error
              // sleep), and the session says which are not (a 452 for recipients past the limit). A client
              // that keeps collecting them, across connections, is summed up instead (client-budget.ts).
              if (effect.logged !== true && this.#host.clientLog.allows(conn.peer.remoteAddress)) {
                // The text as the client got it (RFC 5321 §4.2.1 textstring), not the input it echoes:
                // a parameter name or domain may carry terminal controls meant for the admin's screen.
                conn.log.info(
                  { code: effect.reply.code, enhanced: effect.reply.enhanced },
                  effect.reply.lines.map((line) => textstring(line)).join(' '),
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
            const outcome = this.#runCheck(conn, effect);
            if (outcome instanceof Promise) task = outcome;
            else answered = outcome;
            break;
          }
          case 'message':
            task = options.handlers.message(effect.envelope, effect.content, conn.peer);
            break;
          case 'starttls':
            starttls = true;
            break;
          case 'auth':
            task = options.handlers.auth
              ? options.handlers.auth(effect, conn.peer).then((outcome) => {
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
    const soft = options.softErrorLimit ?? Number.POSITIVE_INFINITY;
    const over = Math.min(errors, conn.errorReplies - soft);
    const sleepMs = over > 0 ? over * (options.errorSleepMs ?? 0) : 0;
    if (sleepMs > 0) {
      conn.busy = true;
      conn.socket.pause();
      setTimeout(() => {
        conn.busy = false;
        if (conn.socket.destroyed) {
          // The close came while we slept ('close' left the release to us, busy as we were): the content
          // the session held goes back to the budget now, or once the pending task has settled.
          if (task) this.#finish(conn, '', false, task, spoke);
          else conn.session.released();
          return;
        }
        conn.socket.resume();
        this.#finish(conn, text, close, task, spoke);
        // A STARTTLS pipelined behind the error (RFC 2920): its 220 is out now, so is the handshake.
        if (starttls && !close) this.#host.startTls(conn);
      }, sleepMs);
      return;
    }
    this.#finish(conn, text, close, task, spoke);
    if (starttls && !close) this.#host.startTls(conn);
  }

  /**
   * Input that arrives while the session waits is buffered by the session, and replies wait for a
   * client that reads slowly; past a bound of either the socket stops reading, so a client cannot make
   * us hold an unbounded pipeline, nor the replies to one.
   */
  backpressure(conn: Connection): void {
    const output = conn.socket.writableLength + this.#host.replyBatch.pendingBytes(conn.socket);
    const over = conn.session.bufferedBytes > MAX_BUFFERED_INPUT || output > MAX_PENDING_OUTPUT;
    if (over && !conn.socket.isPaused()) conn.socket.pause();
    else if (!over && conn.socket.isPaused()) conn.socket.resume();
  }

  /** Writes a batch of replies, then closes, waits for a pending effect, or re-arms the timer. */
  #finish(conn: Connection, text: string, close: boolean, task: Promise<Outcome> | undefined, spoke: boolean): void {
    const { replyBatch, storeOutage } = this.#host;
    const { socket } = conn;
    if (close) {
      conn.closing = true;
      replyBatch.flush(socket);
      if (!socket.destroyed) socket.end(text);
      socket.setTimeout(CLOSE_LINGER_MS);
      return;
    }
    if (!socket.destroyed) replyBatch.send(socket, text);
    if (task) {
      conn.busy = true;
      task
        .catch((err: unknown): Outcome => {
          this.#logFailure(conn, err, 'handler failed');
          return { action: 'reject', reply: replies.localError() };
        })
        .then((outcome) => {
          conn.busy = false;
          // A 250 for a message (or a VRFY) means the store answered: an outage under way is over.
          if (storeOutage.out && outcome.action === 'reply' && outcome.reply.code === 250) {
            storeOutage.succeeded();
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
    // A client that closed its side: everything it sent is answered now (a STARTTLS waits for its handshake).
    if (this.#ended.has(conn) && conn.session.phaseName !== 'waiting') {
      this.#endOurSide(conn);
      return;
    }
    if (this.#host.draining() && conn.session.idle) {
      this.apply(conn, conn.session.shutdown());
      return;
    }
    const { stress } = this.#host;
    if (spoke) stress.recordStarts(conn);
    const timeout = stress.timeoutOf(conn);
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
  #logFailure(conn: Connection, err: unknown, what: string): void {
    if (storeUnavailable(err)) {
      this.#host.storeOutage.failed({ session: conn.peer.sessionId, client: conn.peer.remoteAddress }, err.message);
    } else conn.log.error({ err }, what);
  }

  /** A check's exception is our fault, never the client's: 451, and the session goes on. */
  #runCheck(
    conn: Connection,
    request: CheckRequest,
  ): CheckOutcome | MessageOutcome | Promise<CheckOutcome | MessageOutcome> {
    try {
      return this.#host.options.handlers.check(request, conn.peer);
    } catch (err) {
      this.#logFailure(conn, err, 'check failed');
      return { action: 'reject', reply: replies.localError() };
    }
  }
}
