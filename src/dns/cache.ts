/**
 * A small answer cache for the resolver. Every answer lives for one fixed, short time instead of its TTL,
 * because node:dns reports TTLs for A/AAAA only. The lifetime is kept to seconds — enough to serve the
 * repeated lookups of one SMTP transaction (SPF, DKIM, DMARC ask for the same names) and below the TTL
 * of nearly all published records, which is the upper bound on caching (RFC 1035 §3.2.1). Negative
 * answers are cached the same way (RFC 2308 §5). The caller decides what is cacheable: a temporary
 * failure must never be stored, or one timeout would read as an answer for the whole lifetime.
 */

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

export class AnswerCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number; weight: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #weigh: (value: V) => number;
  readonly #maxWeight: number;
  readonly #now: () => number;
  #weight = 0;

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

  set(key: string, value: V): void {
    if (this.#ttlMs <= 0 || this.#maxEntries <= 0) return; // caching disabled
    const weight = this.#weigh(value);
    this.#remove(key); // re-insert so Map order stays oldest-first
    // RFC 1035 §7.4 lets a resolver keep what it chooses: a huge answer (a sender's SPF naming hosts
    // of thousands of records) is used once and not kept, or a few thousand would fill the memory.
    if (weight > this.#maxWeight / 100) return;
    const now = this.#now();
    // Every entry lives as long, so the expired ones are the oldest: they go first, without a lookup.
    for (const [oldest, entry] of this.#entries) {
      if (entry.expires > now && this.#entries.size < this.#maxEntries && this.#weight + weight <= this.#maxWeight) {
        break;
      }
      this.#remove(oldest);
    }
    this.#entries.set(key, { value, expires: now + this.#ttlMs, weight });
    this.#weight += weight;
  }

  clear(): void {
    this.#entries.clear();
    this.#weight = 0;
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#weight -= entry.weight;
  }
}
