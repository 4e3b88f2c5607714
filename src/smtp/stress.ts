/**
 * Postfix's stress mode (STRESS_README): with the listener nearly full, idle, data and TLS handshake
 * timeouts drop to `stressTimeoutMs`, so clients that hold connections without sending make room for
 * others. Also the one place the listener's timeouts are chosen (RFC 5321 §4.5.3.2).
 */
import type { Connection } from './connection.ts';
import type { ListenerOptions } from './listener-options.ts';

/** How long a TLS handshake may take before the connection is dropped, unless configured. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** The listener is under stress from this share of maxConnections on, and until it falls below the second. */
const STRESS_ON = 0.8;
const STRESS_OFF = 0.6;

type StressOptions = Pick<
  ListenerOptions,
  'maxConnections' | 'stressTimeoutMs' | 'idleTimeoutMs' | 'dataTimeoutMs' | 'tlsHandshakeTimeoutMs' | 'logger'
>;

export class StressMode {
  readonly #options: StressOptions;
  #stressed = false;

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
    for (const c of connections) {
      if (c.busy || c.closing) continue; // our own work, or its final moment, keeps its timer
      const timeout = this.timeoutFor(c.session.phaseName);
      if (timeout !== c.timeoutMs) {
        c.timeoutMs = timeout;
        c.socket.setTimeout(timeout);
      }
    }
  }
}
