/**
 * Lines about connections that never became sessions (a failed or timed-out TLS handshake on port
 * 465, a refusal at maxConnections): one client can open thousands a second, none of which the
 * session limits see. At most this many a second per listener; the next line logged counts the rest.
 */
import type { Logger } from '../log/logger.ts';

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

export class PreSessionLog {
  readonly #logger: Logger;
  readonly #lines = new LineThrottle();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  write(level: 'info' | 'warn', fields: Record<string, unknown>, message: string): void {
    const extra = this.#lines.take(performance.now());
    if (extra) this.#logger[level]({ ...fields, ...extra }, message);
  }
}
