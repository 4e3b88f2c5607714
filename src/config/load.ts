/**
 * Finds, reads and validates the configuration. Errors name the key, the bad value and what is
 * expected, so an admin can fix the file without reading code.
 */

import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import {
  type Document,
  isMap,
  isNode,
  isScalar,
  isSeq,
  parseAllDocuments,
  parseDocument,
  YAMLParseError,
  type YAMLWarning,
} from 'yaml';
import type { z } from 'zod';
import { redactUrl } from './redact-url.ts';
import { type Config, configSchema, defaultHostname, ipv4Mapped } from './schema.ts';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  /** The config file (or "embedded defaults") when the error is about one, for `check`'s report. */
  readonly source: string | undefined;
  /** What is wrong, one line each (the message holds them all, after the source). */
  readonly problems: readonly string[];

  constructor(message: string, details: { source?: string; problems?: readonly string[]; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.source = details.source;
    this.problems = details.problems ?? [message];
  }
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or undefined when running on the embedded defaults. */
  file: string | undefined;
  /** The file sets nothing (empty, only comments, `~`): the embedded defaults run as without one. */
  empty: boolean;
}

/** --config, else $POSTERN_CONFIG, else ./postern.yaml when present, else the embedded defaults. */
export function loadConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  // An empty --config is a mistake (a script's unset variable), not a wish for the defaults.
  if (explicit === '') throw new ConfigError('--config: the path is empty');
  const chosen = explicit ?? (env.POSTERN_CONFIG === '' ? undefined : env.POSTERN_CONFIG);
  // Said when the path came from the environment: the admin did not type it, and may not know it is set.
  const fromEnv = explicit === undefined && chosen !== undefined ? ' (named by $POSTERN_CONFIG)' : '';
  let file: string | undefined;
  if (chosen !== undefined) {
    file = path.resolve(chosen);
    if (!fs.existsSync(file)) {
      // existsSync follows links: one to nothing, or a loop of them, is there but not as a file.
      const link = fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() === true;
      const why = link ? linkProblem(file) : 'does not exist';
      throw new ConfigError(`config file ${file}${fromEnv} ${why}`, { source: file });
    }
  } else if (fs.existsSync('postern.yaml')) {
    file = path.resolve('postern.yaml');
  }
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = utf8Text(fs.readFileSync(file), file);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EISDIR'
          ? 'it is a directory, not a file'
          : code === 'EACCES'
            ? `permission denied (EACCES): this user${process.getuid ? ` (uid ${process.getuid()})` : ''} may not read it`
            : (code ?? (err as Error).message);
      throw new ConfigError(`config file ${file}${fromEnv} cannot be read: ${why}`, { source: file });
    }
    let warnings: string[];
    try {
      // logLevel "error": yaml would print its warnings itself (a multi-line "(node:…) YAMLWarning" on
      // stderr) and go on; they are collected below and stop the start, as any other config error.
      const doc = parseDocument(text, { logLevel: 'error' });
      if (doc.errors[0]) throw doc.errors[0];
      warnings = doc.warnings.map((warning) => yamlWarningProblem(warning, doc));
      raw = doc.toJS() ?? {};
    } catch (err) {
      const problem = yamlProblem(err, text);
      throw new ConfigError(`${file}: ${problem}`, { source: file, problems: [problem] });
    }
    if (warnings.length > 0) {
      throw new ConfigError(`${file}: invalid configuration\n${warnings.map((w) => `  - ${w}`).join('\n')}`, {
        source: file,
        problems: warnings,
      });
    }
  }
  const config = parseConfig(raw, file ?? 'embedded defaults');
  const written = config.dataDir; // as the file says it, for the error below
  // Relative paths are taken from the config file's folder, so the server does not depend on its
  // working directory (a service manager starts it in /).
  if (file !== undefined) resolvePaths(config, path.dirname(file));
  const problem = dataDirProblem(written, file === undefined ? undefined : path.dirname(file));
  if (problem) {
    const source = file ?? 'embedded defaults';
    throw new ConfigError(`${source}: invalid configuration\n  - ${problem}`, { source, problems: [problem] });
  }
  const empty = file !== undefined && isPlainObject(raw) && Object.keys(raw).length === 0;
  return { config, file, empty };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What is wrong with a symbolic link that existsSync found no file behind. */
function linkProblem(file: string): string {
  try {
    fs.statSync(file);
    return 'cannot be read';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'is a symbolic link in a loop of symbolic links (ELOOP)';
    let target = '';
    try {
      target = ` to ${fs.readlinkSync(file)}`;
    } catch {}
    return code === 'ENOENT' ? `is a symbolic link${target}, which leads nowhere` : `cannot be read (${code})`;
  }
}

/** The kernel's file systems: they hold no files of ours (under /proc a recursive mkdir never even ends). */
const SYSTEM_TREES = ['/proc', '/sys', '/dev'];

/**
 * Why `dataDir` (relative ones taken from `base`) cannot be a data directory, or undefined: one under
 * /proc, /sys or /dev, as written or through a symbolic link. Node's recursive mkdir loops for ever
 * under /proc (mkdir there fails with ENOENT beside a parent that exists): every command would hang.
 */
export function dataDirProblem(dataDir: string, base = process.cwd()): string | undefined {
  const absolute = path.resolve(base, dataDir);
  const real = realPathSoFar(absolute);
  const under = (dir: string, tree: string) => dir === tree || dir.startsWith(`${tree}/`);
  const tree = SYSTEM_TREES.find((t) => under(absolute, t) || under(real, t));
  if (tree === undefined) return undefined;
  const where =
    real !== absolute ? ` (${real}, through a symbolic link)` : absolute !== dataDir ? ` (${absolute})` : '';
  return (
    `dataDir: ${JSON.stringify(dataDir)}${where} is under ${tree}, one of the kernel's file systems, not storage: ` +
    'no store can be kept there; choose a directory on a disk, such as /var/lib/postern'
  );
}

/** `file` with its longest existing part resolved through symbolic links (the rest as written). */
function realPathSoFar(file: string): string {
  let existing = file;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(existing), ...rest);
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return file;
      rest.unshift(path.basename(existing));
      existing = parent;
    }
  }
}

/**
 * The file's text, or a ConfigError naming the line and column of its first byte that is not UTF-8.
 * YAML is Unicode (YAML 1.2 §5.2): a Latin-1 "é" read as UTF-8 became U+FFFD without a word, and
 * reached every subject the phishing tag was put on.
 */
function utf8Text(bytes: Buffer, file: string): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  const bad = firstInvalidUtf8(bytes);
  const lineStart = bytes.lastIndexOf(0x0a, bad - 1) + 1;
  const line = countByte(bytes, 0x0a, bad) + 1;
  // In characters, as yaml counts its columns: the line's bytes before this one are valid UTF-8.
  const column = [...bytes.subarray(lineStart, bad).toString('utf8')].length + 1;
  const utf16 =
    bad === 0 &&
    bytes.length >= 2 &&
    ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  const problem = utf16
    ? 'is UTF-16 (it starts with a UTF-16 byte order mark); Postern reads YAML as UTF-8: save it as UTF-8 (iconv -f UTF-16 -t UTF-8)'
    : `is not UTF-8 at line ${line}, column ${column}: the byte 0x${bytes[bad]!.toString(16).toUpperCase().padStart(2, '0')} ` +
      'is not part of a valid UTF-8 character. YAML files are Unicode (YAML 1.2 §5.2): save it as UTF-8 ' +
      '(from Latin-1: iconv -f ISO-8859-1 -t UTF-8)';
  return throwConfig(`config file ${file} ${problem}`, file);
}

function throwConfig(message: string, source: string): never {
  throw new ConfigError(message, { source, problems: [message] });
}

/**
 * The offset of the first byte that is not part of a well-formed UTF-8 sequence (RFC 3629 §4: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or bytes.length.
 */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The second byte's range depends on the first (RFC 3629 §4's table); the others are 80..BF.
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0;
      else if (b === 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90;
      else if (b === 0xf4) high = 0x8f;
    } else return i;
    if (i + length > bytes.length) return i;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) {
      const next = bytes[i + k]!;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += length;
  }
  return i;
}

function countByte(bytes: Buffer, byte: number, end: number): number {
  let count = 0;
  for (let at = bytes.indexOf(byte); at >= 0 && at < end; at = bytes.indexOf(byte, at + 1)) count++;
  return count;
}

/** yaml's first message line, with its trailing "at line L, column C:" said once, and the repeated key named. */
function yamlProblem(err: unknown, text: string): string {
  const first = ((err as Error).message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  // Lists or mappings nested thousands deep ran the parser out of stack: yaml reports the RangeError
  // as RESOURCE_EXHAUSTION (its composer), or lets it through (its lexer, toJS).
  const deep = 'the lists and mappings are nested too deeply to be read; no setting nests more than a few levels';
  if (err instanceof RangeError) return `not valid YAML: ${deep}`;
  if (!(err instanceof YAMLParseError)) return `not valid YAML: ${first}`;
  const where = err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
  if (err.code === 'RESOURCE_EXHAUSTION' && /call stack/i.test(first)) return `not valid YAML${where}: ${deep}`;
  const ipv6 = err.linePos ? unquotedIPv6Problem(text, err.linePos[0].line) : undefined;
  if (ipv6 !== undefined) return ipv6;
  if (err.code === 'MULTIPLE_DOCS') {
    // A "---" line starts a new document (YAML 1.2 §9.2): a second one is a file pasted twice, or two
    // configs in one, and yaml's answer ("please use YAML.parseAllDocuments()") is meant for programmers.
    const line = err.linePos?.[0].line;
    const documents = parseAllDocuments(text);
    const found = Array.isArray(documents) ? documents.length : 2;
    const marker = line !== undefined && /^---(\s|$)/.test(text.split('\n')[line - 1] ?? '');
    const where =
      line === undefined ? '' : marker ? ` (a second '---' at line ${line})` : ` (a second one at line ${line})`;
    return `one YAML document expected, found ${found}${where}: a config is one document; remove the '---' line, or merge the documents`;
  }
  if (err.code === 'DUPLICATE_KEY') {
    // yaml points at the key's first character; the key runs to the colon that ends it, one followed by
    // white space or the line's end (YAML 1.2 §7.3.3: a plain scalar may hold `:` otherwise, `a:b`).
    const key = /^("[^"\n]*"|'[^'\n]*'|[^\n]*?)[ \t]*:(?=[ \t\r\n]|$)/.exec(text.slice(err.pos[0]))?.[1];
    const named = key ? `the key ${key.startsWith('"') || key.startsWith("'") ? key : `"${key}"`}` : 'a key';
    return `not valid YAML${where}: ${named} appears twice in one mapping (keep one)`;
  }
  return `not valid YAML${where}: ${first}`;
}

/**
 * The README's own spelling of an IPv6 listener, `smtp: [::]:25`, unquoted: YAML reads "[" as the start
 * of a flow sequence (YAML 1.2 §7.4.1), and its error ("Unexpected scalar at node end", "Missing , between
 * flow map items") names neither the key nor the fix. Said as the key path (as far as the lines above and
 * the enclosing `{` show it), with the quoted value to write; undefined when line `line` holds no such value.
 */
function unquotedIPv6Problem(text: string, line: number): string | undefined {
  const lines = text.split(/\r?\n/);
  const here = lines[line - 1] ?? '';
  // `key: [addr]:port`, block or flow (`{smtp: [::1]:25}`), or a list item `- [addr]:port`.
  const found =
    /(?:^|[\s{,])(?:([\w-]+)[ \t]*:[ \t]*|-[ \t]+)(\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]:\d{1,5})(?=[\s,}\]#]|$)/.exec(
      here,
    );
  if (!found) return undefined;
  const [, key, value] = found as unknown as [string, string | undefined, string];
  const { keys, certain } = blockKeysAbove(lines, line);
  // The flow mappings the value sits in on its own line: `tls: {acme: {tlsAlpn01: {listen: [::]:443}}}`.
  const flow: string[] = [];
  for (const m of here.slice(0, found.index + 1).matchAll(/([\w-]+)[ \t]*:[ \t]*\{|\}/g)) {
    if (m[1] === undefined) flow.pop();
    else flow.push(m[1]);
  }
  const path = [...keys, ...flow, ...(key === undefined ? [] : [key])];
  const named = path.length === 0 ? 'a value' : certain ? path.join('.') : `the key ${path.join('.')}`;
  return (
    `${named}: an IPv6 address must be quoted in YAML: ${JSON.stringify(value)} ` +
    `(line ${line}: unquoted, the "[" starts a YAML list)`
  );
}

/**
 * The keys of the block mappings line `line` is nested in, from the indentation of the lines above
 * (YAML 1.2 §6.1), with a list item's index; `certain` is false when a line above could not be read
 * as a plain `key:` or `- ` (a mapping inside a list item, say) and the path starts below it.
 */
function blockKeysAbove(lines: readonly string[], line: number): { keys: string[]; certain: boolean } {
  const keys: string[] = [];
  const first = lines[line - 1] ?? '';
  let indent = /^ */.exec(first)![0].length;
  // The index of the list item the line is, or -1; the items before it are counted on the way up.
  let item = first.slice(indent).startsWith('-') ? 0 : -1;
  for (let i = line - 2; i >= 0 && (indent > 0 || item >= 0); i--) {
    const text = lines[i] ?? '';
    if (/^\s*(#.*)?$/.test(text) || /^(---|\.\.\.)(\s|$)/.test(text)) continue;
    const at = /^ */.exec(text)![0].length;
    const dash = text.slice(at).startsWith('-');
    if (item >= 0 && at === indent && dash) item++;
    // A list's items may stand at its key's own indentation (YAML 1.2 §8.2.1), a mapping's keys may not.
    if (at > indent || (at === indent && (item < 0 || dash))) continue;
    const opener = /^ *([\w-]+)[ \t]*:[ \t]*(#.*)?$/.exec(text);
    if (!opener) return { keys, certain: false };
    if (item >= 0) keys.unshift(String(item));
    keys.unshift(opener[1]!);
    indent = at;
    item = -1;
  }
  return { keys, certain: item < 0 };
}

/**
 * A warning of the YAML reader as a config error, naming its line and column and, for a tag, the key.
 * An unknown tag (`hostname: !host mail.example.com`) was dropped with a warning on stderr and the value
 * read as if untagged: YAML 1.2 §3.3.3 makes a node with an unrecognized tag one that cannot be fully
 * loaded, and what the admin meant by it is not known.
 */
function yamlWarningProblem(warning: YAMLWarning, doc: Document): string {
  const at = warning.linePos ? `line ${warning.linePos[0].line}, column ${warning.linePos[0].col}` : 'a line';
  const first = (warning.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  if (warning.code !== 'TAG_RESOLVE_FAILED') return `YAML at ${at}: ${first}`;
  const tag = first.replace(/^Unresolved tag: /, '');
  const key = keyAfter(doc, warning.pos[1]);
  return (
    `${key === undefined ? '' : `${key}: `}the tag ${tag} at ${at} is unknown (YAML's are !!str, !!int, !!float, ` +
    '!!bool, !!null, !!seq, !!map): what the value was meant to be is not known; remove the tag, or quote the value if the "!" belongs to it'
  );
}

/** The dotted key of the first tagged node that starts at or after `offset` (the tag's end), or undefined. */
function keyAfter(doc: Document, offset: number): string | undefined {
  let best: { start: number; keys: string[] } | undefined;
  const walk = (node: unknown, keys: string[]): void => {
    if (isMap(node)) {
      for (const pair of node.items)
        walk(pair.value, [...keys, String(isScalar(pair.key) ? pair.key.value : pair.key)]);
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) walk(item, [...keys, String(index)]);
    }
    if (isNode(node) && node.tag !== undefined && node.range) {
      const start = node.range[0];
      if (start >= offset && (best === undefined || start < best.start)) best = { start, keys };
    }
  };
  try {
    walk(doc.contents, []);
  } catch {
    return undefined; // nested too deep to walk: the line and column still say where
  }
  return best && best.keys.length > 0 ? best.keys.join('.') : undefined;
}

/** Every file path the config names, made absolute from `base`: dataDir, rule tables, certificates, the ACME CA. */
function resolvePaths(config: Config, base: string): void {
  const from = (file: string) => path.resolve(base, file);
  config.dataDir = from(config.dataDir);
  const filter = config.filter;
  for (const key of ['headerChecks', 'mimeHeaderChecks', 'nestedHeaderChecks', 'bodyChecks'] as const) {
    const file = filter[key];
    if (file !== undefined) filter[key] = from(file);
  }
  config.tls.certificates = config.tls.certificates.map(({ cert, key }) => ({ cert: from(cert), key: from(key) }));
  if (config.tls.acme?.directoryCa) config.tls.acme.directoryCa = from(config.tls.acme.directoryCa);
  // Access maps: `check_sender_access senders`, or { rule: check_sender_access, file: senders }.
  const accessMapPath = (rule: string) =>
    rule.replace(
      /^(\s*(?:warn_if_reject\s+)?check_[a-z]+_access\s+)([^\s:]+)(\s*)$/,
      (_, head, file, tail) => head + from(file) + tail,
    );
  for (const list of Object.values(config.restrictions)) {
    list?.forEach((entry, index) => {
      if (typeof entry === 'string') list[index] = accessMapPath(entry);
      else if (typeof entry === 'object' && entry !== null) {
        if (typeof entry.file === 'string') entry.file = from(entry.file);
        if (typeof entry.rule === 'string') entry.rule = accessMapPath(entry.rule);
      }
    });
  }
}

export function parseConfig(raw: unknown, source: string): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    // The store URL's checks (schema.ts) can all fail on one URL: one line says what is wrong with it.
    const issues = result.error.issues.filter(
      (issue, index, all) => !isStoreUrlIssue(issue) || all.findIndex(isStoreUrlIssue) === index,
    );
    const lines = issues.map((issue) => describeIssue(issue, raw));
    throw new ConfigError(`${source}: invalid configuration\n${lines.map((l) => `  - ${l}`).join('\n')}`, {
      source,
      problems: lines,
    });
  }
  const config = result.data;
  const clash = listenClash(config);
  if (clash) throw new ConfigError(`${source}: invalid configuration\n  - ${clash}`, { source, problems: [clash] });
  // Like Postfix's mydestination = $myhostname: with no domains listed, the host's own name is local.
  if (config.domains.length === 0) config.domains = [config.hostname];
  return config;
}

/**
 * The addresses `serve` listens on, by config key: the SMTP listeners, the MTA-STS policy host and
 * the ACME challenge responders. Submission listeners are included though they stay off without a
 * certificate (known only later): EarlyPorts.closeUnused() gives those back, and EarlyPorts.bind() skips one it cannot have.
 */
export function listenAddresses(config: Config): Map<string, string> {
  const addresses = new Map<string, string>([['listen.smtp', config.listen.smtp]]);
  if (config.listen.submission) addresses.set('listen.submission', config.listen.submission);
  if (config.listen.submissions) addresses.set('listen.submissions', config.listen.submissions);
  if (config.mtaSts.listen) addresses.set('mtaSts.listen', config.mtaSts.listen);
  const acme = config.tls.acme;
  if (acme?.http01?.listen) addresses.set('tls.acme.http01.listen', acme.http01.listen);
  if (acme?.tlsAlpn01?.listen) addresses.set('tls.acme.tlsAlpn01.listen', acme.tlsAlpn01.listen);
  return addresses;
}

/** Two listeners on one socket: the second could never bind (EADDRINUSE), so `check` and the start say so first. */
function listenClash(config: Config): string | undefined {
  const listeners = [...listenAddresses(config)];
  for (const [i, [keyA, a]] of listeners.entries()) {
    for (const [keyB, b] of listeners.slice(i + 1)) {
      if (!sameSocket(a, b)) continue;
      const alpn = keyA === 'tls.acme.tlsAlpn01.listen' ? a : keyB === 'tls.acme.tlsAlpn01.listen' ? b : undefined;
      if (alpn !== undefined && (keyA === 'mtaSts.listen' || keyB === 'mtaSts.listen')) {
        // Both want port 443 as seen from outside, and the MTA-STS server's certificate selection (SNI)
        // would hide the tls-alpn-01 validation certificate (RFC 8737 §3): one of them must move.
        return (
          `tls.acme.tlsAlpn01.listen and mtaSts.listen both take ${alpn}: ` +
          'one listener cannot answer ACME tls-alpn-01 and serve the MTA-STS policy; use tls.acme.http01 (port 80) ' +
          'for ACME, or give one of them another address'
        );
      }
      const where = a === b ? `both take ${a}` : `take ${a} and ${b}, the same port`;
      return `${keyA} and ${keyB} ${where}: one port serves one listener; give one of them another port`;
    }
  }
  return undefined;
}

/**
 * Whether two host:port listen addresses would bind the same socket: the same host and port, or a
 * wildcard covering the other (on Linux "[::]" takes IPv4 too; "0.0.0.0" only IPv4). Port 0 is a
 * new port each time.
 */
function sameSocket(a: string, b: string): boolean {
  const [x, y] = [splitHostPort(a), splitHostPort(b)];
  if (x.port !== y.port || x.port === 0) return false;
  const covers = (wildcard: string, host: string) =>
    wildcard === '::' || (wildcard === '0.0.0.0' && !host.includes(':'));
  return spellings(x.host).some((h) => spellings(y.host).some((k) => h === k || covers(h, k) || covers(k, h)));
}

/**
 * The addresses a listen host stands for, in one spelling each: an IPv6 address in RFC 5952 form, an
 * IPv4-mapped one as IPv4 (Linux binds `[::ffff:127.0.0.1]` and `127.0.0.1` as one socket), and
 * `localhost` as 127.0.0.1. Another name stands for itself.
 */
function spellings(host: string): string[] {
  const lower = host.toLowerCase();
  // Node binds "localhost" to the first address the resolver gives, 127.0.0.1 here and on most
  // systems; ::1 beside it is let be (where localhost is ::1 first, serve says "in use" at start).
  if (lower === 'localhost') return ['127.0.0.1'];
  if (!isIPv6(lower)) return [lower];
  return [ipv4Mapped(lower) ?? new URL(`http://[${lower}]/`).hostname.slice(1, -1)];
}

/** The keys of store.engine: postgres that a SQLite store section does not take. */
const POSTGRES_ONLY_KEYS = ['url', 'poolSize'];

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const key = issue.path.map(String).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    // PostgreSQL's keys under a SQLite store are spelled right: "check the spelling" would send the admin
    // looking for a typo that is not there.
    const postgresOnly = key === 'store' ? issue.keys.filter((k) => POSTGRES_ONLY_KEYS.includes(k)) : [];
    const unknown = issue.keys.filter((k) => !postgresOnly.includes(k));
    const said: string[] = [];
    if (postgresOnly.length > 0) {
      const names = postgresOnly.map((k) => `store.${k}`).join(' and ');
      said.push(
        `${names} appl${postgresOnly.length > 1 ? 'y' : 'ies'} to store.engine: postgres only; the SQLite store is the file dataDir/postern.sqlite`,
      );
    }
    if (unknown.length > 0) {
      const where = issue.path.length === 0 ? '' : ` under ${key}`;
      said.push(
        `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}${where}: check the spelling against the configuration reference in README.md`,
      );
    }
    return said.join('; ');
  }
  const value = valueAt(raw, issue.path);
  if (key === 'hostname' && value === undefined) {
    // Not in the file: the OS host name was taken (RFC 5321 §4.1.3 needs a domain for EHLO) and failed.
    return `hostname is not set, and this machine's name, "${defaultHostname()}", is not usable: ${issue.message}; set hostname in the config`;
  }
  if (key === 'store.url' && value === undefined) {
    return 'store.url is missing: store.engine: postgres needs the database URL, such as postgres://postern@db.example.com/postern';
  }
  if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) {
    // Not "missing is invalid: … received undefined": the key is absent, and the admin needs to add it.
    return `${key} is required: ${requiredWhat(issue)}`;
  }
  const urlProblem = key === 'store.url' && typeof value === 'string' ? storeUrlProblem(value) : undefined;
  // The store URL is shown as the store shows it: parsed and redacted, or not at all (`user:secret@host`
  // without "//" parses as no URL with a password in it, and no pattern finds every such form). So is a
  // string written where the store's section belongs (`store: "postgres://…"`), which is that URL too.
  // An engine's name is no secret and the likeliest typo there (postgresql, postgress): shown as typed,
  // unless it holds what could be a URL's credentials.
  const engineName = key === 'store.engine' && typeof value === 'string' && /^[\w.-]{0,40}$/.test(value);
  const storeText = (key === 'store' || key.startsWith('store.')) && typeof value === 'string' && !engineName;
  const safe = storeText ? redactUrl(value) : withoutSecrets(value);
  // YAML's .inf and .nan are numbers JSON has no words for (it would write null).
  const shown =
    value === undefined
      ? 'missing'
      : typeof safe === 'number' && !Number.isFinite(safe)
        ? String(safe)
        : JSON.stringify(safe);
  // zod says "Invalid input" for a restriction that is neither form of a rule (a number, a list, an object without rule).
  const ruleForms =
    issue.code === 'invalid_union' && issue.path[0] === 'restrictions' && issue.path.length === 3
      ? 'expected a rule, as a string ("reject_unknown_client_hostname", "check_client_access /etc/postern/clients") ' +
        'or as an object naming it in rule ({ rule: check_client_access, file: /etc/postern/clients })'
      : undefined;
  return `${key}: ${shown} is invalid: ${ruleForms ?? urlProblem ?? issue.message}`;
}

/** What a required key takes, in words: zod's "Invalid input: expected string, received undefined" as "expected a string". */
function requiredWhat(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_type') return issue.message;
  const words: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
    array: 'a list',
    object: 'a mapping of keys',
  };
  return `expected ${words[issue.expected] ?? issue.expected}`;
}

function isStoreUrlIssue(issue: z.core.$ZodIssue): boolean {
  return issue.path.map(String).join('.') === 'store.url';
}

/**
 * What to write instead, in RFC 3986 §3.2.1's terms: userinfo takes unreserved characters,
 * sub-delims ("!$&'()*+,;=") and ":" as they are; of the reserved ones, "/", "?", "#", "[", "]" and "@"
 * must be percent-encoded, and a space is no URL character (the schema refuses whitespace). A "%" is
 * named on its own terms: node-postgres (pg-connection-string 2.x) reads a raw "%" before two hex
 * digits as an escape, and re-encodes a URL holding any other raw "%", which turns its escapes with a
 * hex letter (%2F, %3F…) into literal text; only %25 is always right.
 */
function storeUrlProblem(url: string): string | undefined {
  const encoding =
    'in the password, write "/" as %2F, "?" as %3F, "#" as %23, "[" as %5B, "]" as %5D, "@" as %40 and a space as %20 ' +
    '(RFC 3986 §3.2.1), and "%" as %25 (a raw "%" before two hex digits is read as an escape, and any other raw "%" ' +
    'makes the driver read escapes such as %2F literally); expected e.g. postgres://postern:pa%2Fss@db.example.com/postern';
  if (!/^postgres(ql)?:\/\/./.test(url))
    return 'expected a PostgreSQL URL such as postgres://postern@db.example.com/postern';
  const parsed = URL.parse(url);
  if (parsed === null) return `not a URL that can be read: ${encoding}`;
  if (/\s/.test(url)) return `has whitespace in it: ${encoding}`;
  // `postgres://u:5432/x@db/postern` is host "u", port 5432: the "/" ended the password.
  if (`${parsed.pathname}${parsed.search}${parsed.hash}`.includes('@')) return `has an "@" after the host: ${encoding}`;
  return undefined;
}

/**
 * A bad value is shown to say what is wrong with it, but never a password inside it: a URL's
 * (`scheme://user:secret@host`, the secret up to the last "@", spaces and all), a libpq-style
 * `password=secret`, or one inside a list or an object written where a string was expected.
 */
function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, /pass(word)?|secret/i.test(k) ? '***' : withoutSecrets(v)]),
    );
  }
  if (typeof value !== 'string') return value;
  return (
    value
      // Up to the last "@" of the line: a password may hold "@" and spaces itself (`//u:p@ss word@host`).
      .replace(/(\/\/[^:/@\s]*:).*@/g, '$1***@')
      // libpq's sslpassword (the client key's passphrase) as much as password.
      .replace(/(\b(?:ssl)?pass(?:word)?\s*=\s*)('[^']*'|"[^"]*"|[^\s&]+)/gi, '$1***')
  );
}

function valueAt(raw: unknown, keys: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Splits "host:port" / "[v6]:port" as the schema validated it. */
export function splitHostPort(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  const host = value.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(colon + 1)) };
}
