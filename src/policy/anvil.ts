/**
 * Per-client connection and rate limits, as Postfix's anvil(8) keeps them for smtpd(8):
 * simultaneous connections (smtpd_client_connection_count_limit), and per time unit connection
 * attempts, MAIL FROMs, RCPT TOs and VRFYs (smtpd_client_connection_rate_limit,
 * smtpd_client_message_rate_limit, smtpd_client_recipient_rate_limit, and a VRFY limit Postfix
 * lacks). As postconf(5) says, a message or recipient counts "regardless of whether or not Postfix
 * actually accepts" it: a MAIL or RCPT that a restriction refuses afterwards has still been counted.
 * What a limit here refuses is not counted against it, though. Postfix counts those too, but in fixed
 * windows (anvil_rate_time_unit) that start afresh, so a client over the limit still gets `limit`
 * through per window; in a sliding window a refused attempt would keep the estimate above the limit
 * for good, and a client steadily over it would be shut out after its first minute. Not counting
 * refusals, a client over a limit gets `limit` events through per window, spread out, not in a burst
 * at each window's start.
 *
 * Counts are per service and client, as anvil keys them (service:address): the connections a client
 * holds on port 25 do not use up what it may open on the submission port. A client is an IPv4
 * address or an IPv6 /64 (cidr.ts clientKey). Memory is bounded: at most `maxClients` (service,
 * client) pairs (when full, the least recently seen tenth is forgotten) and idle ones swept out. In
 * memory and per process, like anvil; nodes sharing a database do not share these counts.
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
  /**
   * Milliseconds on a clock that never goes back; default performance.now(). Only elapsed time
   * matters here, and a wall clock stepped back (NTP, a VM resumed) would hold every client seen
   * before the step at its count for as long as the step: lastSeen and the windows' starts would lie
   * in the future.
   */
  now?: () => number;
}

export type AnvilEvent = 'connection' | 'message' | 'recipient' | 'vrfy';

export interface AnvilDecision {
  allowed: boolean;
  /** Which limit refused: the simultaneous connections, or an event's rate. */
  limit?: 'concurrency' | AnvilEvent;
  /** Why not, for the log: which limit, and the count against it. */
  reason?: string;
}

type Event = AnvilEvent;

/**
 * Events in a sliding window, approximated by two fixed buckets: the current bucket's count plus
 * the previous one's weighted by how much of it the window still covers (the estimate Cloudflare
 * and nginx use). Exact when events are spread evenly; three numbers per counter. Only events
 * allowed are counted.
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
    this.#now = options.now ?? (() => performance.now());
    this.#lastSweep = this.#now();
  }

  /**
   * A new connection to `service` (the listener: each has its own counts, as anvil keys them by
   * service): when allowed, it is counted against the rate and holds a concurrency slot that
   * `disconnect` gives back. A refused connection counts for neither, so it needs no `disconnect`.
   */
  connect(ip: string, service = ''): AnvilDecision {
    const client = this.#client(ip, service);
    if (client === undefined) return ALLOWED;
    if (this.#maxConcurrent > 0 && client.concurrent >= this.#maxConcurrent) {
      const reason = `${client.concurrent + 1} simultaneous connections, limit ${this.#maxConcurrent}`;
      return { allowed: false, limit: 'concurrency', reason };
    }
    const rate = this.#hit(client, 'connection');
    if (rate !== undefined) return rate;
    client.concurrent++;
    return ALLOWED;
  }

  /** The end of a connection `connect` allowed, with the same service. */
  disconnect(ip: string, service = ''): void {
    const client = this.#clients.get(this.#key(ip, service));
    if (client !== undefined && client.concurrent > 0) client.concurrent--;
  }

  /** A MAIL FROM. */
  message(ip: string, service = ''): AnvilDecision {
    return this.#event(ip, service, 'message');
  }

  /** A RCPT TO. */
  recipient(ip: string, service = ''): AnvilDecision {
    return this.#event(ip, service, 'recipient');
  }

  vrfy(ip: string, service = ''): AnvilDecision {
    return this.#event(ip, service, 'vrfy');
  }

  /** (Service, client) pairs remembered now (for tests and stats). */
  get size(): number {
    return this.#clients.size;
  }

  #event(ip: string, service: string, event: Event): AnvilDecision {
    const client = this.#client(ip, service);
    return (client && this.#hit(client, event)) ?? ALLOWED;
  }

  /**
   * Counts one event unless the estimate, this event included, would exceed the limit: then a refusal,
   * not counted (the module comment says why).
   */
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
    // The previous bucket's events still in the window, in whole events: the estimate's fraction of
    // one would otherwise hold a client steadily over the limit to limit - 1 a window (a limit of 1
    // to one every other window).
    const covered = 1 - (now - rate.start) / this.#windowMs;
    const estimate = rate.current + 1 + Math.floor(rate.previous * covered);
    if (estimate <= limit) {
      rate.current++;
      return undefined;
    }
    const per = this.#windowMs === 60_000 ? 'minute' : `${this.#windowMs} ms`;
    return { allowed: false, limit: event, reason: `${event} rate: ${estimate} per ${per}, limit ${limit}` };
  }

  #key(ip: string, service: string): string {
    const client = clientKey(ip, this.#ipv6Prefix);
    return service === '' ? client : `${service} ${client}`;
  }

  /** The client's counters on `service`, touched now; undefined for an exception, which is never counted. */
  #client(ip: string, service: string): Client | undefined {
    if (this.#exceptions?.contains(ip)) return undefined;
    const now = this.#now();
    this.#sweep(now);
    const key = this.#key(ip, service);
    let client = this.#clients.get(key);
    if (client === undefined) {
      const rate = (): Rate => ({ start: now, current: 0, previous: 0 });
      client = {
        concurrent: 0,
        lastSeen: now,
        rates: { connection: rate(), message: rate(), recipient: rate(), vrfy: rate() },
      };
      if (this.#clients.size >= this.#maxClients) this.#evict();
    } else {
      this.#clients.delete(key); // re-inserted below: the end of the map is the most recently seen
    }
    client.lastSeen = Math.max(client.lastSeen, now);
    this.#clients.set(key, client);
    return client;
  }

  /**
   * Forgets a tenth of the clients, the least recently seen first, and those without open connections
   * before any with some, so a flood of new addresses cannot reset a busy client's concurrency count.
   * A tenth at a time, not one: V8 leaves a deleted Map entry in place until the table is rebuilt,
   * and iteration steps over it, so taking the first key once per new client walks every entry
   * deleted so far (70–340 µs a client at 100 000). One walk per tenth is constant time per client.
   */
  #evict(): void {
    const batch = evictionBatch(this.#maxClients);
    const busy: string[] = [];
    let removed = 0;
    for (const [key, client] of this.#clients) {
      if (client.concurrent > 0) {
        if (busy.length < batch) busy.push(key);
        continue;
      }
      this.#clients.delete(key);
      if (++removed === batch) return;
    }
    // Fewer idle clients than a batch: the oldest busy ones go too, or the table would grow past its bound.
    for (const key of busy.slice(0, batch - removed)) this.#clients.delete(key);
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

/** How many clients a full table forgets at once: a tenth, at least one (tarpit.ts does the same). */
function evictionBatch(maxClients: number): number {
  return Math.max(1, Math.ceil(maxClients / 10));
}

/** A non-negative integer option, or its default. */
function wholeNumber(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`anvil: ${name} must be a whole number ≥ 0, got ${value}`);
  return value;
}
