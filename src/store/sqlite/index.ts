export type { SqliteStoreOptions } from './sqlite-store.ts';
export { DATABASE_FILE_NAME, openSqliteStore, SqliteStore } from './sqlite-store.ts';
