export type { PostgresStoreOptions } from './postgres-store.ts';
export {
  DEFAULT_POOL_SIZE,
  migratePostgresStore,
  openPostgresStore,
  PostgresStore,
  postgresStoreStatus,
} from './postgres-store.ts';
export { redactUrl } from './url.ts';
