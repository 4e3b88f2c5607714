/**
 * Opens the configured store for a one-shot CLI command and always closes it. A new, empty store is
 * created, and said so on stderr; an older schema is not upgraded here: in a cluster that is a
 * deliberate step (`postern migrate`, or a `serve` start), never the side effect of `user list` run
 * with a newer binary.
 */
import path from 'node:path';
import type { Config } from '../../config/schema.ts';
import { openStore, storeStatus } from '../../store/open.ts';
import { type Store, StoreUnavailableError } from '../../store/store.ts';
import { actAsDataDirOwner } from '../data-dir-owner.ts';
import { CliError } from '../errors.ts';

export interface WithStoreOptions {
  /** Say on stderr when the store had to be made (default true); quickstart makes one on purpose. */
  noteNewStore?: boolean;
}

export async function withStore<T>(
  config: Config,
  work: (store: Store) => Promise<T>,
  options: WithStoreOptions = {},
): Promise<T> {
  actAsDataDirOwner(config); // run as root: become the server's user before anything in dataDir is made
  const status = await storeStatus(config);
  if (status.current > 0 && status.pending.length > 0) {
    throw new CliError(
      `the store (${status.location}) has schema version ${status.current} and this Postern needs ${status.latest}: ` +
        'run "postern migrate" first (or start "postern serve", which migrates); other commands do not upgrade a store',
    );
  }
  const store = await openStore(config, { applicationName: 'postern cli', interactive: true });
  if (status.current === 0 && options.noteNewStore !== false) {
    // `user list` run without --config (or as another user, in another directory) would otherwise
    // answer from a store it just made, empty, as if the server had no accounts and no mail.
    const where = status.engine === 'sqlite' ? path.resolve(status.location) : status.location;
    process.stderr.write(
      `note: there was no Postern store at ${where}: made a new, empty one. ` +
        "If this server's store is elsewhere, give its config: --config FILE (or POSTERN_CONFIG)\n",
    );
  }
  let failed = false;
  try {
    return await work(store);
  } catch (error) {
    failed = true;
    // SQLite's own error met after opening (a page found corrupt by a read): one line naming the store.
    if ((error as NodeJS.ErrnoException).code === 'ERR_SQLITE_ERROR') {
      throw new StoreUnavailableError(`cannot read the store (${status.location}): ${(error as Error).message}`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    // A store that failed has said so above; a second error from closing it would hide the first.
    if (failed) await store.close().catch(() => {});
    else await store.close();
  }
}
