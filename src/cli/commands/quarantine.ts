/**
 * `postern quarantine list|show|release|delete`: the messages the content filter held back
 * (Store.quarantine), with the verdict that held them, each until filter.quarantine.retentionDays
 * runs out (src/filter/quarantine-expiry.ts removes it then; list shows when). Release delivers a
 * message to its original recipients: accounts here get it in their INBOX, other domains (with
 * --remote) through the outbound queue; or, with --to, to one account here instead.
 */
import { domainToASCII } from 'node:url';
import { parseAddress } from '../../accounts/address.ts';
import { stripForgedResults } from '../../authentication/authentication-results.ts';
import type { Config } from '../../config/schema.ts';
import { stripVerdictHeaders } from '../../filter/actions/verdict-headers.ts';
import { MAX_ATTACHED_MESSAGES } from '../../filter/phishing/embedded.ts';
import type { PhishingMarks } from '../../filter/phishing-stage.ts';
import { addressFirst, column, printable } from '../../log/printable.ts';
import { headerSectionLength } from '../../mime/header-section.ts';
import { outboundJob, transportOf } from '../../store/outbound-job.ts';
import {
  type NewQueueJob,
  type Quarantined,
  type QuarantinedSummary,
  RecipientsGoneError,
  type ReleasedQuarantine,
  type Store,
} from '../../store/store.ts';
import { CliError, usageError } from '../errors.ts';
import { configFrom, onlyFlags, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

const SUBCOMMANDS = ['list', 'show', 'release', 'delete'];

const FLAGS = {
  json: { type: 'boolean' },
  limit: { type: 'string' },
  raw: { type: 'boolean' },
  lang: { type: 'string' },
  to: { type: 'string' },
  remote: { type: 'boolean' },
} as const;

const ALLOWED: Record<string, (keyof typeof FLAGS)[]> = {
  list: ['json', 'limit'],
  show: ['raw', 'lang'],
  release: ['to', 'remote'],
  delete: [],
};

/** Each subcommand's line in `postern help` (src/cli/main.ts), said whole when its arguments are wrong. */
const USAGE: Record<string, string> = {
  show: 'quarantine show <id> [--raw] [--lang en|ru]',
  release: 'quarantine release <id> [--remote | --to <address>]',
  delete: 'quarantine delete <id>',
};

const DEFAULT_LIMIT = 100;

const DAY_MS = 86_400_000;

export async function quarantineCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  // Before the config is read: `postern quarantine --config FILE` lacks a subcommand, whatever FILE holds.
  if (sub === undefined || sub.startsWith('-')) {
    throw usageError(`quarantine: missing subcommand (${SUBCOMMANDS.join(', ')})`);
  }
  if (!SUBCOMMANDS.includes(sub)) throw usageError(`quarantine: unknown subcommand "${sub}"`);
  const { values, positionals } = parseCommandLine(rest, FLAGS, `quarantine ${sub}`);
  onlyFlags(values, ALLOWED[sub] ?? [], `quarantine ${sub}`);
  if (sub === 'list') {
    if (positionals.length > 0) throw usageError(`quarantine list: unexpected argument "${positionals[0]}"`);
    const limit = limitOption(values.limit);
    const { config } = configFrom(values);
    // One more than shown: whether there are more to show, not a guess from a full page.
    const found = await withStore(config, (store) => store.listQuarantine({ limit: limit + 1 }));
    const retentionMs = config.filter.quarantine.retentionDays * DAY_MS;
    const entries = found
      .slice(0, limit)
      .map((e) => ({ ...e, expiresAt: new Date(e.receivedAt.getTime() + retentionMs) }));
    return list(entries, found.length > limit ? limit : undefined, values.json === true);
  }
  if (positionals.length !== 1) throw usageError(`usage: postern ${USAGE[sub]}`);
  const id = idArgument(positionals[0]!);
  const lang = langOption(values.lang);
  if (values.to !== undefined && values.remote === true) {
    throw usageError('quarantine release: --to delivers to one account here; --remote does not go with it');
  }
  const { config } = configFrom(values);
  switch (sub) {
    case 'show': {
      const entry = await withStore(config, (store) => store.readQuarantined(id));
      if (!entry) throw noSuchEntry(id);
      process.stdout.write(values.raw === true ? entry.content : show(entry, lang));
      return 0;
    }
    case 'release':
      return withStore(config, (store) =>
        values.to !== undefined ? releaseTo(store, id, values.to) : release(store, config, id, values.remote === true),
      );
    case 'delete': {
      if (!(await withStore(config, (store) => store.removeQuarantined(id)))) throw noSuchEntry(id);
      process.stdout.write(`deleted quarantined message ${id}\n`);
      return 0;
    }
    default:
      throw new Error(`quarantine: subcommand "${sub}" is listed but not handled`);
  }
}

/**
 * `more`: the limit, when more entries than it exist. `expiresAt`: when filter.quarantine.retentionDays
 * runs out for the entry; the server's next sweep (src/filter/quarantine-expiry.ts) removes it.
 */
function list(entries: (QuarantinedSummary & { expiresAt: Date })[], more: number | undefined, json: boolean): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`); // Dates become ISO 8601 strings
    return 0;
  }
  if (entries.length === 0) {
    process.stdout.write('the quarantine is empty\n');
    return 0;
  }
  const width = terminalWidth();
  const idWidth = Math.max(2, ...entries.map((e) => String(e.id).length));
  const categoryWidth = Math.max(8, ...entries.map((e) => e.category.length));
  // id, date (16), expiry day (10), score (6), category, and the seven two-space gaps between the eight columns
  const flexible = Math.max(40, width - idWidth - 16 - 10 - 6 - categoryWidth - 14);
  const fromWidth = Math.floor(flexible * 0.3);
  const toWidth = Math.floor(flexible * 0.25);
  const subjectWidth = flexible - fromWidth - toWidth;
  const row = (cells: string[]) => `${cells.join('  ').trimEnd()}\n`;
  let out = row([
    'id'.padStart(idWidth),
    'date (UTC)'.padEnd(16),
    'expires'.padEnd(10),
    'from'.padEnd(fromWidth),
    'to'.padEnd(toWidth),
    'score'.padStart(6),
    'category'.padEnd(categoryWidth),
    'subject',
  ]);
  for (const e of entries) {
    out += row([
      String(e.id).padStart(idWidth),
      e.receivedAt.toISOString().slice(0, 16).replace('T', ' '),
      // The day: the server sweeps hourly, so the minute would promise more than it keeps.
      e.expiresAt.toISOString().slice(0, 10),
      column(e.from ? addressFirst(e.from) : `<${e.mailFrom}>`, fromWidth),
      column(e.recipients.join(', '), toWidth),
      e.score.toFixed(1).padStart(6),
      column(e.category, categoryWidth),
      column(e.subject, subjectWidth),
    ]);
  }
  if (more !== undefined) out += `(the newest ${more}; --limit N shows more)\n`;
  process.stdout.write(out);
  return 0;
}

/**
 * show's words in the admin's language; those `postern scan` also prints are its words (scan.ts describe,
 * ACTION_TEXT), so the two read alike.
 */
const SHOW_TEXT = {
  en: {
    title: 'Quarantined message',
    received: 'Received',
    envelope: 'Envelope',
    size: 'Size',
    octets: (n: number) => `${n} octets`,
    verdict: 'Verdict',
    score: 'score',
    category: 'category',
    notScored: 'not scored (held by the rule or milter below)',
    reason: 'Reason',
    signals: 'Signals',
    none: 'none',
    evidence: 'evidence',
    headers: 'Headers',
    forged:
      'the message came with X-Postern-Verdict or X-Postern-Signals fields (below) that Postern did not write; a release removes them',
    foreign:
      'the header below holds X-Postern-Verdict or X-Postern-Signals fields; the verdict above is the one Postern gave, and a release to another domain removes them',
    note: 'Note',
  },
  ru: {
    title: 'Письмо в карантине',
    received: 'Получено',
    envelope: 'Конверт',
    size: 'Размер',
    octets: (n: number) => `${n} ${russianPlural(n, 'октет', 'октета', 'октетов')}`,
    verdict: 'Вердикт',
    score: 'оценка',
    category: 'категория',
    notScored: 'без оценки (задержано правилом или milter-фильтром, указанным ниже)',
    reason: 'Причина',
    signals: 'Признаки',
    none: 'нет',
    evidence: 'доказательство',
    headers: 'Заголовки',
    forged:
      'письмо пришло с полями X-Postern-Verdict или X-Postern-Signals (ниже), которые записал не Postern; при выпуске из карантина они удаляются',
    foreign:
      'в заголовке ниже есть поля X-Postern-Verdict или X-Postern-Signals; вердикт Postern — тот, что выше, а при выпуске в другой домен эти поля удаляются',
    note: 'Примечание',
  },
} as const;

/** The actions a verdict names, as `postern scan` words them (scan.ts ACTION_TEXT); others as written. */
const ACTION_TEXT: Record<string, { en: string; ru: string }> = {
  none: { en: 'deliver', ru: 'доставить' },
  warn: { en: 'deliver with a warning', ru: 'доставить с предупреждением' },
  junk: { en: 'deliver to Junk', ru: 'доставить в «Спам»' },
  quarantine: { en: 'quarantine', ru: 'карантин' },
  reject: { en: 'reject (554)', ru: 'отклонить (554)' },
};

function russianPlural(n: number, one: string, few: string, many: string): string {
  const tens = n % 100;
  const units = n % 10;
  if (units === 1 && tens !== 11) return one;
  return units >= 2 && units <= 4 && (tens < 12 || tens > 14) ? few : many;
}

/**
 * The verdict fields a message may hold. In an entry the phishing stage marked, the content is as it came
 * and our fields are in its verdict (PhishingMarks), so those in the content are a sender's or a milter's.
 */
const VERDICT_FIELD = /^x-postern-(?:verdict|signals)[ \t]*:/im;

/** The verdict with every signal explained in the admin's language, then the message's header section. */
function show(entry: Quarantined, lang: 'en' | 'ru'): string {
  const { verdict } = entry;
  const w = SHOW_TEXT[lang];
  const labels = [w.received, w.envelope, w.size, w.verdict, w.reason, w.signals, w.note];
  const width = Math.max(...labels.map((l) => l.length)) + 3; // "Received:  " in English, as before
  const label = (text: string) => `${text}:`.padEnd(width);
  // The reason is the top signal's explanation in the server's language, when a signal gave it (a
  // HOLD rule's or a milter's reason is what it is): shown in the language asked for.
  const top = verdict.signals.find((s) => s.en === verdict.reason || s.ru === verdict.reason);
  const action = ACTION_TEXT[verdict.action]?.[lang] ?? printable(verdict.action);
  const lines = [
    `${w.title} ${entry.id}`,
    `${label(w.received)}${entry.receivedAt.toISOString()}`,
    `${label(w.envelope)}<${printable(entry.mailFrom)}> -> ${entry.recipients.map((r) => printable(r)).join(', ')}`,
    `${label(w.size)}${w.octets(entry.size)}`,
    '',
    // A HOLD rule or a milter held it and the phishing detector did not score it (off, or our own user):
    // "score 0, category generic" would read as a verdict of harmless.
    verdict.signals.length === 0 && verdict.score === 0
      ? `${label(w.verdict)}${action}, ${w.notScored}`
      : `${label(w.verdict)}${action}, ${w.score} ${verdict.score}, ${w.category} ${printable(verdict.category)}`,
    `${label(w.reason)}${printable(top ? top[lang] : verdict.reason)}`,
    verdict.signals.length === 0 ? `${label(w.signals)}${w.none}` : `${w.signals}:`,
  ];
  for (const signal of verdict.signals) {
    lines.push(`  ${signedWeight(signal.weight)}  ${printable(signal.name)}: ${printable(signal[lang])}`);
    if (signal.evidence !== undefined) lines.push(`          ${w.evidence}: ${printable(signal.evidence)}`);
  }
  const unopened = verdict.unopenedAttachedMessages;
  // Past MAX_ATTACHED_MESSAGES the detector opens no more (a DoS guard): what they hold was not judged.
  if (typeof unopened === 'number' && unopened > 0) {
    lines.push(
      lang === 'ru'
        ? `Не открыто вложенных писем: ${unopened} (открываются первые ${MAX_ATTACHED_MESSAGES})`
        : `Attached messages not opened: ${unopened} (the first ${MAX_ATTACHED_MESSAGES} are)`,
    );
  }
  const header = new TextDecoder().decode(entry.content.subarray(0, headerSectionLength(entry.content)));
  // Verdict fields in the stored header are not this verdict: never shown as if they were ours.
  if (VERDICT_FIELD.test(header)) lines.push('', `${label(w.note)}${marksOf(entry) ? w.forged : w.foreign}`);
  lines.push('', `${w.headers}:`, printable(header.replace(/\r?\n$/, ''), true));
  return `${lines.join('\n')}\n`;
}

/**
 * Local recipients (an account or alias here, whatever its domain) get the message in their INBOX;
 * recipients in other domains are queued for outbound delivery, only with `remote`: without it the
 * release is refused whole, naming them, for a domain removed from `domains` looks the same as one
 * never ours, and its MX may still point here (a loop) or to whoever has it now. A recipient in our
 * domains whose account is gone is reported. Which domain is ours is read from the address alone:
 * a recipient the account rules would refuse (a UTF-8 local part, RFC 6531 §3.3) is still one
 * another domain's server takes. The entry is removed once the message went somewhere, and kept when
 * it went nowhere.
 */
async function release(store: Store, config: Config, id: number, allowRemote: boolean): Promise<number> {
  const entry = await store.readQuarantined(id);
  if (!entry) throw noSuchEntry(id);
  const local: { address: string; accountId: number }[] = [];
  const remote: string[] = [];
  const gone: string[] = [];
  for (const recipient of entry.recipients) {
    const parsed = parseAddress(recipient);
    const address = parsed.ok ? parsed.address : recipient.toLowerCase();
    const account = await store.resolveAddress(address);
    if (account) local.push({ address: recipient, accountId: account.id });
    else if (ours(recipient, config.domains)) gone.push(recipient);
    else remote.push(recipient);
  }
  if (remote.length > 0 && !allowRemote) throw notOurDomains(id, remote);
  if (local.length === 0 && remote.length === 0) throw nobodyLeft(id, gone);
  const message = entryMessage(entry);
  let released: ReleasedQuarantine | undefined;
  const marked = local.length > 0 ? await localMessage(entry) : message;
  try {
    // One transaction: the entry goes exactly when the message went somewhere, so neither a crash
    // nor a second release running at the same time can deliver it twice.
    released = await store.releaseQuarantined(id, {
      ...(local.length > 0 ? { delivery: { mailFrom: entry.mailFrom, recipients: local, ...marked } } : {}),
      ...(remote.length > 0
        ? {
            job: releasedJob(id, entry.mailFrom, remote, message, config),
          }
        : {}),
    });
  } catch (err) {
    if (!(err instanceof RecipientsGoneError)) throw err;
    throw nobodyLeft(id, [...gone, ...local.map((r) => r.address)]); // removed since the look-up
  }
  if (!released) throw new CliError(`quarantined message ${id} was released or deleted meanwhile; nothing done`);
  const out: string[] = [];
  if (released.job) out.push(`queued for ${shown(remote)} (outbound job ${released.job.id})`);
  const placements = released.receipt?.placements ?? [];
  for (const placement of placements) {
    const names = local.filter((r) => r.accountId === placement.accountId).map((r) => r.address);
    out.push(`delivered to ${shown(names)} (${printable(placement.mailbox)}, UID ${placement.uid})`);
  }
  for (const r of local) if (!placements.some((p) => p.accountId === r.accountId)) gone.push(r.address);
  for (const address of gone) out.push(`not delivered to ${printable(address)}: no such account`);
  out.push(`released quarantined message ${id}`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (released.job) {
    // Said on stderr, so scripts reading the lines above keep them: the admin must not think it left.
    process.stderr.write(
      `note: outbound delivery is not implemented yet: job ${released.job.id} waits in the outbound queue, and ` +
        `nothing sends it on; postern queue show ${released.job.id} --raw hands it to another MTA\n`,
    );
  }
  return 0;
}

/** `--to <address>`: the message to that account here instead of its recipients (a redirect). */
async function releaseTo(store: Store, id: number, to: string): Promise<number> {
  const entry = await store.readQuarantined(id);
  if (!entry) throw noSuchEntry(id);
  const parsed = parseAddress(to);
  if (!parsed.ok) throw usageError(`quarantine release: --to needs an address (user@domain), not "${printable(to)}"`);
  const account = await store.resolveAddress(parsed.address);
  if (!account) {
    throw new CliError(
      `quarantine release --to ${printable(to)}: no account or alias here has that address; message ${id} stays in quarantine`,
    );
  }
  const delivery = { mailFrom: entry.mailFrom, recipients: [{ address: to, accountId: account.id }] };
  let released: ReleasedQuarantine | undefined;
  try {
    released = await store.releaseQuarantined(id, { delivery: { ...delivery, ...(await localMessage(entry)) } });
  } catch (err) {
    if (!(err instanceof RecipientsGoneError)) throw err; // removed since the look-up: rolled back
    throw new CliError(
      `quarantine release --to ${printable(to)}: the account is gone; message ${id} stays in quarantine`,
    );
  }
  if (!released) throw new CliError(`quarantined message ${id} was released or deleted meanwhile; nothing done`);
  const placement = released.receipt?.placements[0];
  process.stdout.write(
    `delivered to ${printable(to)} (${printable(placement?.mailbox ?? 'INBOX')}, UID ${placement?.uid}) instead of ${shown(entry.recipients)}\n` +
      `released quarantined message ${id}\n`,
  );
  return 0;
}

function nobodyLeft(id: number, gone: string[]): CliError {
  return new CliError(
    `quarantined message ${id}: no account here has the address ${shown(gone)} any more; it stays in quarantine.\n` +
      `  To deliver it to another account here: postern quarantine release ${id} --to <address>\n` +
      `  To keep the message itself: postern quarantine show ${id} --raw > message-${id}.eml`,
  );
}

/** Recipients outside `domains`: named with their domains, and what the admin can do. */
function notOurDomains(id: number, remote: string[]): CliError {
  const domains = [...new Set(remote.map((r) => printable(r.slice(r.lastIndexOf('@') + 1).toLowerCase())))];
  const which = domains.length === 1 ? `${domains[0]} is` : `${domains.join(', ')} are`;
  return new CliError(
    `quarantined message ${id}: ${shown(remote)}: ${which} not in domains, so releasing it puts it in ` +
      'the outbound queue for the MX of that domain (this server again, if it was ours until lately and its ' +
      'MX still points here; outbound delivery is not implemented yet, so it waits there). Nothing was ' +
      'released; it stays in quarantine.\n' +
      `  To send it out: postern quarantine release ${id} --remote\n` +
      `  To deliver it to an account here instead: postern quarantine release ${id} --to <address>`,
  );
}

/**
 * Addresses from the envelope as a terminal may show them: the sender chose them, and an escape
 * sequence in one would reach the admin's terminal (printable.ts).
 */
function shown(addresses: string[]): string {
  return addresses.map((address) => printable(address)).join(', ');
}

/**
 * Whether the address is in one of our domains: its domain, after the last "@" (a quoted local part
 * may hold one, RFC 5321 §4.1.2), lower case with A-labels as `domains` holds it (RFC 5890 §2.3.2.1:
 * a U-label and its A-label name one domain; an invalid IDN matches none of ours). One without a
 * domain (RFC 5321 §4.1.1.3, <postmaster>) is ours.
 */
function ours(address: string, domains: readonly string[]): boolean {
  const at = address.lastIndexOf('@');
  if (at < 0) return true;
  const domain = address.slice(at + 1).toLowerCase();
  return domains.includes(/^[\x00-\x7f]*$/.test(domain) ? domain : domainToASCII(domain) || domain);
}

/**
 * The copy that leaves for another domain, as the server queues one: without the Return-Path of a
 * final delivery (RFC 5321 §4.4) and without our Authentication-Results (RFC 8601 §5), which would tell
 * the next domain who logged in. Without X-Postern-Verdict and X-Postern-Signals too: the server takes
 * them out of what arrives (src/server/client-fields.ts) and a local release out of its copy
 * (markedCopy), yet the entry may hold them (a milter's, or one kept before marks were kept apart), and
 * a Postern or Sieve rule at the next domain would trust them. The rest, our Received included, goes as
 * it was held.
 */
function leavingCopy(content: Uint8Array, authservId: string): Uint8Array {
  let bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  if (/^return-path[ \t]*:/i.test(bytes.toString('latin1', 0, 64))) {
    let end = bytes.indexOf(0x0a);
    while (end >= 0 && (bytes[end + 1] === 0x20 || bytes[end + 1] === 0x09)) end = bytes.indexOf(0x0a, end + 1);
    bytes = end < 0 ? bytes : bytes.subarray(end + 1);
  }
  return stripForgedResults(stripVerdictHeaders(bytes), authservId).content;
}

/**
 * The outbound job of a release's remote recipients. The entry keeps no MAIL parameters, so BODY and
 * SMTPUTF8 (which the next hop must be told: RFC 6152 §3, RFC 6531 §3.4) are read from the message
 * and its addresses, erring towards 8BITMIME and SMTPUTF8 (transportOf says why).
 */
function releasedJob(
  id: number,
  mailFrom: string,
  remote: string[],
  message: { content: Uint8Array; receivedAt: Date },
  config: Config,
): NewQueueJob {
  const content = leavingCopy(message.content, config.authentication.authservId ?? config.hostname);
  return outboundJob({
    id: `quarantine-${id}`,
    mailFrom,
    recipients: remote,
    receivedAt: message.receivedAt,
    content,
    ...transportOf(content, [mailFrom, ...remote]),
  });
}

/** The stored message as it is delivered: the bytes and the time it first arrived. */
function entryMessage(entry: Quarantined): { content: Uint8Array; receivedAt: Date } {
  return { content: entry.content, receivedAt: entry.receivedAt };
}

/**
 * The message as a reader here gets it. An entry the phishing stage marked keeps the content as it
 * came (what a release to another domain sends, as a delivery's outbound copy) and the marks in its
 * verdict, `at` the end of our trace fields: they go back on after those, as they were at receipt.
 * An entry from before keeps its content marked.
 */
async function localMessage(entry: Quarantined): Promise<{ content: Uint8Array; receivedAt: Date }> {
  const marks = marksOf(entry);
  if (!marks) return entryMessage(entry);
  const { markedCopy } = await import('../../filter/phishing-stage.ts');
  const bytes = Buffer.from(entry.content.buffer, entry.content.byteOffset, entry.content.byteLength);
  const content = Buffer.concat([bytes.subarray(0, marks.at), markedCopy(bytes.subarray(marks.at), marks)]);
  return { content, receivedAt: entry.receivedAt };
}

/** The marks the phishing stage kept beside the content, `at` where they go; undefined for an entry without. */
function marksOf(entry: Quarantined): (PhishingMarks & { at: number }) | undefined {
  const marks = (entry.verdict as { marks?: PhishingMarks & { at?: unknown } }).marks;
  const at = marks?.at;
  if (!marks || typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0 || at > entry.content.byteLength) {
    return undefined;
  }
  return { ...marks, at };
}

function idArgument(input: string): number {
  const id = Number(input);
  // Ids above 2^53 - 1 lose digits as JavaScript numbers: another entry would be shown or released.
  if (!/^\d+$/.test(input) || !Number.isSafeInteger(id) || id < 1) {
    throw usageError(`"${input}" is not a quarantine id (a whole number from 1 to ${Number.MAX_SAFE_INTEGER})`);
  }
  return id;
}

/** More than any quarantine a terminal can show; one row is asked for beyond it. */
const MAX_LIMIT = 1_000_000;

function limitOption(option: string | undefined): number {
  if (option === undefined) return DEFAULT_LIMIT;
  const limit = Number(option);
  if (!/^\d+$/.test(option) || limit < 1 || limit > MAX_LIMIT) {
    throw usageError(`quarantine list: --limit needs a whole number from 1 to ${MAX_LIMIT}, not "${option}"`);
  }
  return limit;
}

function langOption(option: string | undefined): 'en' | 'ru' {
  if (option === undefined || option === 'en' || option === 'ru') return option ?? 'en';
  throw usageError(`quarantine show: --lang is en or ru, not "${option}"`);
}

function noSuchEntry(id: number): CliError {
  return new CliError(`${id}: no such quarantined message (postern quarantine list shows them)`);
}

/** The terminal's width; 120 when output goes to a pipe or file (COLUMNS overrides). */
function terminalWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns > 0) return process.stdout.columns;
  const columns = Number(process.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : 120;
}

function signedWeight(weight: number): string {
  return `${weight >= 0 ? '+' : ''}${weight}`.padStart(6);
}
