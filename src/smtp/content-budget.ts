/**
 * The message content every session of a server holds in memory at once, counted against one limit.
 * Each transaction's content stays in memory from its first octet until its outcome is known (the
 * store has it, or it was refused); a message's size is bounded by SIZE, but without this their sum
 * was not: fifty clients sending 20 MB each grew the server by 2 GB, and a few more would have had the
 * machine's OOM killer stop it. Past the limit the server answers 452 4.3.1 (RFC 3463: mail system
 * full) and senders retry later, as Postfix does when its queue file system is short of space.
 */
export class ContentBudget {
  readonly limit: number;
  #held = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get held(): number {
    return this.#held;
  }

  /** Room for `octets` more now (RFC 1870 §6.1: a MAIL whose declared SIZE does not fit gets 452). */
  fits(octets: number): boolean {
    return this.#held + octets <= this.limit;
  }

  /** Counts `octets` more, or refuses them (nothing counted) when they would pass the limit. */
  take(octets: number): boolean {
    if (this.#held + octets > this.limit) return false;
    this.#held += octets;
    return true;
  }

  give(octets: number): void {
    this.#held = Math.max(0, this.#held - octets);
  }
}
