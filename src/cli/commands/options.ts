/** Argument parsing shared by the commands (node:util parseArgs, strict: unknown options are errors). */
import { parseArgs } from 'node:util';
import { type LoadedConfig, loadConfig } from '../../config/load.ts';
import { usageError } from '../errors.ts';

type Flags = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

export function parseCommandLine<F extends Flags>(args: string[], flags: F, command: string) {
  const parsed = parseStrictly(args, flags, command);
  // An option declared `multiple` (quickstart's --address) is meant to be given again.
  const twice = optionGivenTwice(parsed.tokens, (name) => flags[name]?.multiple === true);
  if (twice !== undefined) throw usageError(`${command}: --${twice} is given twice with different values`);
  // `--config=` or `--config "$UNSET"`: a mistake on the command line (loadConfig refuses it too), so
  // a usage error as any other empty option, not a config problem (`check` would report it as one).
  if (parsed.tokens?.some((token) => token.kind === 'option' && token.name === 'config' && token.value === ''))
    throw usageError(`${command}: --config needs the config file's path`);
  return parsed;
}

function parseStrictly<F extends Flags>(args: string[], flags: F, command: string) {
  try {
    const options = { config: { type: 'string' as const }, ...flags };
    return parseArgs({ args, options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw usageError(`${command}: ${parseArgsProblem(err as NodeJS.ErrnoException)}`);
  }
}

/**
 * node:util keeps the last of a repeated option; `--config a.yaml … --config b.yaml` would then act on
 * b.yaml while the admin reads a.yaml at the front of the line.
 */
function optionGivenTwice(
  tokens: ReturnType<typeof parseArgs>['tokens'],
  repeatable: (name: string) => boolean,
): string | undefined {
  const seen = new Map<string, string | undefined>();
  for (const token of tokens ?? []) {
    if (token.kind !== 'option' || token.value === undefined || repeatable(token.name)) continue;
    const earlier = seen.get(token.name);
    if (seen.has(token.name) && earlier !== token.value) return token.name;
    seen.set(token.name, token.value);
  }
  return undefined;
}

/** node:util's messages, said shortly: its advice on positionals starting with "-" fits no typo. */
function parseArgsProblem(err: NodeJS.ErrnoException): string {
  const option = /'(-[^' ]*)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    if (/argument missing/.test(err.message)) return `${option} needs a value`;
    // `--limit -5`: node:util will not take a value that starts with "-" unless it is written with "=".
    if (/ambiguous/.test(err.message)) return `${option} needs a value (one starting with "-" as ${option}=-…)`;
    return `${option} takes no value`;
  }
  return err.message;
}

/**
 * The flags a subcommand reads, when its command's parser knows more: `user list --password-stdin`
 * would otherwise be taken and ignored. --config is every command's.
 */
export function onlyFlags(values: Record<string, unknown>, allowed: readonly string[], command: string): void {
  const stray = Object.keys(values).find(
    (flag) => flag !== 'config' && values[flag] !== undefined && !allowed.includes(flag),
  );
  if (stray !== undefined) throw usageError(`${command}: --${stray} does not apply here`);
}

export function configFrom(values: { config?: string | boolean | undefined }): LoadedConfig {
  return loadConfig(typeof values.config === 'string' ? values.config : undefined);
}
