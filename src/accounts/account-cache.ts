/**
 * A short-lived cache of account look-ups for the SMTP recipient check, so RCPT on a busy server
 * answers without a database read (each SQLite read takes the WAL read locks: system calls).
 *
 * Only found accounts are cached: a new account receives mail at once. A removed account may be
 * accepted at RCPT for up to `ttlMs`; delivery then finds it gone and the store refuses it (550 5.1.1).
 * That rests on account ids never being given again: delivery goes by the cached id, and an id
 * handed on to an account made meanwhile would take the removed one's mail (SQLite did so before
 * schema version 10; PostgreSQL's identity sequences never did).
 */
import type { Account } from '../store/store.ts';

export interface AccountCacheOptions {
  ttlMs: number;
  maxEntries: number;
}

export class AccountCache {
  readonly #find: (address: string) => Promise<Account | undefined>;
  readonly #options: AccountCacheOptions;
  readonly #entries = new Map<string, { account: Account; expires: number }>();

  constructor(find: (address: string) => Promise<Account | undefined>, options: AccountCacheOptions) {
    this.#find = find;
    this.#options = options;
  }

  /** The account, from the cache when fresh (synchronously), else from the store. */
  findAccount(address: string): Account | undefined | Promise<Account | undefined> {
    const hit = this.#entries.get(address);
    const now = Date.now();
    if (hit && hit.expires > now) return hit.account;
    if (hit) this.#entries.delete(address);
    return this.#find(address).then((account) => {
      if (account) {
        // A simple bound: when full, start over rather than track recency on the hot path.
        if (this.#entries.size >= this.#options.maxEntries) this.#entries.clear();
        this.#entries.set(address, { account, expires: Date.now() + this.#options.ttlMs });
      }
      return account;
    });
  }
}
