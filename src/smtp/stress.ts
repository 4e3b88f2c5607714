/**
 * Postfix's stress mode (STRESS_README): with the listener nearly full, idle, data and TLS handshake
 * timeouts drop to `stressTimeoutMs`, so clients that hold connections without sending make room for
 * others. The timeout then bounds a whole record, not the silence between two reads (Postfix's
 * smtpd_per_record_deadline, on under stress): a command line must be complete, and content must move
 * on by CONTENT_RECORD octets, within it, so a client that trickles a byte at a time is cut too.
 * Also the one place the listener's timeouts are chosen (RFC 5321 §4.5.3.2), the minimum data rate's
 * deadline among them.
 */
import type { Connection } from './connection.ts';
import type { ListenerOptions } from './listener-options.ts';

/** How long a TLS handshake may take before the connection is dropped, unless configured. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** The listener is under stress from this share of maxConnections on, and until it falls below the second. */
const STRESS_ON = 0.8;
const STRESS_OFF = 0.6;
/**
 * Under stress, content must arrive at this much per timeout at least (or end), as Postfix reads DATA
 * in records of a line of at most 2 KiB (line_length_limit). With the default 10 s that is 100 octets a
 * second: an honest sender on the slowest link still passes; one that trickles a byte at a time does not.
 */
const CONTENT_RECORD = 1024;
const CONTENT_PHASES: ReadonlySet<string> = new Set(['data', 'bdat', 'discard']);
/**
 * Postfix's smtpd_min_data_rate default, in octets a second, when the listener is given none. RFC 5321
 * §4.5.3.2.5 times each block of data (3 minutes), and §4.5.3.2.6 the wait for the final reply, but
 * nothing the whole content: a client that sends a byte just within each data timeout would hold its
 * session, and its share of the content budget, for hours. So a whole DATA phase (or BDAT transaction)
 * must end by the data timeout plus its octets at this rate: 500 a second lets a 25 MiB message take
 * 14 hours, and a short one the data timeout and a little more.
 */
export const MIN_DATA_RATE = 500;

/** The record a client is sending under stress: since when, and the content octets read meanwhile. */
interface RecordClock {
  since: number;
  octets: number;
}

/**
 * The content a session is reading: which (the session's contentCount) and since when; `armed`: the
 * socket's timer was last armed for its deadline, not for the phase's timeout.
 */
interface ContentClock {
  count: number;
  since: number;
  armed?: boolean;
}

type StressOptions = Pick<
  ListenerOptions,
  | 'maxConnections'
  | 'stressTimeoutMs'
  | 'idleTimeoutMs'
  | 'dataTimeoutMs'
  | 'minDataRate'
  | 'tlsHandshakeTimeoutMs'
  | 'logger'
>;

export class StressMode {
  readonly #options: StressOptions;
  #stressed = false;
  #records = new WeakMap<Connection, RecordClock>();
  #content = new WeakMap<Connection, ContentClock>();

  constructor(options: StressOptions) {
    this.#options = options;
  }

  /**
   * The listener is under stress now: its sessions get the stress timeouts, and the hard error limit
   * is 1 (effect-runner.ts).
   */
  get stressed(): boolean {
    return this.#stressed;
  }

  /** The socket timeout for a session in this phase: RFC 5321 §4.5.3.2's, or the stress timeout. */
  timeoutFor(phase: string): number {
    const { dataTimeoutMs, idleTimeoutMs, stressTimeoutMs } = this.#options;
    const timeout = phase === 'data' || phase === 'bdat' ? dataTimeoutMs : idleTimeoutMs;
    // RFC 5321 §4.5.3.2 asks for minutes; Postfix cuts them to 10 s under stress (smtpd_timeout =
    // ${stress?{10}:{300}}s), since a full server that waits minutes for idle clients turns everyone away.
    return this.#stressed && stressTimeoutMs ? Math.min(timeout, stressTimeoutMs) : timeout;
  }

  /**
   * The socket timeout to arm for this connection now: outside stress its phase's; under stress what is
   * left of its record's deadline (it is re-armed at each read, so a trickle does not push it back);
   * in content, never past what is left of the minimum data rate's deadline.
   */
  timeoutOf(conn: Connection): number {
    const timeout = this.#recordTimeout(conn);
    const left = this.#contentLeft(conn);
    if (left === undefined) return timeout;
    const clock = this.#content.get(conn)!;
    clock.armed = left < timeout;
    // At least 1 ms: 0 would turn the socket's timer off; past the deadline it fires at once.
    return clock.armed ? Math.max(1, Math.ceil(left)) : timeout;
  }

  /**
   * The content under way came slower than the minimum data rate: its deadline has passed, or (`timer`)
   * the socket's timer that fired was armed for it. A timer may fire a millisecond or so before the
   * deadline it was armed for, as it counts from the event loop's clock of that turn. A client that
   * sent nothing for the whole data timeout was not slow but silent (between BDAT chunks, most often,
   * where the deadline times the wait for the next BDAT command too): its timeout is the plain one of
   * RFC 5321 §4.5.3.2.5, and it is told so.
   */
  dataRateMissed(conn: Connection, timer = false): boolean {
    const left = this.#contentLeft(conn);
    if (left === undefined) return false;
    if (timer && this.#silent(conn)) return false;
    return left <= 0 || (timer && this.#content.get(conn)?.armed === true);
  }

  /** Nothing read for the data timeout in force: within a millisecond, as a timer may fire that early. */
  #silent(conn: Connection): boolean {
    return performance.now() - conn.lastInputAt >= this.timeoutFor('data') - 1;
  }

  /** The minimum data rate in force, octets a second (0: none). */
  get minDataRate(): number {
    return this.#options.minDataRate ?? MIN_DATA_RATE;
  }

  /**
   * Milliseconds left until the content the session is reading must have ended: the data timeout plus
   * its octets at the minimum rate (Postfix's smtpd_min_data_rate), counted from its start. Undefined
   * outside content, or with no minimum rate. The clock is the host's: the session keeps none.
   */
  #contentLeft(conn: Connection): number | undefined {
    const octets = conn.session.contentOctets;
    const rate = this.minDataRate;
    if (octets === undefined || rate <= 0) return undefined;
    const count = conn.session.contentCount;
    let clock = this.#content.get(conn);
    if (clock?.count !== count) {
      clock = { count, since: performance.now() };
      this.#content.set(conn, clock);
    }
    return clock.since + this.#options.dataTimeoutMs + (octets * 1000) / rate - performance.now();
  }

  #recordTimeout(conn: Connection): number {
    const timeout = this.timeoutFor(conn.session.phaseName);
    if (!this.#stressed) return timeout;
    let record = this.#records.get(conn);
    if (!record) {
      record = { since: performance.now(), octets: 0 };
      this.#records.set(conn, record);
    }
    // At least 1 ms: 0 would turn the socket's timer off; past the deadline it fires at once.
    return Math.max(1, Math.ceil(record.since + timeout - performance.now()));
  }

  /** The client's next record starts now: one was read in full, or the server answered. */
  recordStarts(conn: Connection): void {
    if (!this.#stressed) return;
    const record = this.#records.get(conn);
    if (record) {
      record.since = performance.now();
      record.octets = 0;
    } else this.#records.set(conn, { since: performance.now(), octets: 0 });
  }

  /** Octets read for a session: in its content, each CONTENT_RECORD of them is a record complete. */
  read(conn: Connection, octets: number): void {
    if (!this.#stressed || !CONTENT_PHASES.has(conn.session.phaseName)) return;
    const record = this.#records.get(conn);
    if (!record) return; // timeoutOf() starts it
    record.octets += octets;
    if (record.octets >= CONTENT_RECORD) {
      record.since = performance.now();
      record.octets = 0;
    }
  }

  /** Postfix's smtpd_starttls_timeout is ${stress?{10}:{300}}s too. */
  handshakeTimeout(): number {
    const timeout = this.#options.tlsHandshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
    const { stressTimeoutMs } = this.#options;
    return this.#stressed && stressTimeoutMs ? Math.min(timeout, stressTimeoutMs) : timeout;
  }

  /**
   * Enters or leaves stress as connections come and go (`count`: sessions and handshakes under way),
   * and re-arms every waiting connection's timer.
   */
  update(count: number, connections: Iterable<Connection>): void {
    const { maxConnections, stressTimeoutMs, logger } = this.#options;
    if (!stressTimeoutMs) return;
    const stressed = this.#stressed ? count >= maxConnections * STRESS_OFF : count >= maxConnections * STRESS_ON;
    if (stressed === this.#stressed) return;
    this.#stressed = stressed;
    if (stressed) {
      logger.warn(
        { connections: count, maxConnections, timeoutMs: stressTimeoutMs },
        `under stress: ${count} of ${maxConnections} connections; idle clients get ${stressTimeoutMs} ms instead of minutes until fewer than ${Math.ceil(maxConnections * STRESS_OFF)} are open`,
      );
    } else logger.info({ connections: count, maxConnections }, 'stress over: timeouts back to normal');
    this.#records = new WeakMap(); // every record's deadline counts from the start of the stress
    for (const c of connections) {
      if (c.busy || c.closing) continue; // our own work, or its final moment, keeps its timer
      const timeout = this.timeoutOf(c);
      if (timeout !== c.timeoutMs) {
        c.timeoutMs = timeout;
        c.socket.setTimeout(timeout);
      }
    }
  }
}
