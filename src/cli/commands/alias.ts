/**
 * `postern alias add|remove|list`: further full addresses of an account, resolved to it by the
 * store (Store.resolveAddress) for RCPT TO and sender checks. An alias is one address in one of
 * this server's domains; catch-all aliases (`@example.com`) are off by design for now: they invite
 * dictionary spam and hide senders' typos.
 */
import { CliError, usageError } from '../errors.ts';
import { configFrom, onlyFlags, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';
import {
  lostPostmasters,
  noSuchAccount,
  parseAddressArgument,
  requireLocalDomain,
  warnOfLostPostmaster,
} from './user.ts';

const SUBCOMMANDS = ['add', 'remove', 'list'];

export async function aliasCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  // Before the config is read: `postern alias --config FILE` lacks a subcommand, whatever FILE holds.
  if (sub === undefined || sub.startsWith('-')) {
    throw usageError(`alias: missing subcommand (${SUBCOMMANDS.join(', ')})`);
  }
  if (!SUBCOMMANDS.includes(sub)) throw usageError(`alias: unknown subcommand "${sub}"`);
  const { values, positionals } = parseCommandLine(rest, { json: { type: 'boolean' } }, `alias ${sub}`);
  onlyFlags(values, sub === 'list' ? ['json'] : [], `alias ${sub}`);
  const { config } = configFrom(values);
  switch (sub) {
    case 'add': {
      if (positionals.length !== 2) throw usageError('usage: postern alias add <alias> <account>');
      const alias = aliasArgument(positionals[0]!);
      const account = parseAddressArgument(positionals[1]!);
      requireLocalDomain(config, alias);
      // A taken alias or a missing account is a StoreError naming the address: one line on stderr.
      await withStore(config, (store) => store.addAlias(alias, account));
      process.stdout.write(`added ${alias} -> ${account}\n`);
      return 0;
    }
    case 'remove': {
      if (positionals.length !== 1) throw usageError('usage: postern alias remove <alias>');
      const alias = aliasArgument(positionals[0]!);
      const lost = await withStore(config, async (store) => {
        // Not the alias's domain alone: postmaster@ a domain may fall back to the first domain's.
        if (await store.removeAlias(alias)) return lostPostmasters(config, store, [alias]);
        if (await store.findAccount(alias)) {
          throw new CliError(
            `${alias} is an account, not an alias: "postern user remove ${alias}" removes an account (with its aliases and its mail)`,
          );
        }
        throw new CliError(`${alias}: no such alias`);
      });
      process.stdout.write(`removed ${alias}\n`);
      warnOfLostPostmaster(config, lost);
      return 0;
    }
    case 'list': {
      if (positionals.length > 1) throw usageError('usage: postern alias list [<account>] [--json]');
      const account = positionals[0] === undefined ? undefined : parseAddressArgument(positionals[0]);
      const aliases = await withStore(config, async (store) => {
        if (account !== undefined && !(await store.findAccount(account))) {
          throw await noSuchAccount(
            store,
            account,
            (target) => `its aliases are ${target}'s: postern alias list ${target}`,
          );
        }
        return store.listAliases(account);
      });
      if (values.json === true) {
        process.stdout.write(`${JSON.stringify(aliases, null, 2)}\n`);
      } else {
        for (const a of aliases) process.stdout.write(`${a.alias} -> ${a.account}\n`);
      }
      return 0;
    }
    default:
      throw new Error(`alias: subcommand "${sub}" is listed but not handled`);
  }
}

/** `*@example.com` is a valid address, but whoever types it means a catch-all: refused alike. */
function aliasArgument(input: string): string {
  if (input.startsWith('@') || input.startsWith('*@')) {
    throw new CliError(
      `${input}: catch-all aliases are not supported (off by design for now); an alias is a full address, like postmaster${input.slice(input.indexOf('@'))}`,
    );
  }
  return parseAddressArgument(input);
}
