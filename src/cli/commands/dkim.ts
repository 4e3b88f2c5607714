/**
 * `postern dkim keygen|rotate|list|remove`: the DKIM signing keys of our domains (admin/dkim-keys.ts) and
 * their rotation (admin/dkim-rotation.ts). A private key is never printed: `--export-private FILE`
 * writes it to a new file of mode 0600, and the store keeps it for signing.
 */
import fs from 'node:fs';
import {
  asciiDomain,
  type CreatedKey,
  checkDomain,
  checkRsaBits,
  createDkimKey,
  type DkimAlgorithm,
  DkimKeyError,
  dkimRecord,
  dkimRecordName,
  notBase64,
  removeDkimKey,
} from '../../admin/dkim-keys.ts';
import {
  advanceRotationReport,
  type ChangedMeanwhile,
  ROTATION_INTERVAL_MS,
  type RotationEvent,
  rotateDkimKey,
  rotationTarget,
} from '../../admin/dkim-rotation.ts';
import type { Config } from '../../config/schema.ts';
import { createResolver } from '../../dns/system-resolver.ts';
import type { DkimKey } from '../../store/store.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, onlyFlags, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

const SUBCOMMANDS = ['keygen', 'rotate', 'list', 'remove'];

const FLAGS = {
  domain: { type: 'string' },
  selector: { type: 'string' },
  algo: { type: 'string' },
  bits: { type: 'string' },
  'export-private': { type: 'string' },
  advance: { type: 'boolean' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseCommandLine<typeof FLAGS>>['values'];

export async function dkimCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  // Before the config is read: `postern dkim --config FILE` lacks a subcommand, whatever FILE holds.
  if (sub === undefined || sub.startsWith('-')) {
    throw usageError(`dkim: missing subcommand (${SUBCOMMANDS.join(', ')})`);
  }
  if (!SUBCOMMANDS.includes(sub)) throw usageError(`dkim: unknown subcommand "${sub}"`);
  const { values, positionals } = parseCommandLine(rest, FLAGS, `dkim ${sub}`);
  if (positionals.length > 0) throw usageError(`dkim ${sub}: unexpected argument "${positionals[0]}"`);
  const allowed: Record<string, (keyof typeof FLAGS)[]> = {
    keygen: ['domain', 'selector', 'algo', 'bits', 'export-private'],
    rotate: values.advance === true ? ['advance'] : ['domain', 'selector', 'algo', 'bits'],
    list: ['domain', 'json'],
    remove: ['domain', 'selector', 'force'],
  };
  onlyFlags(values, allowed[sub] ?? [], `dkim ${sub}${values.advance === true ? ' --advance' : ''}`);
  const { config } = configFrom(values);
  try {
    switch (sub) {
      case 'keygen':
        return await keygen(config, values);
      case 'rotate':
        return values.advance === true ? await advance(config) : await rotate(config, values);
      case 'list':
        return await list(config, values);
      case 'remove':
        return await remove(config, values);
      default:
        throw new Error(`dkim: subcommand "${sub}" is listed but not handled`);
    }
  } catch (err) {
    // A selector that is no selector is a bad option value, as a bad --algo or --bits: exit 2.
    if (err instanceof DkimKeyError && err.code === 'bad-selector') throw usageError(`dkim ${sub}: ${err.message}`);
    if (err instanceof DkimKeyError) throw new CliError(err.message);
    throw err;
  }
}

async function keygen(config: Config, values: Values): Promise<number> {
  const domain = requiredDomain(config, values, 'keygen');
  const algorithm = algorithmOption(values.algo) ?? 'rsa';
  const bits = bitsOption(values.bits, algorithm);
  const exportTo = values['export-private'];
  // Claimed before the key exists: an existing file is never overwritten, and no key is stored for nothing.
  const exported = exportTo === undefined ? undefined : openExclusive(exportTo);
  let created: CreatedKey;
  try {
    created = await withStore(config, (store) =>
      createDkimKey(store, { domain, selector: values.selector, algorithm, bits, now: new Date() }),
    );
  } catch (err) {
    if (exported !== undefined && exportTo !== undefined) discardExport(exported, exportTo, err);
    throw err;
  }
  if (exported !== undefined) {
    fs.writeSync(exported, created.key.privateKey);
    fs.fsyncSync(exported);
    fs.closeSync(exported);
  }
  const { key, replaces } = created;
  const out: string[] = [];
  if (key.state === 'active') {
    out.push(
      `Created DKIM key ${key.selector} for ${domain} (${describeKey(key)}). It is active at once: ${domain} had no active key.`,
      '',
      ...publishLines(key),
      '',
      `The active key is the one outgoing mail of ${domain} is signed with (signing arrives with outbound`,
      'delivery): publish this record now, so that receivers can verify the signatures from the first message.',
    );
  } else {
    out.push(
      `Created DKIM key ${key.selector} for ${domain} (${describeKey(key)}), pending: ${domain} already has an active key.`,
      '',
      ...publishLines(key),
      '',
      ...schedule(config, key, replaces),
    );
  }
  if (exportTo !== undefined) out.push('', `The private key is in ${exportTo} (mode 0600); keep it secret.`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

async function rotate(config: Config, values: Values): Promise<number> {
  const domain = requiredDomain(config, values, 'rotate');
  const requested = algorithmOption(values.algo);
  const { key, replaces } = await withStore(config, async (store) => {
    // The algorithm first (the active key's unless --algo), then --bits checked or noted for it, as keygen does.
    const { algorithm } = rotationTarget(await store.listDkimKeys(domain), domain, requested);
    const bits = bitsOption(values.bits, algorithm);
    return rotateDkimKey(store, domain, new Date(), { selector: values.selector, algorithm, bits });
  });
  const out = [
    `Created DKIM key ${key.selector} for ${domain} (${describeKey(key)}), pending: it replaces ${replaces.map((k) => k.selector).join(', ')}.`,
    '',
    ...publishLines(key),
    '',
    ...schedule(config, key, replaces),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

async function advance(config: Config): Promise<number> {
  const resolver = createResolver({ ...config.dns, cacheTtlMs: 0 });
  const { events, meanwhile } = await withStore(config, (store) =>
    advanceRotationReport(store, resolver, config, new Date()),
  );
  if (events.length === 0 && meanwhile.length === 0) {
    process.stdout.write('nothing to do: no DKIM key is pending or due to retire\n');
    return 0;
  }
  process.stdout.write(`${[...events.map(describeEvent), ...meanwhile.map(describeMeanwhile)].join('\n')}\n`);
  return 0;
}

function describeMeanwhile(m: ChangedMeanwhile): string {
  return m.state === 'removed'
    ? `${m.domain}: ${m.selector} was removed meanwhile by another command`
    : `${m.domain}: ${m.selector} was activated meanwhile by another process (postern serve, or another dkim rotate --advance); it is ${m.state} now`;
}

function describeEvent(e: RotationEvent): string {
  const name = dkimRecordName(e);
  switch (e.event) {
    case 'activated': {
      const old = e.retiring.join(', ');
      const until = e.retireAfter.toISOString();
      return old === ''
        ? `${e.domain}: ${e.selector} is in DNS and now active`
        : `${e.domain}: ${e.selector} is in DNS and now active; ${old} is no longer the key to sign with and is retired after ${until}`;
    }
    case 'retired':
      return `${e.domain}: ${e.selector} is retired; remove its record ${name} from DNS`;
    case 'waiting': {
      const why = {
        'no-record': `no DKIM record at ${name} yet`,
        'different-key': `the record at ${name} holds another key: publish the one postern dns records ${e.domain} prints`,
        'invalid-key': notBase64(name),
        settling: `the record at ${name} is served; serve activates it once DNS has served it for 10 minutes`,
        temperror: `DNS did not answer for ${name}; it is checked again later`,
      }[e.problem];
      // What the check found, in `postern dns check`'s words, when it says more than the problem's kind.
      return `${e.domain}: ${e.selector} is still pending: ${e.detail ?? why}`;
    }
    default:
      return e satisfies never;
  }
}

async function list(config: Config, values: Values): Promise<number> {
  // Keys are stored under the A-labels (RFC 5890 §2.3.2.1), as keygen and rotate store them.
  const domain = values.domain === undefined ? undefined : asciiDomain(values.domain);
  const keys = await withStore(config, (store) => store.listDkimKeys(domain));
  // Never the private key: only what an admin needs to see which key signs.
  const rows = keys.map((k) => ({
    domain: k.domain,
    selector: k.selector,
    algorithm: k.algorithm,
    bits: k.bits,
    state: k.state,
    created: k.createdAt.toISOString(),
    activated: k.activatedAt?.toISOString() ?? null,
    retireAfter: k.retireAfter?.toISOString() ?? null,
  }));
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('no DKIM keys yet: create one with postern dkim keygen --domain <domain>\n');
    return 0;
  }
  const minute = (iso: string | null) => (iso === null ? '-' : `${iso.slice(0, 16)}Z`);
  const table = [
    ['DOMAIN', 'SELECTOR', 'ALGORITHM', 'BITS', 'STATE', 'CREATED', 'ACTIVATED', 'RETIRE AFTER'],
    ...rows.map((r) => [
      r.domain,
      r.selector,
      r.algorithm,
      String(r.bits),
      r.state,
      minute(r.created),
      minute(r.activated),
      minute(r.retireAfter),
    ]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  for (const row of table) {
    process.stdout.write(
      `${row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
  return 0;
}

async function remove(config: Config, values: Values): Promise<number> {
  if (values.domain === undefined) throw usageError('dkim remove: --domain is required');
  if (values.selector === undefined) throw usageError('dkim remove: --selector is required');
  const request = { domain: values.domain, selector: values.selector, force: values.force === true };
  const { key, left } = await withStore(config, async (store) => {
    const key = await removeDkimKey(store, request);
    return { key, left: await store.listDkimKeys(key.domain) };
  });
  const name = dkimRecordName(key);
  const lines = [`Removed DKIM key ${key.selector} of ${key.domain} (${describeKey(key)}, ${key.state}).`];
  if (key.state === 'active' || key.state === 'retiring') {
    lines.push(
      `Mail it signed no longer verifies once its record is gone: publish "v=DKIM1; p=" at ${name} to revoke it`,
      '(RFC 6376 §3.6.1), then remove the record later.',
    );
    const next = key.state === 'active' ? nextKey(key, left) : '';
    if (next !== '') lines.push(next);
  } else {
    lines.push(`If you published its record ${name}, remove it from DNS.`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/**
 * What gives the domain a key of the removed one's algorithm again. Not rotate: it needs an active key
 * of that algorithm, and none is left. A pending one needs only DNS; keygen refuses a second.
 */
function nextKey(removed: DkimKey, left: readonly DkimKey[]): string {
  const { domain, algorithm } = removed;
  const pending = left.find((k) => k.state === 'pending' && k.algorithm === algorithm);
  if (pending) {
    return (
      `${pending.selector} (pending) becomes the ${algorithm} key to sign with once DNS serves its record: publish ` +
      `${dkimRecordName(pending)} (postern dns records ${domain} prints it) and run postern dkim rotate --advance, ` +
      `or remove it with postern dkim remove --domain ${domain} --selector ${pending.selector}.`
    );
  }
  if (left.some((k) => k.state === 'active' && k.algorithm === algorithm)) return '';
  return `Create a key with postern dkim keygen --domain ${domain} --algo ${algorithm} so that ${domain} is signed again.`;
}

function requiredDomain(config: Config, values: Values, sub: string): string {
  if (values.domain === undefined) throw usageError(`dkim ${sub}: --domain is required`);
  return checkDomain(config, values.domain);
}

function algorithmOption(value: string | undefined): DkimAlgorithm | undefined {
  if (value === undefined || value === 'rsa' || value === 'ed25519') return value;
  throw usageError(`dkim: --algo must be rsa or ed25519, not "${value}"`);
}

/** RSA sizes are checked here (a usage error); Ed25519 has one size, so --bits is only noted. */
function bitsOption(value: string | undefined, algorithm: DkimAlgorithm): number | undefined {
  if (value === undefined) return undefined;
  if (algorithm === 'ed25519') {
    process.stderr.write('note: --bits is ignored for ed25519 keys, which are always 256 bits\n');
    return undefined;
  }
  const bits = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  try {
    checkRsaBits(bits);
  } catch (err) {
    if (err instanceof DkimKeyError) throw usageError(`dkim: --bits: ${err.message.replace('NaN', `"${value}"`)}`);
    throw err;
  }
  return bits;
}

/** A new file, 0600 whatever the umask; refuses one that exists (a key must not replace a file). */
function openExclusive(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`${file} exists: not overwriting it with the private key`);
    throw new CliError(`cannot create ${file}: ${(err as Error).message}`);
  }
  fs.fchmodSync(fd, 0o600);
  return fd;
}

/**
 * Removes the empty file claimed for a key that was not made. Run as root, the command has become the
 * data directory's owner by now, who may not remove a file in a directory only root may write (root's
 * home): the error that stopped the key is still the one reported, with a word on the file left.
 */
function discardExport(fd: number, file: string, cause: unknown): void {
  fs.closeSync(fd);
  try {
    fs.rmSync(file, { force: true });
  } catch (err) {
    const left = `the empty file ${file} made for the private key is left (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): remove it`;
    if (cause instanceof Error) cause.message = `${cause.message}\n${left}`;
  }
}

function describeKey(key: DkimKey): string {
  return key.algorithm === 'rsa' ? `RSA, ${key.bits} bits` : 'Ed25519';
}

/** The record as a zone-file line and as a DNS provider's web form asks for it. */
function publishLines(key: DkimKey): string[] {
  const record = dkimRecord(key);
  return [
    `Publish this TXT record in the DNS zone of ${key.domain}:`,
    '',
    record.zoneLine,
    '',
    "or, in a DNS provider's form:",
    `  Name:  ${record.name}`,
    '  Type:  TXT',
    `  Value: ${record.value}`,
  ];
}

/** What happens next to a pending key, and when. */
function schedule(config: Config, key: DkimKey, replaces: DkimKey[]): string[] {
  const old = replaces.map((k) => k.selector).join(', ');
  const minutes = ROTATION_INTERVAL_MS / 60_000;
  const lines = [
    `${key.selector} starts signing once DNS serves this record: postern serve checks every ${minutes} minutes,`,
    'postern dkim rotate --advance checks now.',
  ];
  if (old === '') {
    lines.push(`It then signs beside the active key of the other algorithm.`);
  } else {
    lines.push(
      `Keep the record of ${old} published: it stops signing then, and is retired ${config.dkim.retireAfterDays} days later,`,
      'after which its record can be removed.',
    );
  }
  return lines;
}
