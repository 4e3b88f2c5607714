/**
 * Per-client connection and rate limits, as Postfix's anvil(8) keeps them for smtpd(8):
 * simultaneous connections (smtpd_client_connection_count_limit), and per time unit connection
 * attempts, MAIL FROMs, RCPT TOs and VRFYs (smtpd_client_connection_rate_limit,
 * smtpd_client_message_rate_limit, smtpd_client_recipient_rate_limit, and a VRFY limit Postfix
 * lacks). As in Postfix, every attempt counts, refused ones included: postconf(5) counts messages
 * and recipients "regardless of whether or not Postfix actually accepts" them, so a client that
 * keeps hammering stays limited.
 *
 * A client is an IPv4 address or an IPv6 /64 (cidr.ts clientKey). Memory is bounded: at most
 * `maxClients` clients, the least recently seen forgotten first, and idle ones swept out.
 * In memory and per process, like anvil; nodes sharing a database do not share these counts.
 */
import { clientKey } from './cidr.ts';
import type { NetworkList } from './restriction.ts';

export interface AnvilOptions {
  /** Simultaneous connections per client; 0 = unlimited. */
  maxConcurrent?: number;
  /** Connection attempts per window (a minute by default, Postfix's anvil_rate_time_unit); 0 = unlimited. */
  connectionsPerMinute?: number;
  messagesPerMinute?: number;
  recipientsPerMinute?: number;
  vrfyPerMinute?: number;
  /** Clients never limited nor counted (Postfix smtpd_client_event_limit_exceptions, default $mynetworks). */
  exceptions?: NetworkList;
  /** The rate window; default 60 000 ms. */
  windowMs?: number;
  /** Clients remembered at most; default 100 000. */
  maxClients?: number;
  /** The IPv6 network one client is counted by (clientKey); default 64. */
  ipv6Prefix?: number;
  now?: () => number;
}

export interface AnvilDecision {
  allowed: boolean;
  /** Why not, for the log: which limit, and the count against it. */
  reason?: string;
}

type Event = 'connection' | 'message' | 'recipient' | 'vrfy';

/**
 * Events in a sliding window, approximated by two fixed buckets: the current bucket's count plus
 * the previous one's weighted by how much of it the window still covers (the estimate Cloudflare
 * and nginx use). Exact when events are spread evenly; three numbers per counter.
 */
interface Rate {
  start: number;
  current: number;
  previous: number;
}

interface Client {
  concurrent: number;
  lastSeen: number;
  rates: Record<Event, Rate>;
}

const ALLOWED: AnvilDecision = { allowed: true };

export class Anvil {
  readonly #limits: Record<Event, number>;
  readonly #maxConcurrent: number;
  readonly #exceptions: NetworkList | undefined;
  readonly #windowMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;
  /** In least recently seen order: a touched client is moved to the end. */
  readonly #clients = new Map<string, Client>();
  #lastSweep: number;

  readonly #ipv6Prefix: number;
  constructor(options: AnvilOptions = {}) {
    this.#maxConcurrent = wholeNumber(options.maxConcurrent, 'maxConcurrent', 0);
    this.#limits = {
      connection: wholeNumber(options.connectionsPerMinute, 'connectionsPerMinute', 0),
      message: wholeNumber(options.messagesPerMinute, 'messagesPerMinute', 0),
      recipient: wholeNumber(options.recipientsPerMinute, 'recipientsPerMinute', 0),
      vrfy: wholeNumber(options.vrfyPerMinute, 'vrfyPerMinute', 0),
    };
    this.#exceptions = options.exceptions;
    this.#ipv6Prefix = options.ipv6Prefix ?? 64;
    this.#windowMs = wholeNumber(options.windowMs, 'windowMs', 60_000);
    this.#maxClients = wholeNumber(options.maxClients, 'maxClients', 100_000);
    if (this.#windowMs === 0 || this.#maxClients === 0)
      throw new Error('anvil: windowMs and maxClients must be positive');
    this.#now = options.now ?? Date.now;
    this.#lastSweep = this.#now();
  }

  /**
   * A new connection: counts it against the rate and, when allowed, holds a concurrency slot that
   * `disconnect` gives back. A refused connection holds no slot, so it needs no `disconnect`.
   */
  connect(ip: string): AnvilDecision {
    const client = this.#client(ip);
    if (client === undefined) return ALLOWED;
    const rate = this.#hit(client, 'connection');
    if (this.#maxConcurrent > 0 && client.concurrent >= this.#maxConcurrent) {
      const reason = `${client.concurrent + 1} simultaneous connections, limit ${this.#maxConcurrent}`;
      return { allowed: false, reason };
    }
    if (rate !== undefined) return rate;
    client.concurrent++;
    return ALLOWED;
  }

  /** The end of a connection `connect` allowed. */
  disconnect(ip: string): void {
    const client = this.#clients.get(clientKey(ip, this.#ipv6Prefix));
    if (client !== undefined && client.concurrent > 0) client.concurrent--;
  }

  /** A MAIL FROM. */
  message(ip: string): AnvilDecision {
    return this.#event(ip, 'message');
  }

  /** A RCPT TO. */
  recipient(ip: string): AnvilDecision {
    return this.#event(ip, 'recipient');
  }

  vrfy(ip: string): AnvilDecision {
    return this.#event(ip, 'vrfy');
  }

  /** Clients remembered now (for tests and stats). */
  get size(): number {
    return this.#clients.size;
  }

  #event(ip: string, event: Event): AnvilDecision {
    const client = this.#client(ip);
    return (client && this.#hit(client, event)) ?? ALLOWED;
  }

  /** Counts one event; a refusal when the estimate, this event included, exceeds the limit. */
  #hit(client: Client, event: Event): AnvilDecision | undefined {
    const limit = this.#limits[event];
    if (limit === 0) return undefined;
    const rate = client.rates[event];
    const now = client.lastSeen;
    const elapsed = now - rate.start;
    if (elapsed >= this.#windowMs) {
      const buckets = Math.floor(elapsed / this.#windowMs);
      rate.previous = buckets === 1 ? rate.current : 0;
      rate.current = 0;
      rate.start += buckets * this.#windowMs;
    }
    rate.current++;
    const covered = 1 - (now - rate.start) / this.#windowMs;
    const estimate = rate.current + rate.previous * covered;
    if (estimate <= limit) return undefined;
    const per = this.#windowMs === 60_000 ? 'minute' : `${this.#windowMs} ms`;
    return { allowed: false, reason: `${event} rate: ${Math.ceil(estimate)} per ${per}, limit ${limit}` };
  }

  /** The client's counters, touched now; undefined for an exception, which is never counted. */
  #client(ip: string): Client | undefined {
    if (this.#exceptions?.contains(ip)) return undefined;
    const now = this.#now();
    this.#sweep(now);
    const key = clientKey(ip, this.#ipv6Prefix);
    let client = this.#clients.get(key);
    if (client === undefined) {
      const rate = (): Rate => ({ start: now, current: 0, previous: 0 });
      client = {
        concurrent: 0,
        lastSeen: now,
        rates: { connection: rate(), message: rate(), recipient: rate(), vrfy: rate() },
      };
      if (this.#clients.size >= this.#maxClients) this.#evictOne();
    } else {
      this.#clients.delete(key); // re-inserted below: the end of the map is the most recently seen
    }
    client.lastSeen = Math.max(client.lastSeen, now);
    this.#clients.set(key, client);
    return client;
  }

  /**
   * Forgets the least recently seen client, one without open connections if the oldest few have
   * some, so a flood of new addresses cannot reset a busy client's concurrency count.
   */
  #evictOne(): void {
    let checked = 0;
    for (const [key, client] of this.#clients) {
      if (client.concurrent === 0 || ++checked > 16) {
        this.#clients.delete(key);
        return;
      }
    }
  }

  /** At most once a window, drops clients idle for two windows: their rates are back to zero. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#windowMs) return;
    this.#lastSweep = now;
    const idleSince = now - 2 * this.#windowMs;
    for (const [key, client] of this.#clients) {
      if (client.lastSeen > idleSince) break; // the rest were seen later
      if (client.concurrent === 0) this.#clients.delete(key);
    }
  }
}

/** A non-negative integer option, or its default. */
function wholeNumber(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`anvil: ${name} must be a whole number ≥ 0, got ${value}`);
  return value;
}
