/**
 * Lines about connections that never became sessions (a failed or timed-out TLS handshake on port
 * 465, a refusal at maxConnections): one client can open thousands a second, none of which the
 * session limits see. At most this many a second per listener; the rest are counted, and the count
 * is one line when the second ends (a timer: no later line needs to come for it to be said).
 * Each line counts toward its client's budget too (client-budget.ts): a line the client's budget
 * holds back is counted in the client's summary, not here.
 */
import type { ClientLogBudget } from '../log/client-budget.ts';
import type { Logger } from '../log/logger.ts';

const PRE_SESSION_LINES_PER_SECOND = 20;
const WINDOW_MS = 1000;

type Level = 'info' | 'warn';

export class PreSessionLog {
  readonly #logger: Logger;
  readonly #clientLog: ClientLogBudget;
  // Not 0: performance.now() counts from the process's start, so a first line in its first second
  // fell in a window [0, 1000) about to end, and the next second's 20 came at once after it.
  #windowStart = Number.NEGATIVE_INFINITY;
  #inWindow = 0;
  #skipped = 0;
  #skippedLevel: Level = 'info';
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, clientLog: ClientLogBudget) {
    this.#logger = logger;
    this.#clientLog = clientLog;
  }

  write(level: Level, fields: { client: string } & Record<string, unknown>, message: string): void {
    if (!this.#clientLog.allows(fields.client, level)) return;
    const now = performance.now();
    if (now - this.#windowStart >= WINDOW_MS) {
      this.#report(); // a timer late under load must not let the count pass into the next window
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow < PRE_SESSION_LINES_PER_SECOND) {
      this.#inWindow++;
      this.#logger[level](fields, message);
      return;
    }
    this.#skipped++;
    if (level === 'warn') this.#skippedLevel = 'warn';
    // Armed by the first line left out, for the window's end; unref'd: it never holds the process open.
    this.#timer ??= setTimeout(() => this.#report(), this.#windowStart + WINDOW_MS - now).unref();
  }

  /** The listener closes: a count still pending is said now, and no timer is left behind. */
  close(): void {
    this.#report();
  }

  #report(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#skipped === 0) return;
    const notLogged = this.#skipped;
    const level = this.#skippedLevel;
    this.#skipped = 0;
    this.#skippedLevel = 'info';
    this.#logger[level](
      { notLogged },
      `${notLogged} more lines about connections before a session not logged in the last second`,
    );
  }
}
