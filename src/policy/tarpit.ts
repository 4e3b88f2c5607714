/**
 * A tarpit: a client rejected again and again is answered more and more slowly, across sessions,
 * so a spam run or a dictionary attack costs it time. Postfix has the per-session form
 * (smtpd_soft_error_limit, then smtpd_error_sleep_time before each reply, postconf(5)); this one
 * remembers the client (an IPv4 address or an IPv6 /64, cidr.ts clientKey) for `windowMs`.
 *
 * From the `threshold`-th rejection within the window on, each reply waits `stepMs` more per
 * rejection, at most `maxMs`: with the defaults 1 s after the 5th, 2 s after the 6th, ... 10 s.
 * Only the last few rejection times a client can be charged for are kept, and at most
 * `maxClients` clients (when full, the least recently rejected tenth is forgotten), so memory is bounded.
 */
import { clientKey } from './cidr.ts';
import type { NetworkList } from './restriction.ts';

export interface TarpitOptions {
  /** Rejections within the window before replies slow down; default 5. */
  threshold?: number;
  /** Default 10 minutes. */
  windowMs?: number;
  /** Added per rejection from the threshold on; default 1 000 ms. */
  stepMs?: number;
  /** The longest delay; default 10 000 ms, well under the 5-minute reply timeouts of RFC 5321 §4.5.3.2. */
  maxMs?: number;
  /** Clients remembered at most; default 100 000. */
  maxClients?: number;
  /** Clients never slowed down (e.g. mynetworks). */
  exceptions?: NetworkList;
  /** The IPv6 network one client is counted by (clientKey); default 64. */
  ipv6Prefix?: number;
  /**
   * Milliseconds on a clock that never goes back; default performance.now(). Only elapsed time
   * matters, and with a wall clock stepped back (NTP, a VM resumed) rejections recorded before the
   * step would stay "recent", and the client slowed down, for as long as the step.
   */
  now?: () => number;
}

export class Tarpit {
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #stepMs: number;
  readonly #maxMs: number;
  readonly #maxClients: number;
  readonly #exceptions: NetworkList | undefined;
  readonly #now: () => number;
  /** Rejection times a client can still be charged for, oldest first; at most this many. */
  readonly #keep: number;
  /** Per client, in least recently rejected order. */
  readonly #clients = new Map<string, number[]>();
  #lastSweep: number;

  readonly #ipv6Prefix: number;
  constructor(options: TarpitOptions = {}) {
    this.#threshold = wholeNumber(options.threshold, 'threshold', 5);
    this.#windowMs = wholeNumber(options.windowMs, 'windowMs', 600_000);
    this.#stepMs = wholeNumber(options.stepMs, 'stepMs', 1_000);
    this.#maxMs = wholeNumber(options.maxMs, 'maxMs', 10_000);
    this.#maxClients = wholeNumber(options.maxClients, 'maxClients', 100_000);
    this.#ipv6Prefix = options.ipv6Prefix ?? 64;
    if (this.#threshold === 0 || this.#windowMs === 0 || this.#maxClients === 0) {
      throw new Error('tarpit: threshold, windowMs and maxClients must be positive');
    }
    this.#exceptions = options.exceptions;
    this.#now = options.now ?? (() => performance.now());
    // Past threshold - 1 + ceil(maxMs / stepMs) rejections the delay is capped: older ones cannot matter.
    this.#keep = this.#threshold + (this.#stepMs === 0 ? 0 : Math.ceil(this.#maxMs / this.#stepMs));
    this.#lastSweep = this.#now();
  }

  /** Records that a reply to this client was a rejection. */
  rejected(ip: string): void {
    if (this.#exceptions?.contains(ip)) return;
    const now = this.#now();
    this.#sweep(now);
    const key = clientKey(ip, this.#ipv6Prefix);
    const times = this.#clients.get(key) ?? [];
    this.#clients.delete(key); // re-inserted at the end: the most recently rejected
    times.push(now);
    if (times.length > this.#keep) times.shift();
    if (this.#clients.size >= this.#maxClients) this.#evict();
    this.#clients.set(key, times);
  }

  /** How long to wait before the next reply to this client, in ms. */
  delayFor(ip: string): number {
    const times = this.#clients.get(clientKey(ip, this.#ipv6Prefix));
    if (times === undefined) return 0;
    const since = this.#now() - this.#windowMs;
    let recent = 0;
    for (let i = times.length - 1; i >= 0 && times[i]! > since; i--) recent++;
    if (recent < this.#threshold) return 0;
    return Math.min(this.#maxMs, (recent - this.#threshold + 1) * this.#stepMs);
  }

  /** Clients remembered now (for tests and stats). */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * Forgets a tenth of the clients, the least recently rejected first. A tenth at a time: V8 leaves
   * a deleted Map entry in place until the table is rebuilt and iteration steps over it, so taking
   * the first key once per new client would walk all those deleted so far (anvil.ts #evict).
   */
  #evict(): void {
    let left = Math.max(1, Math.ceil(this.#maxClients / 10));
    for (const key of this.#clients.keys()) {
      this.#clients.delete(key);
      if (--left === 0) return;
    }
  }

  /** At most once a window, drops clients whose last rejection has left the window. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#windowMs) return;
    this.#lastSweep = now;
    const since = now - this.#windowMs;
    for (const [key, times] of this.#clients) {
      if (times.at(-1)! > since) break; // the rest were rejected later
      this.#clients.delete(key);
    }
  }
}

function wholeNumber(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`tarpit: ${name} must be a whole number ≥ 0, got ${value}`);
  return value;
}
