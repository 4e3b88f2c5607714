/** Opens the configured store for a one-shot CLI command and always closes it. */
import type { Config } from '../../config/schema.ts';
import { openStore } from '../../store/open.ts';
import type { Store } from '../../store/store.ts';

export async function withStore<T>(config: Config, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config, { applicationName: 'postern cli' });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
