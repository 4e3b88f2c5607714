/**
 * A small answer cache for the resolver (and for results built from answers). An entry lives for the
 * lifetime `set` gives it, at most `ttlMs`: the resolver gives an answer its TTL, which is the upper bound on
 * caching (RFC 1035 §3.2.1, RFC 2181 §8), and a negative answer its SOA's negative TTL (RFC 2308 §5). `ttlMs`
 * stays short, seconds: enough to serve the repeated lookups of one SMTP transaction (SPF, DKIM, DMARC ask
 * for the same names), and no record outlives it even when its publisher's TTL is a day. The caller decides
 * what is cacheable: a temporary failure must never be stored, or one timeout would read as an answer for
 * the whole lifetime.
 */

import type { DnsAnswer, Resolver } from './resolver.ts';

export interface AnswerCacheOptions<V> {
  ttlMs: number;
  maxEntries: number;
  /**
   * What an answer weighs (about its bytes in memory) and the most all entries may weigh together;
   * an answer heavier than a hundredth of that is not kept. Without them only entries are counted.
   */
  weigh?: (value: V) => number;
  maxWeight?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

/**
 * Until when each value given to a cache is valid by the TTL it came with, the cache's own cap aside: the
 * resolver's answers carry no TTL, and a result derived from them may be used only as long as the shortest-
 * lived of them (RFC 1035 §3.2.1, RFC 2181 §8). Kept with the value, so it goes when the value does.
 */
const validity = new WeakMap<object, { until: number; now: () => number }>();

/**
 * The resolver, noting how long each answer it passes on stays valid; `lifetimeMs` is the least of them so
 * far, the most a result derived from them all may be kept (RFC 1035 §3.2.1, RFC 2181 §8). A negative
 * answer's is its SOA's negative TTL (RFC 2308 §5), one without an SOA none (0). A temporary failure has no
 * TTL and must not be kept (see above), so neither may a result resting on it: 0. A name never asked
 * (EBADNAME) stays unaskable, and an answer no cache was given (a Resolver that keeps nothing) is unbounded.
 */
export function lifetimeTracking(resolver: Resolver): { resolver: Resolver; lifetimeMs(): number } {
  let failed = false;
  const read: { until: number; now: () => number }[] = [];
  const note = <T>(answer: DnsAnswer<T>): DnsAnswer<T> => {
    if (!answer.ok && answer.error === 'temperror' && !answer.reason.startsWith('EBADNAME')) failed = true;
    const valid = validity.get(answer);
    if (valid !== undefined) read.push(valid);
    return answer;
  };
  return {
    resolver: {
      a: (name) => resolver.a(name).then(note),
      aaaa: (name) => resolver.aaaa(name).then(note),
      mx: (name) => resolver.mx(name).then(note),
      txt: (name) => resolver.txt(name).then(note),
      ptr: (address) => resolver.ptr(address).then(note),
      cname: (name) => resolver.cname(name).then(note),
      tlsa: (name) => resolver.tlsa(name).then(note),
    },
    lifetimeMs() {
      if (failed) return 0;
      // What is left of each, on the clock of the cache that was given it.
      let least = Number.POSITIVE_INFINITY;
      for (const valid of read) least = Math.min(least, Math.max(0, valid.until - valid.now()));
      return least;
    },
  };
}

export class AnswerCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number; weight: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #weigh: (value: V) => number;
  readonly #maxWeight: number;
  readonly #now: () => number;
  #weight = 0;
  /** No entry expires before this; a removal may leave it earlier than any, so a sweep may find none. */
  #soonest = Number.POSITIVE_INFINITY;

  constructor(options: AnswerCacheOptions<V>) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
    this.#weigh = options.weigh ?? (() => 0);
    this.#maxWeight = options.maxWeight ?? Number.POSITIVE_INFINITY;
    this.#now = options.now ?? Date.now;
  }

  /** Entries and their total weight, for tests and for watching memory. */
  get usage(): { entries: number; weight: number } {
    return { entries: this.#entries.size, weight: this.#weight };
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.#now()) {
      this.#remove(key);
      return undefined;
    }
    return entry.value;
  }

  /**
   * Keeps `value` for `ttlMs` (default and at most the cache's own); 0 or less keeps nothing, and drops what
   * was kept under `key`: the newer answer is the one that holds, and it may not be kept (RFC 1035 §3.2.1).
   */
  set(key: string, value: V, ttlMs = this.#ttlMs): void {
    this.#remove(key); // re-insert so Map order stays oldest-first
    const now = this.#now();
    // Recorded whether kept or not: a result built from an answer too short-lived to keep is not kept either.
    if (typeof value === 'object' && value !== null) validity.set(value, { until: now + ttlMs, now: this.#now });
    const lifetime = Math.min(ttlMs, this.#ttlMs);
    if (!(lifetime > 0) || this.#maxEntries <= 0) return; // caching disabled, or not this answer
    const weight = this.#weigh(value);
    // RFC 1035 §7.4 lets a resolver keep what it chooses: a huge answer (a sender's SPF naming hosts
    // of thousands of records) is used once and not kept, or a few thousand would fill the memory.
    if (weight > this.#maxWeight / 100) return;
    const fits = () => this.#entries.size < this.#maxEntries && this.#weight + weight <= this.#maxWeight;
    // Expired entries at the old end go first, without a lookup.
    for (const [oldest, entry] of this.#entries) {
      if (entry.expires > now) break;
      this.#remove(oldest);
    }
    // Lifetimes differ, so a younger entry may have expired behind a live one: when room is needed, the
    // expired go before any live one is evicted. One pass, and none again until the next expiry is due.
    if (!fits() && this.#soonest <= now) this.#sweep(now);
    for (const [oldest] of this.#entries) {
      if (fits()) break;
      this.#remove(oldest);
    }
    const expires = now + lifetime;
    this.#entries.set(key, { value, expires, weight });
    this.#weight += weight;
    this.#soonest = Math.min(this.#soonest, expires);
  }

  clear(): void {
    this.#entries.clear();
    this.#weight = 0;
    this.#soonest = Number.POSITIVE_INFINITY;
  }

  /** Drops every expired entry, and learns when the next one expires. */
  #sweep(now: number): void {
    let soonest = Number.POSITIVE_INFINITY;
    for (const [key, entry] of this.#entries) {
      if (entry.expires <= now) this.#remove(key);
      else soonest = Math.min(soonest, entry.expires);
    }
    this.#soonest = soonest;
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#weight -= entry.weight;
  }
}
