/**
 * `postern user add|passwd|disable|enable|list|remove`: accounts, with an argon2id password hash
 * and SCRAM-SHA-256 credentials (RFC 5803) derived from the same password. The password is read
 * from standard input, never from the command line (where `ps` shows it), and never printed.
 */
import { normalizeAddress } from '../../accounts/address.ts';
import { hashPassword } from '../../accounts/password.ts';
import { preparePassword } from '../../accounts/password-prep.ts';
import { deriveScramCredentials, formatScramCredentials } from '../../accounts/sasl/scram.ts';
import type { Config } from '../../config/schema.ts';
import { AccountExistsError, type Store } from '../../store/store.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, onlyFlags, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

const SUBCOMMANDS = ['add', 'passwd', 'disable', 'enable', 'list', 'remove'];

export async function userCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  // Before the config is read: `postern user --config FILE` lacks a subcommand, whatever FILE holds.
  if (sub === undefined || sub.startsWith('-')) {
    throw usageError(`user: missing subcommand (${SUBCOMMANDS.join(', ')})`);
  }
  if (!SUBCOMMANDS.includes(sub)) throw usageError(`user: unknown subcommand "${sub}"`);
  const { values, positionals } = parseCommandLine(
    rest,
    { 'password-stdin': { type: 'boolean' }, json: { type: 'boolean' } },
    `user ${sub}`,
  );
  const flags: Record<string, string[]> = { add: ['password-stdin'], passwd: ['password-stdin'], list: ['json'] };
  onlyFlags(values, flags[sub] ?? [], `user ${sub}`);
  const { config } = configFrom(values);
  switch (sub) {
    case 'add': {
      const address = oneAddress(positionals, 'user add <address> --password-stdin');
      requireLocalDomain(config, address);
      const credentials = await passwordCredentials(values['password-stdin'], 'user add');
      await withStore(config, async (store) => {
        try {
          await store.createAccount(address, credentials.hash, credentials.scram);
        } catch (err) {
          if (!(err instanceof AccountExistsError)) throw err;
          // Taken by an account, or by an alias: the store's message says which alias.
          if (await store.findAccount(address)) throw new CliError(`${address}: account already exists`);
          throw new CliError(err.message);
        }
      });
      process.stdout.write(`added ${address}\n`);
      return 0;
    }
    case 'passwd': {
      const address = oneAddress(positionals, 'user passwd <address> --password-stdin');
      const credentials = await passwordCredentials(values['password-stdin'], 'user passwd');
      await withStore(config, async (store) => {
        if (await store.setPassword(address, credentials.hash, credentials.scram)) return;
        throw await noSuchAccount(
          store,
          address,
          (account) =>
            `it has no password of its own; set the account's with "postern user passwd ${account} --password-stdin"`,
        );
      });
      process.stdout.write(`changed the password of ${address}\n`);
      return 0;
    }
    case 'disable':
    case 'enable': {
      const address = oneAddress(positionals, `user ${sub} <address>`);
      await withStore(config, async (store) => {
        if (await store.setDisabled(address, sub === 'disable')) return;
        throw await noSuchAccount(store, address, (account) =>
          sub === 'disable'
            ? `it has no login of its own: "postern user disable ${account}" stops the account's, and "postern alias remove ${address}" stops mail to ${address}`
            : `"postern user enable ${account}" lets the account log in again`,
        );
      });
      process.stdout.write(
        sub === 'disable' ? `disabled ${address}: it can no longer log in\n` : `enabled ${address}\n`,
      );
      return 0;
    }
    case 'list': {
      if (positionals.length > 0) throw usageError('usage: postern user list [--json]');
      const [accounts, aliases] = await withStore(config, (store) =>
        Promise.all([store.listAccounts(), store.listAliases()]),
      );
      if (values.json === true) {
        const rows = accounts.map((a) => ({
          address: a.address,
          created: a.createdAt.toISOString(),
          disabled: a.disabled,
          scram: a.scram !== null, // false: set before SCRAM was stored; `user passwd` adds it
          aliases: aliases.filter((alias) => alias.account === a.address).map((alias) => alias.alias),
        }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      } else {
        for (const a of accounts) process.stdout.write(`${a.address}${a.disabled ? ' (disabled)' : ''}\n`);
      }
      return 0;
    }
    case 'remove': {
      const address = oneAddress(positionals, 'user remove <address>');
      await withStore(config, async (store) => {
        if (await store.removeAccount(address)) return;
        throw await noSuchAccount(
          store,
          address,
          (account) =>
            `remove the alias with "postern alias remove ${address}" ("postern user remove ${account}" would delete the account, all its aliases and its mail)`,
        );
      });
      process.stdout.write(`removed ${address} and its mail\n`);
      return 0;
    }
    default:
      throw new Error(`user: subcommand "${sub}" is listed but not handled`);
  }
}

/**
 * The error for an address that is no account: "no such account", or, when it is an alias, whose it
 * is and what to run instead (`instead`, given the account's address).
 */
export async function noSuchAccount(
  store: Pick<Store, 'resolveAddress'>,
  address: string,
  instead: (account: string) => string,
): Promise<CliError> {
  const account = await store.resolveAddress(address);
  if (account === undefined || account.address === address) return new CliError(`${address}: no such account`);
  return new CliError(`${address} is an alias of ${account.address}, not an account: ${instead(account.address)}`);
}

export function oneAddress(positionals: string[], usage: string): string {
  if (positionals.length !== 1) throw usageError(`usage: postern ${usage}`);
  return parseAddressArgument(positionals[0]!);
}

export function parseAddressArgument(input: string): string {
  try {
    return normalizeAddress(input);
  } catch (err) {
    throw new CliError(`"${input}" is not a valid address: ${(err as Error).message}`);
  }
}

/** Accounts and aliases are for this server's own domains. */
export function requireLocalDomain(config: Config, address: string): void {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  if (!config.domains.includes(domain)) {
    throw new CliError(
      `${address}: domain ${domain} is not one of this server's domains (${config.domains.join(', ')}); add it to "domains" in the config`,
    );
  }
}

/**
 * One line typed at a terminal, not echoed (as passwd and sudo read one): the terminal is put in raw
 * mode for the line and restored, whatever happens. Backspace edits; Ctrl-C and Ctrl-D before any
 * character give up.
 */
function readFromTerminal(): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows: what is typed once the prompt is there must never be echoed.
  stdin.setRawMode(true);
  process.stderr.write('Password: ');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new CliError('interrupted: no password read'));
        if (char === '\u0004') {
          if (line === '') return done(new CliError('no password read'));
          return done();
        }
        if (char === '\u007f' || char === '\b') line = Array.from(line).slice(0, -1).join('');
        else line += char;
      }
    };
    stdin.on('data', onData);
  });
}

/** Both stored forms of the password read from standard input; the password itself goes no further. */
async function passwordCredentials(
  fromStdin: string | boolean | undefined,
  command: string,
): Promise<{ hash: string; scram: string }> {
  if (fromStdin !== true) throw usageError(`${command}: give the password on standard input with --password-stdin`);
  const password = await readPassword();
  return { hash: await hashPassword(password), scram: formatScramCredentials(deriveScramCredentials(password)) };
}

/** RFC 4616 §2: what every PLAIN server (and, in practice, LOGIN) must accept of a password, in octets. */
const MAX_PASSWORD_OCTETS = 255;

async function readPassword(): Promise<string> {
  const typed = process.stdin.isTTY ? await readFromTerminal() : undefined;
  const chunks: Buffer[] = [];
  if (typed === undefined) for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  let text: string;
  try {
    text = typed ?? new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    // Decoding leniently would store U+FFFD for the bytes, a password no client sends.
    throw new CliError('the password read from standard input is not valid UTF-8');
  }
  const password = text.replace(/\r?\n$/, '');
  checkPassword(password);
  return password;
}

/**
 * Refuses a password some client could never log in with, before it is stored: one that only SCRAM
 * would take is an account a PLAIN or LOGIN client retries against until its address is blocked.
 */
function checkPassword(password: string): void {
  if (password === '') throw new CliError('the password read from standard input is empty');
  if (/[\r\n]/.test(password)) {
    throw new CliError('the password read from standard input holds a line break: give it on one line');
  }
  // RFC 4616 §2: NUL separates PLAIN's fields, so no password holds it; SASLprep (RFC 4013 §2.3,
  // RFC 3454 C.2.1) prohibits every ASCII control character, so SCRAM clients refuse them too.
  const control = /[\x00-\x1f\x7f]/.exec(password)?.[0];
  if (control !== undefined) {
    const code = `U+${control.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new CliError(`the password holds a control character (${code}), which SASL logins cannot carry`);
  }
  // Characters as a person counts them, not UTF-16 units: four emoji are four characters. Counted as
  // logins see the password too, after SASLprep (RFC 4013 §2.2 drops a soft hyphen, say): invisible
  // characters pasted with it must not make "abc" pass.
  if ([...password].length < 8 || [...preparePassword(password)].length < 8) {
    throw new CliError('the password is too short: use at least 8 characters');
  }
  const octets = Buffer.byteLength(password);
  if (octets > MAX_PASSWORD_OCTETS) {
    throw new CliError(
      `the password is ${octets} octets long in UTF-8: AUTH PLAIN and LOGIN clients and servers promise only ` +
        `${MAX_PASSWORD_OCTETS} (RFC 4616 §2), so use a shorter one`,
    );
  }
}
