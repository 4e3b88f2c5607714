/** Argument parsing shared by the commands (node:util parseArgs, strict: unknown options are errors). */
import { parseArgs } from 'node:util';
import { type LoadedConfig, loadConfig } from '../../config/load.ts';
import { usageError } from '../errors.ts';

type Flags = Record<string, { type: 'string' | 'boolean' }>;

export function parseCommandLine<F extends Flags>(args: string[], flags: F, command: string) {
  try {
    return parseArgs({ args, options: { config: { type: 'string' }, ...flags }, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError(`${command}: ${(err as Error).message}`);
  }
}

export function configFrom(values: { config?: string | boolean | undefined }): LoadedConfig {
  return loadConfig(typeof values.config === 'string' ? values.config : undefined);
}
