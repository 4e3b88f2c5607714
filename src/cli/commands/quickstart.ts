/**
 * `postern quickstart <domain> [--hostname H] [--account A] [--address IP]… [--dir DIR]`: a new mail
 * domain in one command, as Mox's quickstart. Writes DIR/postern.yaml (never over an existing file),
 * creates the data directory, the first account (its password printed once, never stored in clear),
 * an RSA and an Ed25519 DKIM key, then prints the DNS records to publish and what to do next. Run
 * again after a failure (no config written yet), it keeps what the earlier run stored.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { normalizeAddress } from '../../accounts/address.ts';
import { hashPassword } from '../../accounts/password.ts';
import { deriveScramCredentials, formatScramCredentials } from '../../accounts/sasl/scram.ts';
import { asciiDomain, createDkimKey } from '../../admin/dkim-keys.ts';
import { recordsFor } from '../../admin/dns-records.ts';
import { mtaStsPolicy } from '../../admin/mta-sts-policy.ts';
import { generatePassword, quickstartConfig } from '../../admin/quickstart.ts';
import { zoneLines } from '../../admin/zone-lines.ts';
import { ConfigError, dataDirProblem, parseConfig } from '../../config/load.ts';
import { isAddressShaped, serverAddressProblem } from '../../config/schema.ts';
import { unreachableAddresses } from '../../config/setting-warnings.ts';
import { asDataDirOwner, DataDirUnreachableError } from '../../server/data-dir-owner-ids.ts';
import type { Store } from '../../store/store.ts';
import { dataDirOwner } from '../data-dir-owner.ts';
import { CliError, usageError } from '../errors.ts';
import { programName, shellWord } from '../program-name.ts';
import { parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

/**
 * Run as root on a data directory another user owns (a run that stopped, then a chown), the store is
 * written as that user (withStore becomes it), and so is the config, last. Where that user cannot
 * write the config's directory, the run would reset the account's password and then fail before
 * printing it: refused first, saying why and the ways out.
 */
function refuseIfOwnerCannotWrite(dir: string, dataDir: string, configFile: string): void {
  if (process.getuid?.() !== 0) return;
  const owner = dataDirOwner(dataDir);
  if (!owner) return;
  const probe = path.join(dir, `.postern-quickstart-${process.pid}`);
  let problem: string | undefined;
  try {
    asDataDirOwner(dataDir, () => {
      try {
        fs.closeSync(fs.openSync(probe, 'wx', 0o600));
        fs.unlinkSync(probe);
      } catch {
        problem = `${owner.user} cannot write ${configFile}`;
      }
    });
  } catch (error) {
    if (!(error instanceof DataDirUnreachableError)) throw error;
    problem = `${owner.user} cannot reach it (${dir} is closed to ${owner.user})`;
  }
  if (problem === undefined) return;
  // Not "give the directory to that user": the config must stay root's (docs/deployment.md), or the
  // server's user could rewrite what root's commands read.
  throw new CliError(
    `quickstart: ${dataDir} is ${owner.user}'s, so quickstart run as root works as ${owner.user} there (as the server runs), ` +
      `and ${problem}: remove ${dataDir} to start afresh (it holds what an earlier quickstart made), or use a new --dir`,
  );
}

const USAGE = 'usage: postern quickstart <domain> [--hostname H] [--account A] [--address IP]... [--dir DIR]';

export async function quickstartCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    {
      hostname: { type: 'string' },
      account: { type: 'string' },
      address: { type: 'string', multiple: true },
      dir: { type: 'string' },
    } as const,
    'quickstart',
  );
  if (values.config !== undefined) throw usageError('quickstart writes its own config: use --dir to choose where');
  if (positionals.length !== 1) throw usageError(USAGE);
  // The config holds A-labels (RFC 5890 §2.3.2.1): `quickstart bücher.example` sets up xn--bcher-kva.example.
  const domain = asciiDomain(positionals[0]!);
  const hostname = asciiDomain(values.hostname ?? `mail.${domain}`);
  // Refused before anything is stored: the account and keys would otherwise outlive a config never written.
  // RFC 5321 §2.3.5, §4.1.3: EHLO takes a domain name (an address only as a [literal]); §5.1: MX names a host.
  if (isIP(domain) !== 0 || isAddressShaped(domain)) {
    throw usageError(`quickstart: "${positionals[0]}" is an IP address; give the mail domain, such as example.org`);
  }
  if (
    values.hostname !== undefined &&
    (isIP(hostname.replace(/^\[(.*)\]$/, '$1')) !== 0 || isAddressShaped(hostname))
  ) {
    throw usageError(
      `quickstart: --hostname ${values.hostname} is an IP address; give the mail host's name, such as mail.${domain}`,
    );
  }
  const addresses = (values.address as string[] | undefined) ?? [];
  for (const address of addresses) {
    const problem = serverAddressProblem(address);
    if (problem) {
      throw usageError(
        isIP(address) === 0
          ? `quickstart: --address ${address} is not an IP address`
          : `quickstart: --address ${address}: ${problem}`,
      );
    }
  }
  const dir = path.resolve(values.dir ?? '.');
  const configFile = path.join(dir, 'postern.yaml');
  const dataDir = path.join(dir, 'data');
  // Before anything is made: under /proc the directories below would never be made, nor fail (load.ts).
  const systemDir = dataDirProblem(dataDir);
  if (systemDir) throw usageError(`quickstart: --dir ${dir}: ${systemDir}`);
  if (fs.existsSync(configFile)) {
    throw new CliError(`${configFile} exists already; quickstart never overwrites a configuration (use --dir)`);
  }
  let accountAddress: string;
  try {
    accountAddress = normalizeAddress(values.account ?? `postmaster@${domain}`);
  } catch (err) {
    // Without --account the address is postmaster@<domain>: what is wrong is the domain given.
    if (values.account === undefined) throw usageError(`quickstart: "${positionals[0]}" is not a valid domain name`);
    throw usageError(`quickstart: --account: ${(err as Error).message}`);
  }
  if (!accountAddress.endsWith(`@${domain}`)) throw usageError(`quickstart: --account must be an address at ${domain}`);

  const text = quickstartConfig({ domain, hostname, dataDir, addresses, email: accountAddress });
  // The same validation `serve` applies: a bad domain or host name is refused before anything is written.
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(parseYaml(text), 'quickstart');
  } catch (err) {
    // What was given on the command line does not make a config (`--hostname mx`): a usage error,
    // whose message already starts "quickstart: invalid configuration".
    if (err instanceof ConfigError) throw usageError(err.message);
    throw err;
  }

  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new CliError(`quickstart: --dir ${dir} is a file, not a directory`);
  }
  // A directory we make is the owner's, readable by the group (which may read the config), closed to
  // others whatever the umask: one others could write would let them replace postern.yaml.
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
    fs.chmodSync(dir, 0o750);
  }
  refuseIfOwnerCannotWrite(dir, dataDir, configFile);
  const password = generatePassword(randomBytes);
  const now = new Date();
  const resumed: string[] = [];
  let postmasterNote: string | undefined;
  // What the store held before this run: a data directory from another setup is reused, not made.
  let reused = false;
  const foreign = { accounts: new Set<string>(), keys: new Set<string>() };
  const populate = async (store: Store) => {
    const [accounts, aliases, keys] = await Promise.all([
      store.listAccounts(),
      store.listAliases(),
      store.listDkimKeys(),
    ]);
    reused = accounts.length + aliases.length + keys.length > 0;
    const ours = (d: string) => config.domains.includes(d);
    for (const account of accounts) {
      const at = account.address.slice(account.address.lastIndexOf('@') + 1);
      if (!ours(at)) foreign.accounts.add(at);
    }
    for (const key of keys) if (!ours(key.domain)) foreign.keys.add(key.domain);
    const hash = await hashPassword(password);
    const scram = formatScramCredentials(deriveScramCredentials(password));
    // A run that stopped before writing the config left its store: this run takes up where it ended,
    // so the admin can simply run the same command again. The account keeps its mail, with the new password.
    if (await store.findAccount(accountAddress)) {
      await store.setPassword(accountAddress, hash, scram);
      resumed.push(`the account ${accountAddress} (with the new password below)`);
    } else await store.createAccount(accountAddress, hash, scram);
    // RFC 5321 §4.5.1: every domain needs postmaster, and the DMARC and TLS-RPT reports quickstart
    // publishes go there. Another --account gets it as an alias.
    const postmaster = `postmaster@${domain}`;
    if (accountAddress !== postmaster) {
      const owner = await store.resolveAddress(postmaster);
      if (!owner) {
        await store.addAlias(postmaster, accountAddress);
        postmasterNote = `${postmaster} delivers to it (an alias).`;
      } else if (owner.address !== accountAddress) {
        // An earlier run's account (or alias) keeps it: the reports go there, not to this account.
        postmasterNote = `${postmaster} is kept as it was: it delivers to ${owner.address}.`;
      } else postmasterNote = `${postmaster} delivers to it (an alias).`;
    }
    const existing = await store.listDkimKeys(domain);
    // Both algorithms (RFC 8463 §5 recommends signing with both while Ed25519 support spreads).
    for (const algorithm of ['rsa', 'ed25519'] as const) {
      if (existing.some((key) => key.algorithm === algorithm)) resumed.push(`the ${algorithm} DKIM key`);
      else await createDkimKey(store, { domain, algorithm, now });
    }
    return recordsFor(domain, { config, store });
  };
  // A new store is what quickstart makes, and it says so below: no note from withStore.
  const records = await withStore(config, populate, { noteNewStore: false });
  // Written last: a store that failed above leaves no config behind, so quickstart can simply run again.
  // The config names no secret, but it says where the data is: readable by its owner and group only.
  fs.writeFileSync(configFile, text, { mode: 0o640, flag: 'wx' });

  const out = process.stdout;
  const kept = resumed.length > 0 ? `: kept ${resumed.join(', ')}` : '';
  const others = foreign.accounts.size + foreign.keys.size > 0;
  if (!reused) out.write(`Wrote ${configFile} and created ${dataDir}.\n\n`);
  else if (!others) out.write(`Wrote ${configFile}; ${dataDir} held an earlier run's store${kept}.\n\n`);
  else {
    // Not "created": the store is another setup's, and what it holds for other domains stays in it.
    const held = [
      foreign.accounts.size > 0 ? `accounts of ${[...foreign.accounts].sort().join(', ')}` : '',
      foreign.keys.size > 0 ? `DKIM keys of ${[...foreign.keys].sort().join(', ')}` : '',
    ].filter(Boolean);
    out.write(`Wrote ${configFile}; ${dataDir} held a store already, which the new config uses${kept}.\n\n`);
    process.stderr.write(
      `warning: the store reused in ${dataDir} holds ${held.join(' and ')}, not in domains (${config.domains.join(', ')}); ` +
        `they are kept as they were: add those domains to domains in ${configFile} to serve them, or use a new --dir for a store of ${domain} alone\n`,
    );
  }
  out.write(`Account: ${accountAddress}\nPassword: ${password}\n`);
  if (postmasterNote) out.write(`${postmasterNote}\n`);
  out.write('  (shown this once; change it with `postern user passwd`)\n\n');
  out.write('Publish these DNS records (the PTR at your hosting provider):\n\n');
  out.write(zoneLines(domain, records, mtaStsPolicy(config)));
  // As `check` says later, but here, where the records are read to be published: an address only this
  // network reaches, published as A/AAAA and PTR, leads other servers' mail nowhere.
  const unreachable = unreachableAddresses(addresses);
  if (unreachable.length > 0) {
    process.stderr.write(
      `warning: --address ${unreachable.join(', ')} is not reachable from the Internet (loopback, link-local or private, RFC 6890): the A/AAAA and PTR records above would lead other servers' mail nowhere; give the public address (behind NAT, the router's)\n`,
    );
  }
  // As the admin runs this CLI (`postern` on the PATH, or bin/postern's path), so the lines paste as they are.
  const postern = programName();
  const configWord = shellWord(configFile);
  out.write(`
Next steps:
  1. Fill in serverAddresses in ${configFile} if you did not give --address, and publish the records above.
  2. Get a certificate: the tls.acme section of the config explains how.
  3. Check the config:  ${postern} check --config ${configWord}   (after every change too)
  4. Start the server:   ${postern} serve --config ${configWord}
  5. Check the domain:   ${postern} dns check ${domain} --config ${configWord}
  6. Configure a mail program: ${hostname}, port 465 (TLS) or 587 (STARTTLS), user ${accountAddress}.
`);
  return 0;
}
