/**
 * Mailbox changes from every node, over PostgreSQL's LISTEN/NOTIFY. The delivering node notifies
 * right after the commit, so a node hears of a message only once it is stored, whichever node
 * stored it (this one included: there is one path for all changes). A node that dies between its
 * commit and its NOTIFY leaves that change unannounced: readers re-read on `resync` and when they
 * (re)open a mailbox, so nothing stored is ever hidden, only announced late.
 *
 * One dedicated connection listens, opened with the first subscriber. If it drops, it reconnects
 * with a growing delay and then tells subscribers to resync: notifications sent while nobody
 * listened are lost, by PostgreSQL's design.
 */

import type pg from 'pg';
import { ChangeListeners } from '../change-listeners.ts';
import type { MailboxChange } from '../store.ts';
import { PosternClient, settlesWithin } from './pool.ts';

export const CHANGE_CHANNEL = 'postern_changes';

/** The payload of one placement's notification: short keys, as NOTIFY payloads are limited to 8000 bytes. */
export function changePayload(accountId: number, mailboxId: number, uid: number): string {
  return JSON.stringify({ a: accountId, m: mailboxId, u: uid });
}

export class ChangeChannel {
  readonly #config: pg.ClientConfig;
  readonly #onError: (error: Error) => void;
  readonly #listeners = new ChangeListeners();
  #client: PosternClient | undefined;
  #connecting: Promise<void> | undefined;
  #closed = false;
  #retryDelayMs = 250;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(config: pg.ClientConfig, onError: (error: Error) => void) {
    this.#config = config;
    this.#onError = onError;
  }

  /** Resolves once the LISTEN is in place, so no change committed afterwards is missed. */
  async subscribe(listener: (change: MailboxChange) => void): Promise<() => void> {
    const unsubscribe = this.#listeners.add(listener);
    try {
      await this.#connect();
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /** Says goodbye to the server, or after `ms` (a server that does not answer) just closes the socket. */
  async close(ms: number): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    if (client && !(await settlesWithin(client.end(), ms))) client.destroy();
  }

  #connect(): Promise<void> {
    if (this.#client) return Promise.resolve();
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const client = new PosternClient(this.#config);
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('the notification connection closed')));
    client.on('notification', (message) => {
      if (message.channel !== CHANGE_CHANNEL || !message.payload) return;
      const change = parseChange(message.payload);
      if (change) this.#listeners.emit(change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (error) {
      client.destroy(); // not left open until the server's authentication_timeout
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#retryDelayMs = 250;
  }

  #lost(client: PosternClient, error: Error): void {
    if (this.#client !== client) return; // an old connection, or one we closed
    this.#client = undefined;
    client.end().catch(() => {});
    if (this.#closed) return;
    this.#onError(error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#listeners.size === 0) return;
    this.#retryTimer = setTimeout(() => {
      this.#connect().then(
        () => this.#listeners.emit({ kind: 'resync' }),
        (error: Error) => {
          this.#onError(error);
          this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, 30_000);
          this.#scheduleReconnect();
        },
      );
    }, this.#retryDelayMs);
    this.#retryTimer.unref();
  }
}

function parseChange(payload: string): MailboxChange | undefined {
  try {
    const { a, m, u } = JSON.parse(payload) as { a?: unknown; m?: unknown; u?: unknown };
    if (typeof a !== 'number' || typeof m !== 'number' || typeof u !== 'number') return undefined;
    return { kind: 'message-added', accountId: a, mailboxId: m, uid: u };
  } catch {
    return undefined;
  }
}
