/**
 * Versioned schema migrations, shared by both engines. Each engine keeps its own ordered list of
 * migrations (the SQL dialects differ) but numbers them alike: version N of the SQLite schema and
 * version N of the PostgreSQL schema hold the same data.
 *
 * Rules that keep upgrades from losing mail or settings:
 * - a migration only ever moves data forward (ALTER, CREATE, copy); nothing drops a column or table
 *   that holds data without first copying it;
 * - each migration runs in one transaction, recorded in `schema_version` in that same transaction,
 *   so a failure leaves the database at the version before it, never half-way;
 * - a node never opens a database newer than it knows (SchemaTooNewError).
 */

import { SchemaTooNewError } from './store.ts';

export interface Migration {
  version: number;
  /** What it changes, in a few words; shown by `postern migrate --status`. */
  name: string;
}

export interface AppliedMigration {
  version: number;
  name: string;
  appliedAt: Date | null;
}

export interface SchemaStatus {
  engine: 'sqlite' | 'postgres';
  /** Where the database is: a file path, or the URL without its password. */
  location: string;
  /** 0 when the database is empty (nothing created yet). */
  current: number;
  latest: number;
  applied: AppliedMigration[];
  pending: Migration[];
}

export interface MigrationOutcome {
  from: number;
  to: number;
  applied: Migration[];
  /** SQLite: a copy of the database taken before migrating a populated one. */
  backup?: string;
}

/** Checks that a migration list is numbered 1, 2, 3 … without gaps: a programming error otherwise. */
export function assertMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`migration list out of order: position ${index + 1} holds version ${migration.version}`);
    }
  });
}

/** The migrations to run on a database at `current`, up to `target`; refuses a newer database. */
export function pendingMigrations<M extends Migration>(
  migrations: readonly M[],
  current: number,
  target: number = migrations.length,
): M[] {
  const latest = migrations.length;
  if (current > latest) throw schemaTooNew(current, latest);
  if (target < current) {
    throw new Error(`cannot migrate down from version ${current} to ${target}: migrations only go forward`);
  }
  return migrations.filter((migration) => migration.version > current && migration.version <= target);
}

export function schemaTooNew(current: number, latest: number): SchemaTooNewError {
  return new SchemaTooNewError(
    `the database schema is version ${current}, newer than this Postern knows (version ${latest}): ` +
      'a newer Postern has migrated it. Run that version on this node too, or restore the backup taken ' +
      'before the upgrade; this node will not touch the database.',
  );
}

/** A status from the version and the `schema_version` rows an engine read. */
export function schemaStatus(
  engine: SchemaStatus['engine'],
  location: string,
  migrations: readonly Migration[],
  current: number,
  rows: readonly { version: unknown; applied_at: unknown }[],
): SchemaStatus {
  const names = new Map(migrations.map((m) => [m.version, m.name]));
  return {
    engine,
    location,
    current,
    latest: migrations.length,
    applied: rows.map((row) => ({
      version: Number(row.version),
      name: names.get(Number(row.version)) ?? '(unknown to this version of Postern)',
      appliedAt: new Date(Number(row.applied_at)),
    })),
    pending: current > migrations.length ? [] : pendingMigrations(migrations, current),
  };
}
