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
import { type Reply, renderReply, replies, reply, textstring } from './replies.ts';
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

/**
 * What a busy connection waits for; a shutdown treats each its own way (drain(), cut()). `check`: a
 * check or an AUTH step, whose outcome only answers one command (the policy's tarpit delay, a failed
 * login's delay among them); `message`: the message pipeline (checks, milters, the store); `sleep`:
 * the error sleep before this batch of replies.
 */
type Wait = { kind: 'check' } | { kind: 'message'; id: string } | { kind: 'sleep'; wake(): void };

/** A handler's work under way, and what the connection waits for while it runs. */
interface Task {
  promise: Promise<Outcome>;
  wait: Exclude<Wait, { kind: 'sleep' }>;
}

/** A store that cannot answer (the database down, a timeout, too many connections): its errors carry a STORE_* code. */
function storeUnavailable(err: unknown): err is Error {
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('STORE_');
}

/**
 * A store whose file system (or database server's disk) is full. RFC 3463 §3.4: X.3.1 "mail system
 * full"; RFC 5321 §4.3.2 lists 452 for MAIL, RCPT and the end of data.
 */
export const INSUFFICIENT_STORAGE: Reply = reply(452, '4.3.1', 'Insufficient system storage');

/**
 * The words the end of data uses for the same cause (src/server/inbound.ts), so a sender's log shows one
 * cause at RCPT and at DATA: 452 4.3.1 for a full store, 451 for a store outage, 451 for a fault of ours.
 */
function failureReply(err: unknown): Reply {
  if (!storeUnavailable(err)) return replies.localError();
  return storeFull(err) ? INSUFFICIENT_STORAGE : replies.storeUnavailable();
}

function storeFull(err: Error): boolean {
  return (err as Error & { code: string }).code === 'STORE_FULL';
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
  /** What each busy connection waits for (a STARTTLS handshake, the listener's, is not here). */
  readonly #waits = new WeakMap<Connection, Wait>();

  constructor(host: RunnerHost) {
    this.#host = host;
  }

  /**
   * The client restrictions decide between the 220 greeting, a 554 refusal (RFC 5321 §3.1: then
   * 503 to all but QUIT) and a 421 close; they see whether the client talked before the greeting.
   */
  greet(conn: Connection): void {
    // Closed meanwhile (a shutdown during the greet delay): no 220 after its 421.
    if (conn.socket.destroyed || conn.closing) return;
    const request: CheckRequest = {
      type: 'check',
      stage: 'connect',
      pregreet: conn.early.length > 0,
      talked: () => conn.early.length > 0,
    };
    const begin = (outcome: CheckOutcome | MessageOutcome) => {
      if (conn.socket.destroyed || conn.closing) return; // a shutdown answered it 421 meanwhile (drain())
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
      this.#waits.set(conn, { kind: 'check' });
      outcome
        .catch((err: unknown): CheckOutcome => {
          this.#logFailure(conn, err, 'connect check failed');
          return { action: 'disconnect', reply: replies.localErrorClosing(this.#host.options.session.hostname) };
        })
        .then((o) => {
          conn.busy = false;
          this.#waits.delete(conn);
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
    this.#host.options.handlers.clientEnded?.(conn.peer);
    if (conn.greeted && !conn.busy && !conn.closing) this.#endOurSide(conn);
  }

  #endOurSide(conn: Connection): void {
    const { socket } = conn;
    this.#host.replyBatch.flush(socket);
    if (!socket.destroyed) socket.end();
    this.#linger(conn);
  }

  /**
   * Our final reply is written (RFC 5321 §3.8: after QUIT's 221 or a 421 the server closes): the client
   * has CLOSE_LINGER_MS to read it and close, then it is cut, whatever it sends meanwhile. A plain timer,
   * not the socket's: every byte read restarts that one, and a client trickling a byte now and then
   * held its connection, and its place in maxConnections and the per-client limits, for ever. Its input
   * is dropped unread from now on (listener.ts); reading on lets its FIN close the socket at once.
   */
  #linger(conn: Connection): void {
    const { socket } = conn;
    conn.closing = true;
    conn.timeoutMs = 0;
    socket.setTimeout(0);
    if (socket.destroyed) return;
    socket.resume();
    const linger = setTimeout(() => {
      conn.peer.gone = true;
      socket.destroy();
    }, CLOSE_LINGER_MS);
    socket.once('close', () => clearTimeout(linger));
  }

  apply(conn: Connection, effects: Effect[]): void {
    const { options, stress } = this.#host;
    this.countTransaction(conn);
    // Effects: a record of the client's was read in full, or we answered; its next record starts now.
    const spoke = effects.length > 0;
    // Replies accumulate while checks answer synchronously, so a pipelined group (RFC 2920) gets
    // its replies in one write instead of one write (and one syscall) per command.
    let text = '';
    let errors = 0;
    let close = false;
    let starttls = false;
    let task: Task | undefined;
    // Under stress the first error reply ends the session (#stressCut()): what the session made of
    // the commands pipelined behind it starts no work (no check, no message, no STARTTLS).
    let cut = false;
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
                if (stress.stressed) cut = true;
              }
            }
            break;
          case 'close':
            close = true;
            break;
          case 'check': {
            if (cut) break;
            const outcome = this.#runCheck(conn, effect);
            if (outcome instanceof Promise) task = { promise: outcome, wait: { kind: 'check' } };
            else answered = outcome;
            break;
          }
          case 'message':
            if (cut) break;
            task = {
              promise: options.handlers.message(effect.envelope, effect.content, conn.peer),
              wait: { kind: 'message', id: effect.envelope.id },
            };
            break;
          case 'starttls':
            if (!cut) starttls = true;
            break;
          case 'auth':
            if (cut) break;
            task = {
              promise: options.handlers.auth
                ? options.handlers.auth(effect, conn.peer).then((outcome) => {
                    if (outcome.action === 'success') {
                      conn.peer.authenticated = outcome.username;
                      conn.peer.authMechanism = effect.mechanism;
                      if (outcome.accountId !== undefined) conn.peer.authAccountId = outcome.accountId;
                    }
                    return outcome;
                  })
                : Promise.resolve({ action: 'reject', reply: replies.authNotAvailable() }),
              wait: { kind: 'check' },
            };
            break;
          default:
            return effect satisfies never;
        }
      }
      queue = answered ? conn.session.resolved(answered) : cut && !close ? this.#stressCut(conn) : [];
    }
    this.countTransaction(conn);
    // Postfix smtpd_error_sleep_time: past the soft limit, each error reply costs the client time. Not
    // while the listener drains (the sleep would hold the shutdown, drain()), nor for a session cut
    // under stress: it would hold a slot for nothing.
    const soft = options.softErrorLimit ?? Number.POSITIVE_INFINITY;
    const over = Math.min(errors, conn.errorReplies - soft);
    const sleepMs = over > 0 && !cut && !this.#host.draining() ? over * (options.errorSleepMs ?? 0) : 0;
    if (sleepMs > 0) {
      conn.busy = true;
      conn.socket.pause();
      const wake = (preempted: boolean) => {
        clearTimeout(timer);
        this.#waits.delete(conn);
        conn.busy = false;
        if (conn.socket.destroyed) {
          // The close came while we slept ('close' left the release to us, busy as we were): the content
          // the session held goes back to the budget now, or once the pending task has settled.
          if (task) this.#await(conn, task);
          else conn.session.released();
          return;
        }
        conn.socket.resume();
        // The shutdown began while it slept (drain()): its replies, then 421; unless a message (the
        // grace is for it) or a TLS handshake (the 220 is among the replies) follows them.
        if (preempted && !close && !starttls && task?.wait.kind !== 'message') {
          this.#host.replyBatch.send(conn.socket, text);
          this.apply(conn, conn.session.abort(replies.shuttingDown(options.session.hostname)));
          if (task) this.#await(conn, task); // settled, never answered: the session is closed
          return;
        }
        this.#finish(conn, text, close, task, spoke);
        // A STARTTLS pipelined behind the error (RFC 2920): its 220 is out now, so is the handshake.
        if (starttls && !close) this.#host.startTls(conn);
      };
      const timer = setTimeout(() => wake(false), sleepMs);
      this.#waits.set(conn, { kind: 'sleep', wake: () => wake(true) });
      return;
    }
    this.#finish(conn, text, close, task, spoke);
    if (starttls && !close) this.#host.startTls(conn);
  }

  /**
   * Postfix's STRESS_README: smtpd_hard_error_limit = ${stress?1}${stress:20}. A listener under stress
   * closes a client at its first error reply, with 421 (RFC 5321 §3.8), and without the error sleep:
   * otherwise a dictionary bot answered 20 refusals, each past the soft limit after a sleep and a
   * tarpit delay, held its slot for minutes while legitimate clients got 421 too many connections.
   * The 421 and close the session makes of it, logged here (not again as a refusal).
   */
  #stressCut(conn: Connection): Effect[] {
    const reply = replies.tooManyErrors(this.#host.options.session.hostname);
    if (this.#host.clientLog.allows(conn.peer.remoteAddress)) {
      conn.log.info(
        { code: reply.code, enhanced: reply.enhanced, errors: conn.errorReplies },
        'under stress: closed at its first error (Postfix: smtpd_hard_error_limit 1 under stress)',
      );
    }
    return conn.session.abort(reply, true);
  }

  /**
   * The listener begins to drain. RFC 5321 §3.8: a server shutting down SHOULD answer 421 before it
   * closes. An idle session gets it now. So does one waiting, outside a transaction, on a check or an
   * AUTH step (a greeting's DNS list, a tarpit's delay, a failed login's) or sleeping before its error
   * replies: nothing is in flight to finish there, only the reply to one command (the error sleep's
   * replies are written first), and the wait would hold the shutdown. A transaction under way (its
   * RCPT or BDAT check too: an honest sender's DNS list or account look-up, which cannot be told from
   * a tarpit's delay here), a message in the pipeline and a STARTTLS handshake have the grace; cut()
   * ends what is left of them.
   */
  drain(conn: Connection): void {
    if (conn.closing) return;
    const wait = this.#waits.get(conn);
    if (wait?.kind === 'sleep') wait.wake();
    else if (wait?.kind === 'check' && !conn.session.inTransaction) {
      this.apply(conn, conn.session.abort(replies.shuttingDown(this.#host.options.session.hostname)));
    } else {
      // A busy session is in its transaction (a message, a check) or a STARTTLS handshake: nothing to
      // say now; the session answers 421 when its transaction ends (SmtpSession.shutdown()).
      const effects = conn.session.shutdown();
      if (!conn.busy) this.apply(conn, effects);
    }
  }

  /**
   * The grace is over: a session still open hears 421 before it is cut (RFC 5321 §3.8). A message
   * still in the pipeline (its checks, the milters) is dropped with its pending reply, and `gone` is
   * set now, before anything is written or destroyed: checks that finish before the socket's close
   * must not store it behind the 421 (the client keeps it and sends it again: a duplicate). One line
   * says so; a message the store still writes (past STORE_FINISH_MS) may be stored all the same.
   */
  cut(conn: Connection): void {
    if (conn.closing) return;
    const sleeping = this.#waits.get(conn);
    if (sleeping?.kind === 'sleep') {
      sleeping.wake();
      if (conn.closing) return;
    }
    const reply = replies.shuttingDown(this.#host.options.session.hostname);
    const wait = this.#waits.get(conn);
    // Busy with nothing of ours: a STARTTLS handshake (RFC 3207 §4), where no reply can be said; the
    // listener destroys it with the rest.
    if (conn.busy && wait === undefined) return;
    if (wait?.kind !== 'message') {
      this.apply(conn, conn.session.abort(reply));
      return;
    }
    conn.peer.gone = true;
    const fields = { id: wait.id, code: reply.code, enhanced: reply.enhanced };
    if (conn.peer.storing) {
      conn.log.warn(
        fields,
        'shutdown: the store was still writing the message when the connection was cut; answered 421, it may be stored and sent again',
      );
    } else {
      conn.log.warn(
        fields,
        'shutdown: message cut before it was stored; answered 421, not stored (the client retries)',
      );
    }
    this.apply(conn, conn.session.abort(reply, true));
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
  #finish(conn: Connection, text: string, close: boolean, task: Task | undefined, spoke: boolean): void {
    const { replyBatch } = this.#host;
    const { socket } = conn;
    if (close) {
      replyBatch.flush(socket);
      if (!socket.destroyed) socket.end(text);
      this.#linger(conn);
      return;
    }
    // Its final reply is out: nothing re-arms its socket's timer, nor answers for it (#linger()).
    if (conn.closing) return;
    if (!socket.destroyed) replyBatch.send(socket, text);
    if (task) {
      this.#await(conn, task);
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
   * Keeps the listeners' gauge of mail transactions under way in step with the session: MAIL accepted
   * opens one; the message answered, RSET, a refusal that ends it, or the connection gone closes it.
   */
  countTransaction(conn: Connection): void {
    const gauge = this.#host.options.transactions;
    if (!gauge) return;
    const open = conn.session.inTransaction && !conn.socket.destroyed;
    if (open === conn.inTransaction) return;
    conn.inTransaction = open;
    if (open) gauge.opened(conn);
    else gauge.closed(conn);
  }

  /** Waits for a handler's outcome and answers the session with it, unless the session has ended meanwhile. */
  #await(conn: Connection, task: Task): void {
    const { storeOutage } = this.#host;
    conn.busy = true;
    this.#waits.set(conn, task.wait);
    task.promise
      .catch((err: unknown): Outcome => {
        this.#logFailure(conn, err, 'handler failed');
        return { action: 'reject', reply: this.#failureReply(err) };
      })
      .then((outcome) => {
        conn.busy = false;
        this.#waits.delete(conn);
        // A 250 for a message (or a VRFY) means the store answered: an outage under way is over.
        if (storeOutage.out && outcome.action === 'reply' && outcome.reply.code === 250) {
          storeOutage.succeeded();
        }
        // The client left while we worked, or a shutdown answered 421 meanwhile (drain(), cut()): the
        // outcome is answered to no one, and the content is free only now.
        if (conn.socket.destroyed || conn.closing) {
          conn.session.released();
          return;
        }
        this.apply(conn, conn.session.resolved(outcome));
        this.backpressure(conn);
      });
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

  /**
   * The reply to a handler's failure. A full store also tells the free-space check (storeFull), so the
   * next MAIL FROM asks the file system again rather than trust a reading up to a second old.
   */
  #failureReply(err: unknown): Reply {
    if (storeUnavailable(err) && storeFull(err)) this.#host.options.storeFull?.();
    return failureReply(err);
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
      return { action: 'reject', reply: this.#failureReply(err) };
    }
  }
}
