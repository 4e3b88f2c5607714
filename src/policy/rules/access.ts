/**
 * Postfix access(5) tables: check_client_access, check_helo_access, check_sender_access and
 * check_recipient_access. A table is given inline (`map: { "example.com": "REJECT" }`) or as a
 * file of `key action...` lines in postmap(1) input syntax, read once when the rule is built.
 *
 * Lookups follow Postfix's smtpd_check.c, with parent_domain_matches_subdomains not listing
 * smtpd_access_maps: `example.com` matches only that name, `.example.com` its subdomains. The first
 * key found decides, DUNNO included: access(5) "DUNNO ... prevents Postfix from trying substrings
 * of the lookup key". Postfix-only table types (hash:, cidr:, pcre:), the actions that need the
 * cleanup daemon (FILTER, HOLD, DISCARD, REDIRECT, BCC, PREPEND), DEFER_IF_* and restriction
 * names on the right-hand side are refused when the rule is built, so a ported table fails loudly.
 */
import { domainToASCII } from 'node:url';
import { readRegularFileSync } from '../../config/read-config-file.ts';
import { unmappedAddress } from '../../dns/ip.ts';
import { isAddressLiteral, isDomain, type Path } from '../../smtp/path.ts';
import { echoAddress, reply } from '../../smtp/replies.ts';
import { type IpAddress, type IpVersion, type Network, parseAddress, parseNetwork } from '../cidr.ts';
import { asciiLowerCase, localAddress, postmasterFallback, unquoted } from '../local-address.ts';
import {
  DUNNO,
  PERMIT,
  type PolicyContext,
  type Restriction,
  type RuleFactory,
  type RuleSpec,
  type ServerIdentity,
  type Verdict,
} from '../restriction.ts';
import { type ClientHostname, canonicalAddress, verifiedClientHostname } from './client.ts';

type Kind = 'client' | 'helo' | 'sender' | 'recipient';

// smtpd_check.c's reply_class, which its replies name: "<name>: Sender address rejected: ...".
const REPLY_CLASS: Record<Kind, string> = {
  client: 'Client host',
  helo: 'Helo command',
  sender: 'Sender address',
  recipient: 'Recipient address',
};

type Action =
  | { type: 'permit' }
  | { type: 'dunno' }
  | { type: 'note'; level: 'warn' | 'info'; text: string }
  | { type: 'reject'; code: number; enhanced: string; text?: string };

interface Entry {
  key: string;
  value: string;
  action: Action;
  /** Where the key was written, for error messages: `file:line` or the inline map key. */
  where: string;
}

/** Client tables keep networks apart: one level per (version, prefix length), longest prefix first. */
interface Level {
  version: IpVersion;
  prefix: number;
  mask: bigint;
  entries: Map<bigint, Entry>;
}

interface Table {
  names: Map<string, Entry>;
  levels: Level[];
  /** Whether a name key refuses (REJECT, DEFER, 4NN/5NN): only then can a name not found decide anything. */
  namesRefuse: boolean;
}

interface Line {
  key: string;
  value: string;
  where: string;
}

const NON_ASCII = /[^\x00-\x7f]/;
const PARTIAL_IPV4 = /^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){0,2}$/;
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)/;
// The memo key under which the client-name check leaves a forward-confirmed host name.
const CLIENT_HOSTNAME = 'client.hostname';

function accessRule(kind: Kind): RuleFactory {
  return (spec) => {
    const { label, lines } = load(spec);
    const table = build(kind, lines);
    const evaluate = (ctx: PolicyContext): Verdict | Promise<Verdict> => {
      const settle = (f: Found): Verdict =>
        f === undefined ? DUNNO : 'verdict' in f ? f.verdict : decide(f.entry, f.subject, kind, spec.name);
      const found = lookup(kind, table, ctx);
      return found instanceof Promise ? found.then(settle) : settle(found);
    };
    return { name: spec.name, label, evaluate } satisfies Restriction;
  };
}

/** The object form's keys besides `rule` and `warnOnly` (registry.ts refuses any other). */
export const ACCESS_OPTIONS: readonly string[] = ['map', 'file'];

export const accessRules: Record<string, RuleFactory> = {
  check_client_access: accessRule('client'),
  check_helo_access: accessRule('helo'),
  check_sender_access: accessRule('sender'),
  check_recipient_access: accessRule('recipient'),
};

function load(spec: RuleSpec): { label: string; lines: Line[] } {
  const { map, file: fileOption } = spec.options;
  if (spec.args.length > 1) throw new Error(`${spec.name} takes one file path, got "${spec.args.join(' ')}"`);
  const file = fileOption ?? spec.args[0];
  if (map !== undefined && file !== undefined) throw new Error(`${spec.name}: give map or file, not both`);
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') throw new Error(`${spec.name}: file must be a path`);
    if (/^[a-z]+:/i.test(file)) {
      throw new Error(`${spec.name}: "${file}": Postfix table types are not supported; give the path of a text file`);
    }
    let text: string;
    try {
      text = readRegularFileSync(file).toString('utf8');
    } catch (error) {
      throw new Error(`${spec.name}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
    return { label: `${spec.name} ${file}`, lines: parseFile(text, file) };
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new Error(`${spec.name} needs map: { "<key>": "<action>" } or file: <path>`);
  }
  const lines = Object.entries(map).map(([key, value]): Line => {
    const where = `${spec.name} map, key "${key}"`;
    if (typeof value !== 'string') throw new Error(`${where}: the action must be a string such as "REJECT"`);
    if (/\s/.test(key) || key === '') throw new Error(`${where}: a key cannot be empty or contain spaces`);
    return { key, value: value.trim(), where };
  });
  // Named by its place in the config: two inline maps of one stage were one row in `postern stats` and
  // one `rule` in the log, so which of them refused could not be told.
  return { label: `${spec.name} (inline map${spec.key ? ` at ${spec.key}` : ''})`, lines };
}

/**
 * postmap(1) input: `key whitespace value`; blank lines and lines whose first non-blank character
 * is `#` are ignored; a line that starts with whitespace continues the one before.
 */
function parseFile(text: string, file: string): Line[] {
  const logical: { text: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^\s*(#|$)/.test(raw)) return;
    const last = logical.at(-1);
    if (!/^\s/.test(raw)) logical.push({ text: raw.trim(), line: i + 1 });
    else if (last !== undefined) last.text += ` ${raw.trim()}`;
    else throw new Error(`${file}:${i + 1}: a continuation line (starting with whitespace) has no line to continue`);
  });
  return logical.map(({ text, line }) => {
    const match = /^(\S+)\s+(\S.*)$/.exec(text);
    if (match === null) throw new Error(`${file}:${line}: "${text}" has no action (expected "key action")`);
    return { key: match[1]!, value: match[2]!, where: `${file}:${line}` };
  });
}

function build(kind: Kind, lines: Line[]): Table {
  const table: Table = { names: new Map(), levels: [], namesRefuse: false };
  const levels = new Map<string, Level>();
  for (const { key, value, where } of lines) {
    const action = parseAction(value);
    if (typeof action === 'string') throw new Error(`${where}: ${action}`);
    const entry: Entry = { key, value, action, where };
    const parsed = parseKey(kind, key);
    if (typeof parsed === 'string') throw new Error(`${where}: ${parsed}`);
    let prior: Entry | undefined;
    if ('name' in parsed) {
      prior = table.names.get(parsed.name);
      if (prior === undefined) table.names.set(parsed.name, entry);
      if (action.type === 'reject') table.namesRefuse = true;
    } else {
      const network = parsed.network;
      const id = `${network.version}/${network.prefix}`;
      let level = levels.get(id);
      if (level === undefined) {
        level = { version: network.version, prefix: network.prefix, mask: network.mask, entries: new Map() };
        levels.set(id, level);
      }
      prior = level.entries.get(network.base);
      if (prior === undefined) level.entries.set(network.base, entry);
    }
    if (prior !== undefined) throw new Error(`${where}: "${key}" repeats "${prior.key}" of ${prior.where}`);
  }
  table.levels = [...levels.values()].sort((a, b) => b.prefix - a.prefix);
  return table;
}

type Key = { name: string } | { network: Network };

/** Checks a key against what the kind of table can look up, so a typo fails at start-up. */
function parseKey(kind: Kind, key: string): Key | string {
  if (kind === 'client') {
    // access(5) "net.work.addr": a truncated IPv4 address names its /8, /16 or /24.
    if (PARTIAL_IPV4.test(key) && key.split('.').every((octet) => Number(octet) <= 255)) {
      const octets = key.split('.');
      const padded = [...octets, '0', '0', '0'].slice(0, 4).join('.');
      return { network: parseNetwork(`${padded}/${octets.length * 8}`) };
    }
    if (key.includes('/') || parseAddress(key.replace(/^\[(.*)\]$/, '$1')) !== undefined) {
      try {
        return { network: parseNetwork(key) };
      } catch (error) {
        return (error as Error).message;
      }
    }
    return domainKey(key) ?? `"${key}" is not an IP address, network, host name or .domain`;
  }
  if (kind === 'helo') {
    if (parseAddress(key) !== undefined || isAddressLiteral(key))
      return { name: heloAddress(key) ?? key.toLowerCase() };
    return domainKey(key) ?? `"${key}" is not a host name, .domain or address`;
  }
  // smtpd_null_access_lookup_key (default <>): what the null reverse-path is looked up as.
  if (key === '<>') return kind === 'sender' ? { name: key } : 'the null sender key <> only applies to senders';
  const at = key.lastIndexOf('@');
  if (at < 0) return domainKey(key) ?? `"${key}" is not an address, user@, domain or .domain`;
  if (at === 0) return `"${key}": write the domain without @ (access(5) has no @domain keys)`;
  // One spelling for keys and lookups alike: "old\-user"@ and "old-user"@ are old-user@ (RFC 5321 §4.1.2).
  const local = asciiLowerCase(unquoted(key.slice(0, at)));
  const domain = key.slice(at + 1);
  if (domain === '') return { name: `${local}@` };
  if (isAddressLiteral(domain)) return { name: `${local}@${domain.toLowerCase()}` };
  return isDomain(domain) ? { name: `${local}@${asciiDomain(domain)}` } : `"${key}": "${domain}" is not a domain`;
}

function domainKey(key: string): Key | undefined {
  const dot = key.startsWith('.') ? '.' : '';
  const domain = key.slice(dot.length);
  if (isAddressLiteral(key)) return { name: key.toLowerCase() };
  return isDomain(domain) ? { name: dot + asciiDomain(domain) } : undefined;
}

/** Keys and lookups use lower-case A-labels, so a U-label and its A-label are one key (RFC 5890 §2.3.2.1). */
function asciiDomain(domain: string): string {
  const lower = domain.toLowerCase();
  return NON_ASCII.test(lower) ? domainToASCII(lower) || lower : lower;
}

/** check_table_result in Postfix's smtpd_check.c; returns a problem text for an action we do not take. */
function parseAction(value: string): Action | string {
  const match = /^(\S+)\s*(.*)$/s.exec(value);
  const word = match?.[1] ?? '';
  const rest = match?.[2]?.trim() ?? '';
  switch (word.toUpperCase()) {
    case 'OK':
    case 'PERMIT':
    case 'RELAY':
      return { type: 'permit' }; // Postfix ignores the text after OK
    case 'DUNNO':
      return { type: 'dunno' };
    case 'WARN':
    case 'INFO':
      // access(5): log the text (admins try a block out so) and go on, as DUNNO does.
      return { type: 'note', level: word.toUpperCase() === 'WARN' ? 'warn' : 'info', text: rest };
    case 'REJECT':
      return rejection(554, '5.7.1', rest); // access_map_reject_code = 554
    case 'DEFER':
      return rejection(450, '4.7.1', rest); // access_map_defer_code = 450
  }
  if (/^[45]\d\d$/.test(word)) {
    // Postfix reads a bare number as OK (pop-before-smtp time stamps); here it is most likely a typo.
    if (rest === '') return `"${value}": a reply code needs a text, e.g. "${word} go away"`;
    return rejection(Number(word), `${word[0]}.7.1`, rest);
  }
  return `unknown action "${value}" (use OK, REJECT [text], DEFER [text], DUNNO, WARN [text] or 4NN/5NN text)`;
}

/** The text may start with an RFC 3463 enhanced code, which must be of the reply's class. */
function rejection(code: number, enhanced: string, rest: string): Action | string {
  const match = ENHANCED.exec(rest);
  if (match === null)
    return rest === '' ? { type: 'reject', code, enhanced } : { type: 'reject', code, enhanced, text: rest };
  if (match[1] !== String(code)[0]) return `enhanced code ${match[0].trim()} does not match reply code ${code}`;
  const text = rest.slice(match[0].length);
  const given = `${match[1]}.${Number(match[2])}.${Number(match[3])}`;
  return text === '' ? { type: 'reject', code, enhanced: given } : { type: 'reject', code, enhanced: given, text };
}

/** An entry that matched; a verdict when the lookup could not be made (the client's name unknown for a DNS failure). */
type Found = { entry: Entry; subject: string } | { verdict: Verdict } | undefined;

function lookup(kind: Kind, table: Table, ctx: PolicyContext): Found | Promise<Found> {
  switch (kind) {
    case 'client': {
      // Postfix's check_namadr_access tries the name first, and its source notes "a domain wildcard may
      // pre-empt a more specific address table entry"; the address is the more specific, so it goes first.
      const ip = parseAddress(ctx.clientAddress);
      const entry = ip && lookupAddress(table, ip);
      if (entry) return { entry, subject: ctx.clientAddress };
      if (table.names.size === 0) return undefined; // no name keys: no DNS
      const byName = (host: ClientName): Found => {
        if (host.name === undefined) {
          // Name keys that only let clients through (OK, DUNNO, WARN) leave an unnamed client where it
          // was, as Postfix, which matches them against "unknown": deferring every client whose reverse
          // zone is slow would make an allow-list of partners a delay for everybody else.
          if (!host.temporary || !table.namesRefuse) return undefined;
          // The name keys cannot be looked up, and the client's name may be found on a retry: a
          // host a REJECT names must not get past it by making its reverse zone time out.
          const text = `Client host rejected: cannot find your hostname (a temporary DNS failure), [${ctx.clientAddress}]; try again later`;
          const reason = `the access map has host name keys, and the client's name is unknown for now: ${host.reason}`;
          return { verdict: { action: 'reject', reply: reply(450, '4.7.25', text), reason } };
        }
        const found = lookupDomain(table, host.name);
        return found && { entry: found, subject: `${host.name}[${ctx.clientAddress}]` };
      };
      const host = clientHostname(ctx);
      return host instanceof Promise ? host.then(byName) : byName(host);
    }
    case 'helo': {
      if (!ctx.helo) return undefined;
      const address = heloAddress(ctx.helo);
      const entry = address !== undefined ? table.names.get(address) : lookupDomain(table, ctx.helo);
      return entry && { entry, subject: ctx.helo };
    }
    case 'sender': {
      if (ctx.sender === undefined) return undefined;
      const entry = ctx.sender === null ? table.names.get('<>') : lookupMail(table, ctx.sender, ctx.server);
      return entry && { entry, subject: ctx.sender?.address ?? '' };
    }
    case 'recipient': {
      const entry = ctx.recipient && lookupMail(table, ctx.recipient, ctx.server);
      return entry && { entry, subject: ctx.recipient!.address };
    }
    default:
      return kind satisfies never;
  }
}

/**
 * The client's forward-confirmed name, as the client-name rules find it: a name only PTR gives is
 * the sender's claim, not its name (Postfix matches access keys against the verified name too).
 * Looked up at most once a session, through the shared memo; a string there is taken as it is.
 */
function clientHostname(ctx: PolicyContext): ClientName | Promise<ClientName> {
  const memo = ctx.memo.get(CLIENT_HOSTNAME);
  if (typeof memo === 'string')
    return memo === '' ? { temporary: false, reason: 'no name' } : { name: memo, temporary: false, reason: '' };
  return Promise.resolve(verifiedClientHostname(ctx));
}

type ClientName = Pick<ClientHostname, 'name' | 'temporary' | 'reason'>;

function lookupAddress(table: Table, ip: IpAddress): Entry | undefined {
  for (const level of table.levels) {
    if (level.version !== ip.version) continue;
    const entry = level.entries.get(ip.value & level.mask);
    if (entry !== undefined) return entry;
  }
  return undefined;
}

/**
 * The address in a HELO, as a literal (RFC 5321 §4.1.3: `[192.0.2.1]`, `[IPv6:2001:db8::1]`) or bare, in
 * one spelling (RFC 5952 §4), for keys and lookups alike: `[IPv6:2001:db8:0::1]` must not slip past a
 * `[IPv6:2001:db8::1]` entry. Undefined for a name.
 */
function heloAddress(text: string): string | undefined {
  const inner = /^\[(?:ipv6:)?([^\]]*)\]$/i.exec(text)?.[1] ?? text;
  const canonical = canonicalAddress(inner);
  // RFC 4291 §2.5.5.2: [IPv6:::ffff:192.0.2.7] is the IPv4 host 192.0.2.7, and meets its key.
  return canonical && unmappedAddress(canonical);
}

/** smtpd_check.c check_domain_access: the name, then `.parent` for each parent domain. */
function lookupDomain(table: Table, domain: string): Entry | undefined {
  // HELO names can end in "." (a comment in check_domain_access); look them up without it.
  const name = asciiDomain(domain.endsWith('.') ? domain.slice(0, -1) : domain);
  if (name === '') return undefined;
  const exact = table.names.get(name);
  // "Don't apply subdomain magic to numerical hostnames" (check_domain_access); nor to literals.
  if (exact !== undefined || name.startsWith('[') || parseAddress(name) !== undefined) return exact;
  for (let dot = name.indexOf('.', 1); dot > 0; dot = name.indexOf('.', dot + 1)) {
    const parent = table.names.get(name.slice(dot));
    if (parent !== undefined) return parent;
  }
  return undefined;
}

/**
 * smtpd_check.c check_mail_access: user@domain, then the domain and its parents, then user@. Postfix
 * looks keys up in its rewritten form, so every spelling that reaches one mailbox meets its key: the
 * local part unquoted as routing reads it, and for our own domains the mailbox routing picks
 * (<Postmaster> and postmaster@<host name> are the postmaster's, RFC 5321 §4.1.1.3 and §4.5.1), then
 * the mailbox a postmaster@ without a key of its own falls back to.
 */
function lookupMail(table: Table, path: Path, server: ServerIdentity): Entry | undefined {
  // RFC 5321 §2.4 case-insensitive, in ASCII only, as localAddress matches accounts (U+212A is no "k").
  const local = asciiLowerCase(unquoted(path.localPart));
  const mailbox = localAddress(path, server);
  if (mailbox.local) {
    const routed = table.names.get(mailbox.address);
    if (routed !== undefined) return routed;
    // RFC 5321 §4.5.1: postmaster@ another of our domains with no key of its own is delivered to the first
    // domain's postmaster (postmasterFallback), so it meets that mailbox's key: a REJECT there must not be
    // got past by naming the same mailbox through another domain.
    const fallback = postmasterFallback(mailbox.address, server);
    const shared = fallback === undefined ? undefined : table.names.get(fallback);
    if (shared !== undefined) return shared;
  }
  if (path.domain === '') return table.names.get(`${local}@`);
  const domain = path.domain.startsWith('[') ? path.domain.toLowerCase() : asciiDomain(path.domain);
  return table.names.get(`${local}@${domain}`) ?? lookupDomain(table, domain) ?? table.names.get(`${local}@`);
}

function decide(entry: Entry, subject: string, kind: Kind, rule: string): Verdict {
  const { action } = entry;
  switch (action.type) {
    case 'permit':
      return PERMIT;
    case 'dunno':
      return DUNNO;
    case 'note': {
      const said = action.text === '' ? '' : `: ${action.text}`;
      const text = `<${subject}> matched "${entry.key}" ${action.level.toUpperCase()} (${entry.where})${said}`;
      return { action: 'dunno', note: { level: action.level, text } };
    }
    case 'reject':
      return {
        action: 'reject',
        reply: reply(
          action.code,
          action.enhanced,
          `<${echoAddress(subject)}>: ${REPLY_CLASS[kind]} rejected: ${action.text ?? 'Access denied'}`,
        ),
        reason: `${rule}: <${subject}> matched "${entry.key}" ${entry.value} (${entry.where})`,
      };
    default:
      return action satisfies never;
  }
}
