/**
 * Postfix's stress mode (STRESS_README): with the listener nearly full, idle, data and TLS handshake
 * timeouts drop to `stressTimeoutMs`, so clients that hold connections without sending make room for
 * others. The timeout then bounds a whole record, not the silence between two reads (Postfix's
 * smtpd_per_record_deadline, on under stress): a command line must be complete, and content must move
 * on by CONTENT_RECORD octets, within it, so a client that trickles a byte at a time is cut too.
 * Also the one place the listener's timeouts are chosen (RFC 5321 §4.5.3.2).
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

/** The record a client is sending under stress: since when, and the content octets read meanwhile. */
interface RecordClock {
  since: number;
  octets: number;
}

type StressOptions = Pick<
  ListenerOptions,
  'maxConnections' | 'stressTimeoutMs' | 'idleTimeoutMs' | 'dataTimeoutMs' | 'tlsHandshakeTimeoutMs' | 'logger'
>;

export class StressMode {
  readonly #options: StressOptions;
  #stressed = false;
  #records = new WeakMap<Connection, RecordClock>();

  constructor(options: StressOptions) {
    this.#options = options;
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
   * left of its record's deadline (it is re-armed at each read, so a trickle does not push it back).
   */
  timeoutOf(conn: Connection): number {
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
