/** `postern user add|list|remove`: accounts, with argon2id password hashes. */
import { normalizeAddress } from '../../accounts/address.ts';
import { hashPassword } from '../../accounts/password.ts';
import { AccountExistsError } from '../../store/store.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

export async function userCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseCommandLine(
    rest,
    { 'password-stdin': { type: 'boolean' }, json: { type: 'boolean' } },
    `user ${sub ?? ''}`.trim(),
  );
  const { config } = configFrom(values);
  switch (sub) {
    case 'add': {
      const address = oneAddress(positionals, 'user add <address> --password-stdin');
      const domain = address.slice(address.lastIndexOf('@') + 1);
      if (!config.domains.includes(domain)) {
        throw new CliError(
          `${address}: domain ${domain} is not one of this server's domains (${config.domains.join(', ')}); add it to "domains" in the config`,
        );
      }
      if (values['password-stdin'] !== true) {
        throw usageError('user add: give the password on standard input with --password-stdin');
      }
      const password = await readPassword();
      const hash = await hashPassword(password);
      await withStore(config, async (store) => {
        try {
          await store.createAccount(address, hash);
        } catch (err) {
          if (err instanceof AccountExistsError) throw new CliError(`${address}: account already exists`);
          throw err;
        }
      });
      process.stdout.write(`added ${address}\n`);
      return 0;
    }
    case 'list': {
      const accounts = await withStore(config, (store) => store.listAccounts());
      if (values.json === true) {
        const rows = accounts.map((a) => ({ address: a.address, created: a.createdAt.toISOString() }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      } else {
        for (const a of accounts) process.stdout.write(`${a.address}\n`);
      }
      return 0;
    }
    case 'remove': {
      const address = oneAddress(positionals, 'user remove <address>');
      const removed = await withStore(config, (store) => store.removeAccount(address));
      if (!removed) throw new CliError(`${address}: no such account`);
      process.stdout.write(`removed ${address} and its mail\n`);
      return 0;
    }
    default:
      throw usageError(
        sub === undefined ? 'user: missing subcommand (add, list, remove)' : `user: unknown subcommand "${sub}"`,
      );
  }
}

export function oneAddress(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw usageError(`usage: postern ${usage}`);
  try {
    return normalizeAddress(positionals[0]!);
  } catch (err) {
    throw new CliError(`"${positionals[0]}" is not a valid address: ${(err as Error).message}`);
  }
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (then Enter, Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (password === '') throw new CliError('the password read from standard input is empty');
  if (password.length < 8) throw new CliError('the password is too short: use at least 8 characters');
  return password;
}
