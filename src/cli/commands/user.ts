/**
 * `postern user add|passwd|disable|enable|list|remove`: accounts, with an argon2id password hash
 * and SCRAM-SHA-256 credentials (RFC 5803) derived from the same password. The password is read
 * from standard input, never from the command line (where `ps` shows it), and never printed.
 */
import fs from 'node:fs';
import { normalizeAddress } from '../../accounts/address.ts';
import { hashPassword } from '../../accounts/password.ts';
import { preparePassword, saslPrepRefusal } from '../../accounts/password-prep.ts';
import { deriveScramCredentials, formatScramCredentials } from '../../accounts/sasl/scram.ts';
import type { Config } from '../../config/schema.ts';
import { localAddress, withPostmasterFallback } from '../../policy/local-address.ts';
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
      const credentials = await passwordCredentials(values['password-stdin'], 'user add', config);
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
      requirePasswordStdin(values['password-stdin'], 'user passwd');
      const notAnAccount = (store: Store) =>
        noSuchAccount(
          store,
          address,
          (account) =>
            `it has no password of its own; set the account's with "postern user passwd ${account} --password-stdin"`,
        );
      // Before the password is asked for: typing it for an address that is no account is typing it for nothing.
      await withStore(config, async (store) => {
        if (!(await store.findAccount(address))) throw await notAnAccount(store);
      });
      const credentials = await passwordCredentials(values['password-stdin'], 'user passwd', config);
      await withStore(config, async (store) => {
        // Removed while the password was typed: still named, not changed.
        if (await store.setPassword(address, credentials.hash, credentials.scram)) return;
        throw await notAnAccount(store);
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
      const notAnAccount = (store: Store) =>
        noSuchAccount(
          store,
          address,
          (account) =>
            `remove the alias with "postern alias remove ${address}" ("postern user remove ${account}" would delete the account, all its aliases and its mail)`,
        );
      const removed = await withStore(config, async (store) => {
        const account = await store.findAccount(address);
        if (!account) throw await notAnAccount(store);
        // Read before the removal, which leaves nothing to count: what the admin is told went with it.
        const [aliases, mailboxes] = await Promise.all([store.listAliases(address), store.listMailboxes(account.id)]);
        if (!(await store.removeAccount(address))) throw await notAnAccount(store);
        const removed = [address, ...aliases.map((a) => a.alias)];
        return { aliases, mailboxes, lost: await lostPostmasters(config, store, removed) };
      });
      const messages = removed.mailboxes.reduce((sum, mailbox) => sum + mailbox.messageCount, 0);
      process.stdout.write(
        `removed ${address} and its mail: ${plural(messages, 'message')} in ${plural(removed.mailboxes.length, 'mailbox', 'mailboxes')}\n`,
      );
      if (removed.aliases.length > 0) {
        process.stdout.write(`removed its aliases: ${removed.aliases.map((a) => a.alias).join(', ')}\n`);
      }
      warnOfLostPostmaster(config, removed.lost);
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

/** An argument that is no address is a usage error (exit 2), as a bad `mail show` UID or `quarantine --to` is. */
export function parseAddressArgument(input: string): string {
  try {
    return normalizeAddress(input);
  } catch (err) {
    throw usageError(`${JSON.stringify(input)} is not a valid address: ${(err as Error).message}`);
  }
}

/**
 * The names (each of `domains`, and the host name) whose postmaster@ RCPT TO accepted with `removed`
 * (an account's address and its aliases, or one alias) and refuses without: asked once the removal is
 * done, as the store was with `removed` in it and as it is now. Not read before the removal: another
 * change made meanwhile (a parallel `alias remove` of the first domain's postmaster) would be blamed
 * on this one, whatever it removed.
 */
export async function lostPostmasters(
  config: Config,
  store: Pick<Store, 'resolveAddress'>,
  removed: readonly string[],
): Promise<string[]> {
  const gone = new Set(removed);
  const now = await servedPostmasters(config, async (address) => (await store.resolveAddress(address)) !== undefined);
  const before = await servedPostmasters(
    config,
    async (address) => gone.has(address) || (await store.resolveAddress(address)) !== undefined,
  );
  return [...before].filter((name) => !now.has(name));
}

/**
 * The names postmaster@ is accepted at, read by the server's own functions (localAddress,
 * withPostmasterFallback): postmaster@ a domain without its own is served while the first domain's
 * is, and postmaster@ the host name is always the first domain's, even when the host name is one of
 * `domains`. `resolves`: whether an address is an account or an alias.
 */
async function servedPostmasters(
  config: Config,
  resolves: (address: string) => Promise<boolean>,
): Promise<Set<string>> {
  const server = { localDomains: new Set(config.domains), hostname: config.hostname };
  const accounts = withPostmasterFallback(
    { findAccount: async (address: string) => ((await resolves(address)) ? address : undefined) },
    server,
  );
  const served = new Set<string>();
  for (const name of new Set([...config.domains, config.hostname])) {
    const path = { localPart: 'postmaster', domain: name, address: `postmaster@${name}`, utf8: false };
    const local = localAddress(path, server);
    if (local.local && (await accounts.findAccount(local.address)) !== undefined) served.add(name);
  }
  return served;
}

/**
 * Says on stderr which of our names lost their postmaster (`lost`, from lostPostmasters), and nothing
 * when none did: a domain that still reaches the first domain's postmaster lost nothing. A warning,
 * not a refusal: moving postmaster to another account takes `alias remove` before `alias add`, and
 * removing the postmaster's account may be the step before making its successor.
 */
export function warnOfLostPostmaster(config: Config, lost: readonly string[]): void {
  if (lost.length === 0) return;
  const first = config.domains[0] ?? config.hostname;
  const named = lost.map((name) => (config.domains.includes(name) ? name : `${name} (the host name)`));
  const list = named.length === 1 ? named[0] : `${named.slice(0, -1).join(', ')} and ${named.at(-1)}`;
  const where = lost.length === 1 ? `postmaster@${lost[0]}` : 'postmaster@ each';
  // Every domain without a postmaster of its own falls back to the first domain's: that one alias
  // gives them all theirs back.
  const fix =
    lost.length === 1 && lost[0] !== first
      ? `postern alias add postmaster@${lost[0]} <account>, or postmaster@${first} for every domain without its own`
      : `postern alias add postmaster@${first} <account>${lost.length > 1 ? ' (the others fall back to it)' : ''}`;
  // RFC 5321 §4.5.1: a server MUST accept mail to postmaster at every domain it receives mail for.
  process.stderr.write(
    `warning: ${list} ${lost.length === 1 ? 'has' : 'have'} no postmaster now: RFC 5321 §4.5.1 requires one at every domain served, and mail to ${where} is refused (550) until there is one: ${fix}\n`,
  );
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
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
 * mode for the line and restored, whatever happens.
 */
function readFromTerminal(): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows: what is typed once the prompt is there must never be echoed.
  stdin.setRawMode(true);
  process.stderr.write('Password: ');
  stdin.resume();
  return new Promise((resolve, reject) => {
    const typed = new TypedLine();
    const done = (error?: Error, line?: string) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(line ?? '');
    };
    const onData = (chunk: Buffer) => {
      let line: string | undefined;
      try {
        line = typed.feed(chunk);
      } catch (error) {
        return done(error as Error);
      }
      if (line !== undefined) done(undefined, line);
    };
    stdin.on('data', onData);
  });
}

/**
 * The keys of one line as a raw terminal sends them, in reads that may end inside a character:
 * decoded as one stream, so the two halves of a split "é" are one "é", never two U+FFFD. Backspace
 * edits; Enter ends the line; Ctrl-C, and Ctrl-D before any character, give up.
 */
export class TypedLine {
  // fatal: bytes that are not UTF-8 are refused, as on a pipe, not stored as U+FFFD (no client sends it).
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  #line = '';

  /** The line once Enter (or Ctrl-D after some characters) is in `chunk`, else undefined: read on. */
  feed(chunk: Uint8Array): string | undefined {
    let text: string;
    try {
      text = this.#decoder.decode(chunk, { stream: true });
    } catch {
      throw new CliError('the password typed is not valid UTF-8: set the terminal to UTF-8 (LANG=C.UTF-8, say)');
    }
    for (const char of text) {
      if (char === '\r' || char === '\n') return this.#line;
      if (char === '\u0003') throw new CliError('interrupted: no password read');
      if (char === '\u0004') {
        if (this.#line === '') throw new CliError('no password read');
        return this.#line;
      }
      if (char === '\u007f' || char === '\b') this.#line = Array.from(this.#line).slice(0, -1).join('');
      else this.#line += char;
    }
    return undefined;
  }
}

function requirePasswordStdin(fromStdin: string | boolean | undefined, command: string): void {
  if (fromStdin !== true) throw usageError(`${command}: give the password on standard input with --password-stdin`);
}

/** Both stored forms of the password read from standard input; the password itself goes no further. */
async function passwordCredentials(
  fromStdin: string | boolean | undefined,
  command: string,
  config: Config,
): Promise<{ hash: string; scram: string }> {
  requirePasswordStdin(fromStdin, command);
  const password = await readPassword();
  const scram = deriveScramCredentials(password, { iterations: config.auth.scramIterations });
  return { hash: await hashPassword(password), scram: formatScramCredentials(scram) };
}

/** RFC 4616 §2: what every PLAIN server (and, in practice, LOGIN) must accept of a password, in octets. */
const MAX_PASSWORD_OCTETS = 255;
/**
 * Reading stops past this: 800 MB piped in by mistake took 2.4 GB of memory before being refused. Well
 * above MAX_PASSWORD_OCTETS, so that a long password is still told its length in octets.
 */
const MAX_STDIN_OCTETS = 4096;

async function readPassword(): Promise<string> {
  const text = process.stdin.isTTY ? await readFromTerminal() : await readFromStdin();
  const password = text.replace(/\r?\n$/, '');
  checkPassword(password);
  return password;
}

/** What a pipe or file on standard input holds, up to MAX_STDIN_OCTETS, as UTF-8. */
async function readFromStdin(): Promise<string> {
  // A directory reads as nothing at all here, which was then called an empty password.
  if (fstatOrUndefined(0)?.isDirectory()) {
    throw new CliError('standard input is a directory, not the password: give the password, or a file that holds it');
  }
  const chunks: Buffer[] = [];
  let octets = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    octets += (chunk as Buffer).byteLength;
    if (octets > MAX_STDIN_OCTETS) {
      throw new CliError(
        `the password read from standard input is too long: more than ${MAX_STDIN_OCTETS} octets (a password is at most ${MAX_PASSWORD_OCTETS}, RFC 4616 §2)`,
      );
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    // Decoding leniently would store U+FFFD for the bytes, a password no client sends.
    throw new CliError('the password read from standard input is not valid UTF-8');
  }
}

function fstatOrUndefined(fd: number): fs.Stats | undefined {
  try {
    return fs.fstatSync(fd);
  } catch {
    return undefined;
  }
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
  // RFC 4013 §2.3 and §2.4: C1 controls, private-use and non-character code points, bidi mixes that a
  // SCRAM client refuses to prepare; the server would take them by PLAIN only.
  const refusal = saslPrepRefusal(password);
  if (refusal !== undefined) {
    throw new CliError(
      `the password cannot be prepared for SASL logins: ${refusal}; SCRAM clients would refuse it, choose another`,
    );
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
