/**
 * `postern migrate [--status] [--json]`: brings the store's schema to this version of Postern, or
 * shows where it stands. `serve` migrates by itself at start; this runs the step alone, e.g. once
 * before rolling several nodes onto a new version.
 */
import type { MigrationOutcome, SchemaStatus } from '../../store/migrations.ts';
import { describeStore, migrateStore, storeStatus } from '../../store/open.ts';
import { actAsDataDirOwner } from '../data-dir-owner.ts';
import { usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';

export async function migrateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    { status: { type: 'boolean' }, json: { type: 'boolean' } },
    'migrate',
  );
  if (positionals.length > 0) throw usageError(`migrate: unexpected argument "${positionals[0]}"`);
  const { config } = configFrom(values);
  actAsDataDirOwner(config); // run as root: the copy a migration keeps in backups/ must be the server's
  const where = await describeStore(config);
  if (values.status === true) {
    const status = await storeStatus(config);
    // The engines' migrations carry their SQL: the JSON lists each as applied ones are, version and name.
    const shown = { ...status, pending: status.pending.map(({ version, name }) => ({ version, name })) };
    process.stdout.write(values.json === true ? `${JSON.stringify(shown, null, 2)}\n` : formatStatus(where, status));
    return status.current > status.latest ? 1 : 0;
  }
  const outcome = await migrateStore(config);
  const shown = { ...outcome, applied: outcome.applied.map(({ version, name }) => ({ version, name })) };
  process.stdout.write(values.json === true ? `${JSON.stringify(shown, null, 2)}\n` : formatOutcome(where, outcome));
  return 0;
}

export function formatStatus(where: string, status: SchemaStatus): string {
  const lines = [`${where}`];
  if (status.current === 0) lines.push('schema: none yet (an empty database)');
  else lines.push(`schema: version ${status.current}`);
  lines.push(`this Postern knows: version ${status.latest}`);
  for (const applied of status.applied) {
    const when = applied.appliedAt ? applied.appliedAt.toISOString() : 'unknown time';
    lines.push(`  applied  v${applied.version}  ${applied.name}  (${when})`);
  }
  for (const pending of status.pending) lines.push(`  pending  v${pending.version}  ${pending.name}`);
  if (status.current > status.latest) {
    lines.push('the database is newer than this Postern: upgrade Postern on this node; it will not start on it');
  } else if (status.pending.length > 0) {
    lines.push(`run "postern migrate" (or start "postern serve") to apply ${status.pending.length} migration(s)`);
  } else {
    lines.push('up to date');
  }
  return `${lines.join('\n')}\n`;
}

function formatOutcome(where: string, outcome: MigrationOutcome): string {
  if (outcome.applied.length === 0) return `${where}: already at schema version ${outcome.to}, nothing to do\n`;
  const lines = [`${where}: migrated from schema version ${outcome.from} to ${outcome.to}`];
  for (const applied of outcome.applied) lines.push(`  applied  v${applied.version}  ${applied.name}`);
  if (outcome.backup) lines.push(`a copy of the database as it was: ${outcome.backup}`);
  return `${lines.join('\n')}\n`;
}
