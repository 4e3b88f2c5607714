/**
 * A budget of log lines per client, across its connections. One refusal is one line, and a session
 * ends after `smtp.maxErrors` of them, but a client that reconnects starts again each time: a bot on
 * a loop writes thousands of lines a minute, which the journal's rate limit then drops, taking other
 * clients' lines with them. So each client may have LINES_PER_WINDOW such lines a minute; the rest are
 * counted, and when the minute ends one line says how many ("client X: N more lines not logged in the
 * last minute"). That line is written by a timer, so it comes even if the client has gone quiet.
 *
 * Which lines count (the callers ask `allows()`): the refusals a client collects (a reply of 4xx or
 * 5xx, a message refused after its data included, a restriction's decision, a content rule's action,
 * a failed login, a timeout, a failed TLS handshake, a connection refused before its session). Which
 * do not: the lines that come once per session or per message whatever the client
 * does wrong (a stored message, a login, a quarantine), and a dependency's outage, which is already
 * said once (outage.ts). Counting is not logging: the policy's counters count every decision.
 *
 * Memory is bounded: at most MAX_CLIENTS clients are tracked in a window; clients past them share one
 * budget, as if they were one client (`client: "other clients"`), so a flood from many addresses is
 * bounded too. A client no limit applies to (`clientOf` answers undefined, as for `limits.exceptions`)
 * is never held back.
 */
import type { Logger } from './logger.ts';

/**
 * Constants rather than configuration: they bound the log, not the mail (nothing a client sees
 * depends on them), and a client over them is still counted. 100 a minute is five sessions of
 * `smtp.maxErrors` (20) refusals: far more than a misconfigured server makes, and a tenth of what one
 * bot on a loop makes.
 */
const LINES_PER_WINDOW = 100;
const WINDOW_MS = 60_000;
/** About 100 bytes each: 1 MB at most. */
const MAX_CLIENTS = 10_000;
export const OTHER_CLIENTS = 'other clients';

export interface ClientLogBudgetOptions {
  /** The client a line is counted for: an IPv4 address or an IPv6 /64 (clientKey); undefined: not limited. */
  clientOf?: (address: string) => string | undefined;
  /** For tests: a shorter window, fewer lines, fewer clients. */
  linesPerWindow?: number;
  windowMs?: number;
  maxClients?: number;
}

interface Account {
  lines: number;
  notLogged: number;
  /** A line left out was a warning: the summary is one too. */
  warn: boolean;
}

export class ClientLogBudget {
  readonly #logger: Logger;
  readonly #clientOf: (address: string) => string | undefined;
  readonly #linesPerWindow: number;
  readonly #windowMs: number;
  readonly #maxClients: number;
  /** This window's clients; emptied when it ends. */
  readonly #clients = new Map<string, Account>();
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, options: ClientLogBudgetOptions = {}) {
    this.#logger = logger;
    this.#clientOf = options.clientOf ?? ((address) => address);
    this.#linesPerWindow = options.linesPerWindow ?? LINES_PER_WINDOW;
    this.#windowMs = options.windowMs ?? WINDOW_MS;
    this.#maxClients = options.maxClients ?? MAX_CLIENTS;
  }

  /**
   * Whether a line about the client at `address` may be written now. False: it is counted instead,
   * and the count is written when the window ends. `level`: the line's, for the summary's.
   */
  allows(address: string, level: 'info' | 'warn' = 'info'): boolean {
    const key = this.#clientOf(address);
    if (key === undefined) return true;
    let account = this.#clients.get(key);
    if (account === undefined) {
      const full = this.#clients.size >= this.#maxClients;
      account = full ? this.#clients.get(OTHER_CLIENTS) : undefined;
      if (account === undefined) {
        account = { lines: 0, notLogged: 0, warn: false };
        this.#clients.set(full ? OTHER_CLIENTS : key, account);
      }
    }
    // The window starts with its first line; unref'd, the timer never holds the process open.
    this.#timer ??= setTimeout(() => this.#endWindow(), this.#windowMs).unref();
    if (account.lines < this.#linesPerWindow) {
      account.lines++;
      return true;
    }
    account.notLogged++;
    if (level === 'warn') account.warn = true;
    return false;
  }

  /** Shutdown: the counts of the window under way are written now, and no timer is left. */
  close(): void {
    this.#endWindow();
  }

  #endWindow(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const window = this.#windowMs === 60_000 ? 'minute' : `${this.#windowMs / 1000} s`;
    for (const [client, { notLogged, warn }] of this.#clients) {
      if (notLogged === 0) continue;
      this.#logger[warn ? 'warn' : 'info'](
        { client, notLogged, windowMs: this.#windowMs },
        `client ${client}: ${notLogged} more lines not logged in the last ${window}`,
      );
    }
    this.#clients.clear();
  }
}
