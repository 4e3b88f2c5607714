/**
 * A small answer cache for the resolver. Every answer lives for one fixed, short time instead of its TTL,
 * because node:dns reports TTLs for A/AAAA only. The lifetime is kept to seconds — enough to serve the
 * repeated lookups of one SMTP transaction (SPF, DKIM, DMARC ask for the same names) and below the TTL
 * of nearly all published records, which is the upper bound on caching (RFC 1035 §3.2.1). Negative
 * answers are cached the same way (RFC 2308 §5). The caller decides what is cacheable: a temporary
 * failure must never be stored, or one timeout would read as an answer for the whole lifetime.
 */

export interface AnswerCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

export class AnswerCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: AnswerCacheOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? Date.now;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.#ttlMs <= 0 || this.#maxEntries <= 0) return; // caching disabled
    this.#entries.delete(key); // re-insert so Map order stays oldest-first
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expires: this.#now() + this.#ttlMs });
  }

  clear(): void {
    this.#entries.clear();
  }
}
