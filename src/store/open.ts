/**
 * Opens the store the configuration names. The PostgreSQL driver is loaded only when it is used,
 * so a SQLite-only node (the default) never pays for it.
 */

import path from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Collection } from '../runtime/memory-reducer.ts';
import type { MigrationOutcome, SchemaStatus } from './migrations.ts';
import type { Store } from './store.ts';

export interface OpenedStore extends Store {
  /** What opening migrated, if anything (logged at start). */
  readonly migration: MigrationOutcome;
  /** SQLite: copies a killed `postern restore` left in the data directory, removed by this open. */
  readonly staleRestoresRemoved?: readonly string[];
}

export interface OpenStoreOptions {
  /** Names this node's connections in pg_stat_activity. */
  applicationName?: string;
  /** Errors no caller waits for (an idle PostgreSQL connection dropped). */
  onError?: (error: Error) => void;
  /**
   * The store can take no more mail while open (SQLite: the writer thread died, the database file was
   * replaced, truncated or found corrupt): every write fails from then on, and the server should stop.
   */
  onFatal?: (error: Error) => void;
  /**
   * A person waits on it (a CLI command): PostgreSQL statements are not cut at the server's 30 s
   * (removing an account with a hundred thousand messages may take longer); Ctrl-C stops a wait.
   */
  interactive?: boolean;
  /** SQLite: its writer thread went quiet and gave memory back (src/runtime/memory-reducer.ts). */
  onMemoryCollected?: (collection: Collection) => void;
}

export async function openStore(config: Config, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  const { store } = config;
  if (store.engine === 'postgres') {
    const { openPostgresStore } = await import('./postgres/index.ts');
    const { onFatal: _notUsed, onMemoryCollected: _noThread, interactive, ...postgres } = options;
    return openPostgresStore({
      url: store.url,
      poolSize: store.poolSize,
      ...postgres,
      ...(interactive ? { timeouts: { statementMs: 0, lockMs: 0, queryMs: 0 } } : {}),
    });
  }
  const { openSqliteStore } = await import('./sqlite/index.ts');
  return openSqliteStore({
    dataDir: config.dataDir,
    ...(options.onFatal ? { onFatal: options.onFatal } : {}),
    ...(options.onMemoryCollected ? { onMemoryCollected: options.onMemoryCollected } : {}),
  });
}

export async function migrateStore(config: Config): Promise<MigrationOutcome> {
  const { store } = config;
  if (store.engine === 'postgres') {
    const { migratePostgresStore } = await import('./postgres/index.ts');
    return migratePostgresStore({ url: store.url, applicationName: 'postern migrate' });
  }
  const { migrateSqliteStore } = await import('./sqlite/index.ts');
  return migrateSqliteStore(config.dataDir);
}

export async function storeStatus(config: Config): Promise<SchemaStatus> {
  const { store } = config;
  if (store.engine === 'postgres') {
    const { postgresStoreStatus } = await import('./postgres/index.ts');
    return postgresStoreStatus({ url: store.url, applicationName: 'postern migrate' });
  }
  const { sqliteStoreStatus } = await import('./sqlite/index.ts');
  return sqliteStoreStatus(config.dataDir);
}

/** Where the store is, for logs and messages: never a password. */
export async function describeStore(config: Config): Promise<string> {
  const { store } = config;
  if (store.engine === 'postgres') {
    const { redactUrl } = await import('./postgres/url.ts');
    return `PostgreSQL ${redactUrl(store.url)}`;
  }
  const { DATABASE_FILE_NAME } = await import('./sqlite/index.ts');
  return `SQLite ${path.join(config.dataDir, DATABASE_FILE_NAME)}`;
}
