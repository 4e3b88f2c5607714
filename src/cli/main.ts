/** The `postern` command line. One catch at the edge: every failure becomes one clear line on stderr. */
import { ConfigError } from '../config/load.ts';
import { VERSION } from '../config/version.ts';
import { StoreError } from '../store/store.ts';
import { CliError, usageError } from './errors.ts';

// An installed package starts here (bin/postern runs dist/src/cli/main.js), not in bin/postern.mjs,
// which ignores an early SIGHUP first thing: the same here, as soon as this module runs.
if (process.argv[2] === 'serve' && process.listenerCount('SIGHUP') === 0) process.on('SIGHUP', () => {});

/** Said under every usage text: where the config comes from (loadConfig's order). */
const FOOTER = `Every command but quickstart takes --config FILE (after the command); without it, the config is
$POSTERN_CONFIG, else ./postern.yaml if it exists, else the embedded defaults.`;

export const USAGE = `Usage: postern <command> [options]

Commands:
  serve [--config FILE] [--discard-mail]   run the mail server (the config it reads: below)
  user add <address> --password-stdin      create an account; the password is read from standard input
  user passwd <address> --password-stdin   set an account's password (and its SCRAM credentials)
  user disable <address>                   stop an account from logging in (it keeps its mail)
  user enable <address>                    let a disabled account log in again
  user list [--json]                       list accounts
  user remove <address>                    delete an account, its aliases and its mail
  alias add <alias> <account>              deliver mail for another full address to an account
  alias remove <alias>                     delete an alias
  alias list [<account>] [--json]          list aliases, all or one account's
  mail list <address> [--mailbox NAME] [--json]
                                           list the messages in an account's INBOX (or mailbox NAME, e.g. Junk)
  mail show <address> <uid> [--mailbox NAME] [--raw]
                                           print one stored message as it arrived
  dkim keygen --domain D [--selector S] [--algo rsa|ed25519] [--bits 2048|3072|4096] [--export-private FILE]
                                           create a DKIM signing key and print its DNS record
  dkim rotate --domain D [--selector S] [--algo A] [--bits N]
                                           a new key that replaces the active one once DNS serves it
  dkim rotate --advance                    check DNS now: activate published keys, retire old ones
  dkim list [--domain D] [--json]          DKIM keys: selector, algorithm, state and dates (never private keys)
  dkim remove --domain D --selector S [--force]
                                           delete a key (an active or retiring one only with --force)
  migrate [--status] [--json]              apply the store's schema migrations, or show where it stands
  backup <file> [--json]                   a consistent copy of the SQLite store, taken while the server runs
  restore <file> [--json]                  put a backup in place of the SQLite store (the server stopped)
  quickstart <domain> [--hostname H] [--account A] [--address IP]... [--dir DIR]
                                           a new domain: config, data, first account, DKIM keys, DNS records
  dns records <domain> [--json]            the DNS records to publish for a domain, as zone-file lines
  dns check <domain> [--json]              check the published records and the server: pass / warn / fail
  queue list [--json]                      the outbound queue: mail accepted for other domains. Nothing delivers
                                           it yet (outbound delivery is not implemented) and no bounce is sent
  queue show <job> [--raw]                 a queued message's envelope (--raw: the message as stored, to hand
                                           to another MTA)
  queue delete <job>... [--force]          remove queued messages (--force: also one a node holds)
  quarantine list [--json] [--limit N]     messages the content filter held back, newest first
  quarantine show <id> [--raw] [--lang en|ru]
                                           the verdict, every signal explained, and the headers (--raw: the message)
  quarantine release <id> [--remote | --to <address>]
                                           deliver a held message to its original recipients, then drop it
                                           (--remote: also those outside domains; --to: to that account instead)
  quarantine delete <id>                   drop a held message
  scan <file.eml|dir|->... [--json] [--lang en|ru]
                                           the phishing verdict of saved messages, every signal explained
  stats [--json]                           what the restrictions rejected, deferred or warned about, per rule,
                                           and what each header/body content rule did
  check [--json]                           check the config as serve would, without starting: rules, tables, certificates
  help [<command>]                         this text, or one command's usage (also: postern <command> --help)
  version                                  print the version

${FOOTER}`;

/** The usage lines of one command (`postern user --help`, `postern help user`); undefined when it has none. */
function commandUsage(command: string): string | undefined {
  const lines = USAGE.split('\n');
  const own: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (line.startsWith(`  ${command} `) || line === `  ${command}`) inside = true;
    else if (!line.startsWith('     ')) inside = false; // the next command's line, or the end of the list
    if (inside) own.push(line);
  }
  if (own.length === 0) return undefined;
  // quickstart reads no config (it writes one): the footer about where the config comes from is not its.
  const footer = command === 'quickstart' ? '' : `\n\n${FOOTER}`;
  return `Usage: postern ${command} …\n\n${own.join('\n')}${footer}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const helpFor = command === 'help' && rest.length > 0 && !rest[0]!.startsWith('-') ? rest[0] : undefined;
  const isHelp = (word: string | undefined) => word === 'help' || word === '--help' || word === '-h';
  const wantsHelp = command !== undefined && !isHelp(command) && (rest.includes('--help') || rest.includes('-h'));
  if (helpFor !== undefined || wantsHelp) {
    const usage = commandUsage(helpFor ?? command!);
    if (usage === undefined) throw usageError(`unknown command "${helpFor ?? command}"`);
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  switch (command) {
    // Each command loads only what it needs, so a one-shot command starts fast.
    case 'serve':
      return (await import('./commands/serve.ts')).serveCommand(rest);
    case 'user':
      return (await import('./commands/user.ts')).userCommand(rest);
    case 'alias':
      return (await import('./commands/alias.ts')).aliasCommand(rest);
    case 'mail':
      return (await import('./commands/mail.ts')).mailCommand(rest);
    case 'dns':
      return (await import('./commands/dns.ts')).dnsCommand(rest);
    case 'quickstart':
      return (await import('./commands/quickstart.ts')).quickstartCommand(rest);
    case 'dkim':
      return (await import('./commands/dkim.ts')).dkimCommand(rest);
    case 'queue':
      return (await import('./commands/queue.ts')).queueCommand(rest);
    case 'quarantine':
      return (await import('./commands/quarantine.ts')).quarantineCommand(rest);
    case 'stats':
      return (await import('./commands/stats.ts')).statsCommand(rest);
    case 'check':
      return (await import('./commands/check.ts')).checkCommand(rest);
    case 'scan':
      return (await import('./commands/scan.ts')).scanCommand(rest);
    case 'migrate':
      return (await import('./commands/migrate.ts')).migrateCommand(rest);
    case 'backup':
      return (await import('./commands/backup.ts')).backupCommand(rest);
    case 'restore':
      return (await import('./commands/backup.ts')).restoreCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      // `postern help --help` asks for the same page.
      refuseArguments(
        command,
        rest.filter((word) => word !== '--help' && word !== '-h'),
      );
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
    case '--version':
      refuseArguments(command, rest);
      process.stdout.write(`postern ${VERSION} (Node ${process.version})\n`);
      return 0;
    default:
      throw usageError(`unknown command "${command}"`);
  }
}

// A reader that stops early (`postern mail list … | head -1`) closes the pipe: nothing more can be
// shown, and that is no error of ours. Without this, Node reports the EPIPE as a crash.
// Any other write error (ENOSPC from a full disk or /dev/full, EIO) loses output the admin asked for:
// one line naming it and exit 1, not a stack trace thrown from this event handler. A closed stdout
// (`>&-`) is not seen: Node opens /dev/null in its place at start, which looks like `> /dev/null`.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  process.stderr.write(`postern: cannot write the output: ${err.message}\n`);
  process.exit(1);
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof CliError || err instanceof ConfigError || err instanceof StoreError) {
    process.stderr.write(`postern: ${err.message}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  } else if (err instanceof Error && err.name === 'CertificateError') {
    // A certificate or key file of tls.certificates that does not load (src/tls/certificate-store.ts,
    // known by name so that every command does not load the TLS code): the admin's to fix, in one line.
    process.stderr.write(`postern: tls.certificates: ${err.message}\n`);
    process.exitCode = 1;
  } else if (isSystemError(err)) {
    // A file or a port the system refused (EACCES, ENOSPC, ENOTDIR …): the environment's to fix, in one line.
    process.stderr.write(`postern: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(
      `postern: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 70; // EX_SOFTWARE
  }
  // Run as root, a command may have become the data directory's owner: a file that owner may not reach says why.
  const note = (await import('./data-dir-owner.ts')).switchNote(err);
  if (note) process.stderr.write(`postern: ${note}\n`);
}

function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

/** help and version read nothing but take --config like every command (so a wrapper may always pass it). */
function refuseArguments(command: string | undefined, args: string[]): void {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config' && i + 1 < args.length) i++;
    else if (!args[i]!.startsWith('--config=')) throw usageError(`${command}: unexpected argument "${args[i]}"`);
  }
}
