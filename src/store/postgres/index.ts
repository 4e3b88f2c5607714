export type { PostgresStoreOptions } from './postgres-store.ts';
export { DEFAULT_POOL_SIZE, openPostgresStore, PostgresStore } from './postgres-store.ts';
