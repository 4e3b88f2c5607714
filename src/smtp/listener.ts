/**
 * The thin adapter between node:net sockets and SmtpSession: it accepts connections within the
 * connection limit, reads them into their sessions, hands STARTTLS sockets to TLS, and drains them at
 * shutdown; it decides nothing about the protocol. Its parts: implicit-tls.ts (port 465 handshakes),
 * effect-runner.ts (replies, checks, storage, timers), stress.ts (timeouts under load),
 * connection.ts (one connection's state), pre-session-log.ts (lines about connections before a session).
 */
import net from 'node:net';
import tls from 'node:tls';
import { socketAddress } from '../dns/ip.ts';
import { ClientLogBudget } from '../log/client-budget.ts';
import { OutageLog } from '../log/outage.ts';
import { CLOSE_LINGER_MS, Connection, nextSessionId } from './connection.ts';
import type { ContentBudget } from './content-budget.ts';
import { EffectRunner } from './effect-runner.ts';
import type { Peer } from './envelope.ts';
import { ImplicitTlsHandshakes, tlsReason } from './implicit-tls.ts';
import type { Admission, ListenerOptions } from './listener-options.ts';
import { PreSessionLog } from './pre-session-log.ts';
import { type Reply, renderReply, replies } from './replies.ts';
import { ReplyBatch } from './reply-batch.ts';
import { SmtpSession } from './session.ts';
import { StressMode } from './stress.ts';

export type { Admission, CheckRequest, ListenerOptions, ListenerTls, SmtpHandlers } from './listener-options.ts';

/**
 * How long shutdown waits, after its grace, for messages the store is writing to be acknowledged (250)
 * or refused (451). The store bounds its own calls (PostgreSQL: a statement 30 s, an unanswering
 * server 35 s, src/store/postgres/pool.ts); a client cut before that hears nothing while its message
 * may still be committed, and sends it again: the duplicate this wait is for.
 */
const STORE_FINISH_MS = 45_000;

export class SmtpListener {
  private readonly options: ListenerOptions;
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private draining = false;
  private readonly stress: StressMode;
  private readonly preSessionLog: PreSessionLog;
  private readonly clientLog: ClientLogBudget;
  /** The budget is the listener's own (no shared one was given): it closes it. */
  private readonly ownClientLog: boolean;
  private readonly replyBatch = new ReplyBatch((socket) => this.repliesWritten(socket));
  private readonly runner: EffectRunner;
  private readonly handshakes: ImplicitTlsHandshakes;

  constructor(options: ListenerOptions) {
    this.options = options;
    const storeOutage = options.storeOutage ?? new OutageLog(options.logger, { name: 'store', level: 'error' });
    this.stress = new StressMode(options);
    this.ownClientLog = options.clientLog === undefined;
    this.clientLog = options.clientLog ?? new ClientLogBudget(options.logger, { clientOf: options.clientOf });
    this.preSessionLog = new PreSessionLog(options.logger, this.clientLog);
    this.runner = new EffectRunner({
      options,
      clientLog: this.clientLog,
      replyBatch: this.replyBatch,
      storeOutage,
      stress: this.stress,
      draining: () => this.draining,
      startTls: (conn) => this.upgrade(conn),
    });
    this.handshakes = new ImplicitTlsHandshakes({
      options,
      preSessionLog: this.preSessionLog,
      stress: this.stress,
      draining: () => this.draining,
      sessions: () => this.connections.size,
      isSession: (socket) => this.connectionOf(socket) !== undefined,
      changed: () => this.checkStress(),
      accept: (socket, sessionId) => this.accept(socket, sessionId),
    });
    const implicit = options.tls?.mode === 'implicit' ? options.tls : undefined;
    this.server = net.createServer({ noDelay: true }, (socket) =>
      implicit ? this.handshakes.start(socket, implicit, nextSessionId()) : this.accept(socket, nextSessionId()),
    );
  }

  private connectionOf(socket: net.Socket): Connection | undefined {
    for (const c of this.connections) if (c.socket === socket) return c;
    return undefined;
  }

  async listen(): Promise<{ address: string; port: number }> {
    const { takeOver } = this.options;
    if (takeOver) await takeOver(this.server);
    else {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.options.port, this.options.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    }
    const a = this.server.address() as net.AddressInfo;
    // From now on an 'error' is a failed accept: unheard, Node would throw it and end the process.
    this.server.on('error', (err) => {
      const fields = { port: a.port };
      if (this.options.acceptFailed) this.options.acceptFailed(err, fields);
      else this.options.logger.error({ ...fields, err }, 'accepting a connection failed');
    });
    return { address: a.address, port: a.port };
  }

  private anyStoring(): boolean {
    for (const c of this.connections) if (c.peer.storing && !c.socket.destroyed) return true;
    return false;
  }

  /**
   * Stops accepting, closes idle sessions with 421 (and those that only wait on a check or an error
   * sleep, EffectRunner.drain()), lets busy ones finish within graceMs, then cuts the rest with 421,
   * except a message the store is writing: its 250 is waited for (STORE_FINISH_MS at most).
   */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // A TLS handshake under way has no session to finish and no way to hear a 421 before TLS (RFC 8314
    // §3.3): it ends now. Left alone, one silent connection held the shutdown for the handshake timeout,
    // as server.close() waits for every connection.
    this.handshakes.close();
    // A closing connection (its final reply written, or its client's half-close answered) says no more.
    for (const c of [...this.connections]) this.runner.drain(c);
    // The monotonic clock: NTP stepping the wall clock during a shutdown must not stretch or cut the grace.
    const deadline = performance.now() + graceMs;
    while (this.connections.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // A message the store is writing when grace ends gets its 250 before the cut: cut now, it would be
    // stored and the client, never told, would send it again (the duplicate RFC 1047 describes).
    const storeDeadline = performance.now() + STORE_FINISH_MS;
    while (this.anyStoring() && performance.now() < storeDeadline) await new Promise((r) => setTimeout(r, 10));
    // Grace is over: every session still open hears why before it is cut (RFC 5321 §3.8), a busy one
    // too; a message still in its checks is dropped, never stored (EffectRunner.cut()).
    for (const c of [...this.connections]) this.runner.cut(c);
    await new Promise((r) => setTimeout(r, 50));
    for (const c of this.connections) this.destroy(c);
    await closed;
    // What the throttles held back is said before the listener is gone.
    this.preSessionLog.close();
    if (this.ownClientLog) this.clientLog.close();
  }

  /**
   * Cuts a session's connection. `gone` is set now, not at the socket's 'close' (a later turn): a
   * message whose checks finish in between would otherwise be stored for a client that never hears
   * its 250, and sends it again.
   */
  private destroy(conn: Connection): void {
    conn.peer.gone = true;
    conn.socket.destroy();
  }

  private accept(socket: net.Socket, sessionId: string): void {
    const { logger, session: sessionOptions } = this.options;
    if (this.draining || this.connections.size >= this.options.maxConnections) {
      const reply = this.draining
        ? replies.shuttingDown(sessionOptions.hostname)
        : replies.tooManyConnections(sessionOptions.hostname);
      this.refuse(socket, sessionId, reply);
      return;
    }
    const remoteAddress = socketAddress(socket.remoteAddress ?? '');
    const peer: Peer = {
      sessionId,
      remoteAddress,
      remotePort: socket.remotePort ?? 0,
      localAddress: socketAddress(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
      ...(sessionOptions.submission ? { submission: true } : {}),
    };
    // Counted now, not when the greeting is due: during a greet delay a client would otherwise hold
    // as many connections as it opens, uncounted, and fill the listener.
    const admission = this.admit(peer);
    if (admission.action === 'disconnect') {
      this.refuse(socket, sessionId, admission.reply, admission.logged);
      return;
    }
    const session = new SmtpSession({ ...sessionOptions, sessionId, ...this.clientBudget(remoteAddress) });
    const conn = new Connection(socket, session, peer, logger);
    // A session's client may close its sending side (TCP half-close) after its last command and still
    // read the replies to what it sent (RFC 5321 §3.8); the runner closes ours once they are written
    // (clientEnded()). Before a session (a TLS handshake, a refusal) a FIN still closes at once.
    socket.allowHalfOpen = true;
    this.connections.add(conn);
    this.checkStress();
    if (logger.isLevelEnabled('debug')) conn.log.debug({ port: peer.remotePort }, 'connected');
    if (socket instanceof tls.TLSSocket) this.secured(conn, socket);
    this.attach(conn, socket);
    socket.on('close', () => {
      // A real close or a reset (a FIN alone is 'end', attach()): a message not yet stored is not stored.
      conn.peer.gone = true;
      this.runner.countTransaction(conn);
      // A message a handler still works on (authentication, milters, the store) is still in memory:
      // its share is given back when the handler ends (EffectRunner). A client that sends a message and
      // hangs up at once must not free the budget for the next one while the first is processed.
      if (!conn.busy) conn.session.released();
      this.connections.delete(conn);
      this.checkStress();
      this.options.handlers.disconnected?.(conn.peer);
      if (logger.isLevelEnabled('debug')) conn.log.debug('disconnected');
    });
    conn.timeoutMs = this.stress.timeoutFor('');
    socket.setTimeout(conn.timeoutMs);
    const delay = this.options.greetDelayMs ?? 0;
    if (delay > 0) setTimeout(() => this.runner.greet(conn), delay);
    else this.runner.greet(conn);
  }

  /** The handlers' admission of a new connection; one that cannot be asked closes, as a failed connect check does. */
  private admit(peer: Peer): Admission {
    const { handlers } = this.options;
    try {
      return handlers.admit?.(peer) ?? { action: 'continue' };
    } catch (err) {
      this.options.logger.error({ session: peer.sessionId, client: peer.remoteAddress, err }, 'admission failed');
      return { action: 'disconnect', reply: replies.localErrorClosing(this.options.session.hostname), logged: true };
    }
  }

  /** A connection refused before it is a session: its one reply, then closed; it holds no slot. */
  private refuse(socket: net.Socket, sessionId: string, reply: Reply, logged?: true): void {
    if (!logged) {
      const client = socketAddress(socket.remoteAddress ?? '');
      this.preSessionLog.write(
        'warn',
        { session: sessionId, client, code: reply.code, enhanced: reply.enhanced },
        reply.lines[0]!,
      );
    }
    socket.on('error', () => socket.destroy());
    socket.end(renderReply(reply));
    // end() closes our side only: a client that never closes its own would keep the descriptor.
    const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
    socket.once('close', () => clearTimeout(linger));
  }

  /** Reads from `socket` into the session; a socket replaced by STARTTLS stops being read. */
  private attach(conn: Connection, socket: net.Socket): void {
    const { session } = conn;
    socket.on('data', (chunk: Buffer) => {
      // Past our final reply (RFC 5321 §3.8) what the client sends is dropped unread: it neither reaches
      // the session nor touches a timer, and the linger cuts the connection (EffectRunner).
      if (conn.socket !== socket || conn.closing) return;
      if (!conn.greeted) {
        conn.early.push(chunk);
        if (conn.early.length === 1) socket.pause(); // a pregreet is noted; what it says waits
        return;
      }
      conn.lastInputAt = performance.now();
      const effects = session.receive(chunk);
      this.stress.read(conn, chunk.length);
      this.runner.apply(conn, effects);
      this.runner.backpressure(conn);
      // A client that keeps sending, just too slowly, may never leave the socket idle for its timer.
      if (this.stress.dataRateMissed(conn)) this.timedOut(conn, true);
    });
    // The client closed its sending side: what it sent is answered, then ours closes (effect-runner.ts).
    socket.on('end', () => {
      if (conn.socket === socket) this.runner.clientEnded(conn);
    });
    // Replies written: reading may go on (backpressure()); a session waiting on us or sleeping decides later.
    socket.on('drain', () => {
      if (conn.socket === socket && conn.greeted && !conn.busy) this.runner.backpressure(conn);
    });
    socket.on('timeout', () => {
      if (conn.socket !== socket) return;
      if (conn.closing) return; // the linger's own timer cuts it (EffectRunner)
      this.timedOut(conn, this.stress.dataRateMissed(conn, true));
    });
    socket.on('error', (err) => {
      if (this.options.logger.isLevelEnabled('debug')) conn.log.debug({ err: err.message }, 'socket error');
    });
  }

  /**
   * The socket's timer fired, or content came slower than the minimum data rate: 421 4.4.2 (RFC 5321
   * §4.5.3.2.5 and §4.5.3.2.7 time data blocks and commands; §3.8: a 421 closes), and a message under
   * way is dropped, never stored.
   */
  private timedOut(conn: Connection, slow: boolean): void {
    if (conn.busy || conn.closing) return; // waiting on ourselves is not the client's delay
    const { session } = conn;
    const hostname = this.options.session.hostname;
    const reply = slow ? replies.dataTooSlow(hostname, this.stress.minDataRate) : replies.timeout(hostname);
    // One line for the timeout and its 421: the phase it happened in, and the reply (not logged again).
    if (this.clientLog.allows(conn.peer.remoteAddress)) {
      const fields = { phase: session.phaseName, code: reply.code, enhanced: reply.enhanced };
      conn.log.info(
        slow ? { ...fields, octets: session.contentOctets, minDataRate: this.stress.minDataRate } : fields,
        'timeout',
      );
    }
    this.runner.apply(conn, session.abort(reply, true));
  }

  /**
   * The content budget as this client's sessions see it: one client (as `clientOf` counts them, an
   * IPv6 network as one) may hold only a share of it, so that a few of its connections holding
   * content do not make every other sender's MAIL get 452 (content-budget.ts). A client no limit
   * applies to (`limits.exceptions`) counts against the whole budget only.
   */
  private clientBudget(remoteAddress: string): { contentBudget?: ContentBudget } {
    const { contentBudget, maxMessageSize } = this.options.session;
    if (!contentBudget) return {};
    const client = this.options.clientOf ? this.options.clientOf(remoteAddress) : remoteAddress;
    return { contentBudget: contentBudget.forClient(client, maxMessageSize) };
  }

  /** A paused socket's replies are written: reading may go on, as on 'drain', which a write the kernel takes whole never emits. */
  private repliesWritten(socket: net.Socket): void {
    const conn = this.connectionOf(socket);
    if (conn?.greeted && !conn.busy) this.runner.backpressure(conn);
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
    secure.allowHalfOpen = false; // a FIN during the handshake closes, as before a session
    conn.socket = secure;
    const timer = setTimeout(() => {
      if (this.clientLog.allows(conn.peer.remoteAddress)) conn.log.info({ phase: 'tls-handshake' }, 'timeout');
      secure.destroy();
    }, this.stress.handshakeTimeout());
    secure.once('close', () => clearTimeout(timer));
    conn.timeoutMs = this.stress.timeoutFor('');
    secure.setTimeout(conn.timeoutMs);
    this.attach(conn, secure);
    const handshakeFailed = (err: Error) => {
      if (this.clientLog.allows(conn.peer.remoteAddress)) {
        conn.log.info({ reason: tlsReason(err) }, 'TLS handshake after STARTTLS failed');
      }
      secure.destroy();
    };
    secure.once('secure', () => {
      clearTimeout(timer);
      // Past the handshake, a socket error (a client that resets instead of closing) is the session's
      // (attach() hears it), not a failed handshake.
      secure.off('error', handshakeFailed);
      secure.allowHalfOpen = true;
      conn.busy = false;
      this.secured(conn, secure);
      this.runner.apply(conn, conn.session.tlsStarted());
    });
    secure.once('error', handshakeFailed);
  }

  /** Enters or leaves stress as connections come and go (stress.ts). */
  private checkStress(): void {
    this.stress.update(this.connections.size + this.handshakes.size, this.connections);
  }
}
