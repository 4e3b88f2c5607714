export type { SqliteStoreOptions } from './sqlite-store.ts';
export {
  DATABASE_FILE_NAME,
  migrateSqliteStore,
  openSqliteStore,
  SqliteStore,
  sqliteStoreStatus,
} from './sqlite-store.ts';
