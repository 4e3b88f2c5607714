/**
 * The message content every session of a server holds in memory at once, counted against one limit.
 * Each transaction's content stays in memory from its first octet until its outcome is known (the
 * store has it, or it was refused); a message's size is bounded by SIZE, but without this their sum
 * was not: fifty clients sending 20 MB each grew the server by 2 GB, and a few more would have had the
 * machine's OOM killer stop it. Past the limit the server answers 452 4.3.1 (RFC 3463: mail system
 * full) and senders retry later, as Postfix does when its queue file system is short of space.
 *
 * One client may hold only a share of it (forClient()): a client with a few connections that each send
 * a large message and then trickle its end, a byte just inside the data timeout, held the whole budget
 * for as long as it liked, and every other sender got 452.
 */

/** The share of the budget one client may hold: a quarter, or one message of the largest size if more. */
const CLIENT_SHARE = 4;

export class ContentBudget {
  readonly limit: number;
  #held = 0;
  /** Octets held per client (as the listener's `clientOf` keys them); a client holding none has no entry. */
  readonly #byClient = new Map<string, number>();

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

  /**
   * The budget as one client's sessions see it: the whole budget, and at most a quarter of it held
   * by that client (never less than `largestMessage`, so that it can always send one message of the
   * largest size the server takes). Past its share the client gets 452 4.3.1 and retries later; the
   * others still have the rest. `client` undefined (a client no limit applies to): the whole budget.
   */
  forClient(client: string | undefined, largestMessage: number): ContentBudget {
    if (client === undefined) return this;
    const share = Math.min(this.limit, Math.max(Math.floor(this.limit / CLIENT_SHARE), largestMessage));
    return new ClientShare(this, client, share);
  }

  /** Octets `client` holds now. */
  heldBy(client: string): number {
    return this.#byClient.get(client) ?? 0;
  }

  /** Room for `octets` more for `client`, within its `share` and the whole budget. */
  fitsFor(client: string, share: number, octets: number): boolean {
    return this.heldBy(client) + octets <= share && this.fits(octets);
  }

  takeFor(client: string, share: number, octets: number): boolean {
    const held = this.heldBy(client);
    if (held + octets > share || !this.take(octets)) return false;
    this.#byClient.set(client, held + octets);
    return true;
  }

  giveFor(client: string, octets: number): void {
    this.give(octets);
    const left = this.heldBy(client) - octets;
    if (left > 0) this.#byClient.set(client, left);
    else this.#byClient.delete(client);
  }
}

/** One client's view of the server's budget (ContentBudget.forClient()): what it takes counts in both. */
class ClientShare extends ContentBudget {
  readonly #server: ContentBudget;
  readonly #client: string;

  constructor(server: ContentBudget, client: string, share: number) {
    super(share);
    this.#server = server;
    this.#client = client;
  }

  override get held(): number {
    return this.#server.heldBy(this.#client);
  }

  override fits(octets: number): boolean {
    return this.#server.fitsFor(this.#client, this.limit, octets);
  }

  override take(octets: number): boolean {
    return this.#server.takeFor(this.#client, this.limit, octets);
  }

  override give(octets: number): void {
    this.#server.giveFor(this.#client, octets);
  }

  override forClient(client: string | undefined, largestMessage: number): ContentBudget {
    return this.#server.forClient(client, largestMessage);
  }
}
