/**
 * DKIM key writes on SQLite, run by the writer thread inside a batch transaction (reads are in
 * reads.ts). One writer per file makes the check for a taken (domain, selector) atomic with the insert.
 */

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { DKIM_KEY_COLUMNS, dkimKeyFromRow, stateTaken } from '../rows.ts';
import type { DkimKey, DkimKeyState, NewDkimKey } from '../store.ts';
import { RequestFailure } from './request-failure.ts';

export class SqliteDkimKeys {
  readonly #exists: StatementSync;
  readonly #sameState: StatementSync;
  readonly #insert: StatementSync;
  readonly #setState: StatementSync;
  readonly #activate: StatementSync;
  readonly #retireReplaced: StatementSync;
  readonly #remove: StatementSync;

  constructor(db: DatabaseSync) {
    this.#exists = db.prepare('SELECT 1 FROM dkim_keys WHERE domain = ? AND selector = ?');
    this.#sameState = db.prepare(
      'SELECT selector FROM dkim_keys WHERE domain = ? AND algorithm = ? AND state = ? ORDER BY id LIMIT 1',
    );
    this.#insert = db.prepare(
      `INSERT INTO dkim_keys (domain, selector, algorithm, bits, private_key, public_key, state, created_at,
         activated_at, retire_after)
       VALUES (:domain, :selector, :algorithm, :bits, :privateKey, :publicKey, :state, :createdAt, :activatedAt, NULL)
       RETURNING ${DKIM_KEY_COLUMNS}`,
    );
    // SET expressions read the row as it was: `state <> 'active'` is the state before this update.
    this.#setState = db.prepare(
      `UPDATE dkim_keys SET
         activated_at = CASE WHEN :state = 'active' AND state <> 'active' THEN :now ELSE activated_at END,
         retire_after = CASE WHEN :retireAfter IS NOT NULL THEN :retireAfter
                             WHEN :state = 'active' THEN NULL ELSE retire_after END,
         state = :state
       WHERE id = :id AND (:from IS NULL OR state = :from)`,
    );
    // activate() runs on the writer inside the batch's transaction (one savepoint per request): the
    // switch and the retirement of the keys it replaces commit together or not at all.
    this.#activate = db.prepare(
      `UPDATE dkim_keys SET state = 'active', activated_at = :now, retire_after = NULL
       WHERE id = :id AND state = 'pending'
       RETURNING domain, algorithm`,
    );
    this.#retireReplaced = db.prepare(
      `UPDATE dkim_keys SET state = 'retiring', retire_after = :retireAfter
       WHERE domain = :domain AND algorithm = :algorithm AND state = 'active' AND id <> :id
       RETURNING id, selector, created_at`,
    );
    this.#remove = db.prepare('DELETE FROM dkim_keys WHERE id = ?');
  }

  add(key: NewDkimKey, createdAt: Date): DkimKey {
    if (this.#exists.get(key.domain, key.selector)) {
      throw new RequestFailure('dkim-key-exists', `${key.domain} already has a DKIM key with selector ${key.selector}`);
    }
    const holder = this.#sameState.get(key.domain, key.algorithm, key.state);
    if (holder) throw new RequestFailure('dkim-key-state-taken', stateTaken(key, String(holder.selector)));
    const row = this.#insert.get({
      domain: key.domain,
      selector: key.selector,
      algorithm: key.algorithm,
      bits: key.bits,
      privateKey: key.privateKey,
      publicKey: key.publicKey,
      state: key.state,
      createdAt: createdAt.getTime(),
      activatedAt: key.state === 'active' ? createdAt.getTime() : null,
    });
    if (!row) throw new Error('INSERT … RETURNING gave no row');
    return dkimKeyFromRow(row);
  }

  setState(id: number, state: DkimKeyState, now: Date, retireAfter: Date | undefined, from?: DkimKeyState): boolean {
    const params = { id, state, now: now.getTime(), retireAfter: retireAfter?.getTime() ?? null, from: from ?? null };
    return this.#setState.run(params).changes > 0;
  }

  /** Store.activateDkimKey; undefined when the key is gone or no longer pending. */
  activate(id: number, now: Date, retireAfter: Date): string[] | undefined {
    const key = this.#activate.get({ id, now: now.getTime() });
    if (!key) return undefined;
    const replaced = this.#retireReplaced.all({
      domain: String(key.domain),
      algorithm: String(key.algorithm),
      id,
      retireAfter: retireAfter.getTime(),
    });
    return replaced
      .sort((a, b) => Number(a.created_at) - Number(b.created_at) || Number(a.id) - Number(b.id))
      .map((row) => String(row.selector));
  }

  remove(id: number): boolean {
    return this.#remove.run(id).changes > 0;
  }
}
