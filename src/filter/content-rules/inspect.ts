/**
 * Postfix built-in content inspection, header_checks(5), over a whole message: header_checks on each
 * logical header of the top-level header; mime_header_checks on the MIME headers (Content-Type,
 * Content-Transfer-Encoding, Content-Disposition, Content-Description, Content-ID, Mime-Version) of
 * the top-level header and on every header of a multipart body part, whatever its name (boundaries
 * per RFC 2046 §5.1.1), as Postfix's cleanup does; body_checks on each
 * body line. As in Postfix, body lines are inspected as they are on the wire: base64 and
 * quoted-printable are not decoded. A logical header is matched as one string with "\n" between
 * its folded lines (CR removed); a body line without its line end. The first matching rule of a
 * table wins for a line (regexp_table(5)).
 *
 * As Postfix's body_checks_size_limit, only the first `bodySizeLimit` octets (51,200 by default) of each
 * body part are given to body_checks: huge attachments are not scanned line by line.
 *
 * nested_header_checks applies to the non-MIME headers of an attached message: the body of a
 * message/rfc822 or message/global part (RFC 2046 §5.2.1, RFC 6532 §3.7) whose encoding is 7bit,
 * 8bit or binary, as RFC 2046 §5.2.1 requires of it (an encoded one is not a readable message).
 * As Postfix's header_size_limit, a table sees at most `headerSizeLimit` octets (102,400 by default)
 * of a logical header; the message itself is not cut.
 * Boundary lines go to body_checks too, as in Postfix, but an IGNORE never removes one.
 *
 * Unlike Postfix, a message's inspection is bounded as a whole, not only per part: body_checks
 * matches at most MAX_BODY_LOOKUPS lines (boundaries included) and BODY_PARTS_INSPECTED parts' worth
 * of octets, the header tables at most MAX_HEADER_LOOKUPS logical headers. Without these, 100,000
 * parts of one line (1 MB) cost 0.4 s of matching, and a hundred base64 attachments 1 s, where a 20 MB
 * message of one part costs 10 ms: the per-part limit restarts with every part. Past a bound the rest
 * is kept as it is, unmatched by that kind of table, and a `skipped` finding says where it stopped.
 */

import type { Finding } from '../../authentication/results.ts';
import { parseHeaderValue } from '../../mime/entity.ts';
import { matchTable, type TableMatch } from './match-table.ts';
import type { RuleTable } from './rule-file.ts';

export type ContentCheck = 'header_checks' | 'mime_header_checks' | 'nested_header_checks' | 'body_checks';

export interface ContentRules {
  header?: RuleTable;
  /** Postfix's default for mime_header_checks is $header_checks; so is ours when absent. */
  mime?: RuleTable;
  /** The headers of attached messages; $header_checks when absent, as Postfix's default. */
  nested?: RuleTable;
  body?: RuleTable;
  /** Postfix body_checks_size_limit: octets of each body part inspected; 51,200 when absent. */
  bodySizeLimit?: number;
  /** Postfix header_size_limit: octets of a logical header a table sees; 102,400 when absent. */
  headerSizeLimit?: number;
  /** Body lines given to body_checks per message; MAX_BODY_LOOKUPS when absent. */
  maxBodyLookups?: number;
  /** Logical headers given to the header tables per message; MAX_HEADER_LOOKUPS when absent. */
  maxHeaderLookups?: number;
}

/** Postfix's default body_checks_size_limit. */
export const BODY_CHECKS_SIZE_LIMIT = 51_200;
/** Postfix's default header_size_limit. */
export const HEADER_SIZE_LIMIT = 102_400;
/** Body and boundary lines matched by body_checks per message (a 51,200-octet part has about 700). */
export const MAX_BODY_LOOKUPS = 50_000;
/** Logical headers matched per message, all header tables together: the top level has at most 1,000. */
export const MAX_HEADER_LOOKUPS = 10_000;
/** body_checks reads at most this many times bodySizeLimit octets of a message, all parts together. */
export const BODY_PARTS_INSPECTED = 20;

export type ContentVerdict =
  | { action: 'accept' }
  | { action: 'hold' | 'discard' | 'reject'; text: string; because: Finding };

export interface ContentInspection {
  verdict: ContentVerdict;
  findings: Finding[]; // every action taken, in message order
  prepended: string[]; // lines PREPENDed, in order
  redirect?: string; // the last REDIRECT wins
  message?: Buffer; // the changed message, when a line was IGNOREd or PREPENDed
}

// header_checks(5): MIME related headers go to mime_header_checks (Postfix's HDR_OPT_MIME set,
// header_opts.c); so does every header of a body part (its MIME_HDR_MULTIPART class).
const MIME_HEADERS = new Set([
  'content-id',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'content-description',
  'mime-version',
]);
const MAX_NESTING = 100; // Postfix mime_nesting_limit default
/** Body parts whose headers and lines are matched; the MIME parser (src/mime) stops at as many. */
export const MAX_PARTS = 1000;
/** A line that may be a delimiter, after the line end of the one before it (RFC 2046 §5.1.1). */
const DELIMITER_START = Buffer.from('\n--');
const STRENGTH = { accept: 0, hold: 1, discard: 2, reject: 3 } as const;
// header_checks(5): defaults when REJECT etc. have no text.
const DEFAULT_TEXT: Record<string, string> = { REJECT: 'message content rejected' };

interface Line {
  start: number;
  end: number; // content end, before CR LF
  next: number; // after the line end
}

export function inspectMessage(message: Uint8Array, rules: ContentRules): ContentInspection {
  const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const out: Buffer[] = [];
  const result: ContentInspection = { verdict: { action: 'accept' }, findings: [], prepended: [] };
  let changed = false;
  let stopped = false; // after REJECT or DISCARD nothing more matters
  const bodyLookups = rules.maxBodyLookups ?? MAX_BODY_LOOKUPS;
  const headerLookups = rules.maxHeaderLookups ?? MAX_HEADER_LOOKUPS;
  const budget = {
    body: { left: bodyLookups, skipped: false, tables: 'body_checks', units: `${bodyLookups} lines` },
    header: { left: headerLookups, skipped: false, tables: 'the header tables', units: `${headerLookups} headers` },
  };
  /** Matching of one kind ends for the rest of the message: one finding says so; the message is kept. */
  const skip = (check: ContentCheck, why?: string) => {
    const kind = budget[check === 'body_checks' ? 'body' : 'header'];
    if (kind.skipped) return;
    kind.skipped = true;
    const reason = `${kind.tables} stopped after ${why ?? kind.units}, the limit per message`;
    result.findings.push({ check, result: 'skipped', reason });
  };

  /** Applies one table to one unit (a logical header or a body line); returns whether to keep it. */
  const apply = (check: ContentCheck, table: RuleTable | undefined, input: string): boolean => {
    if (!table || stopped) return true;
    const kind = budget[check === 'body_checks' ? 'body' : 'header'];
    if (kind.skipped) return true;
    if (--kind.left < 0) {
      skip(check);
      return true;
    }
    const hit = matchTable(table, input);
    if (!hit) return true;
    return act(check, hit, input);
  };

  const act = (check: ContentCheck, hit: TableMatch, input: string): boolean => {
    const { verb } = hit.action;
    if (verb === 'DUNNO' || verb === 'OK') return true;
    const text = hit.action.text || DEFAULT_TEXT[verb] || '';
    const shown = input.length > 100 ? `${input.slice(0, 100)}…` : input;
    const finding: Finding = {
      check,
      result: verb.toLowerCase(),
      reason: `${hit.file}:${hit.line}: ${JSON.stringify(shown)}${text ? `: ${text}` : ''}`,
    };
    result.findings.push(finding);
    switch (verb) {
      case 'REJECT':
      case 'DISCARD':
      case 'HOLD': {
        const action = verb === 'REJECT' ? 'reject' : verb === 'DISCARD' ? 'discard' : 'hold';
        if (STRENGTH[action] > STRENGTH[result.verdict.action]) result.verdict = { action, text, because: finding };
        if (action !== 'hold') stopped = true;
        return true;
      }
      case 'WARN':
        return true;
      case 'REDIRECT':
        result.redirect = text;
        return true;
      case 'PREPEND': {
        const line = text.replace(/[\r\n]+/g, ' '); // a $n from a folded header must not inject lines
        result.prepended.push(line);
        flush();
        out.push(Buffer.from(`${foldedLine(line)}\r\n`, 'utf8'));
        changed = true;
        return true;
      }
      case 'IGNORE':
        changed = true;
        return false;
      default:
        return verb satisfies never;
    }
  };

  // Kept bytes as runs of the message, not a view per line: 300,000 views of one-line parts were a
  // third of the inspection's time, and most messages are kept whole.
  let run = { from: 0, to: 0 };
  const flush = () => {
    if (run.to > run.from) out.push(buf.subarray(run.from, run.to));
    run = { from: 0, to: 0 };
  };
  const emit = (from: number, to: number) => {
    if (run.to === from && run.to > run.from) run.to = to;
    else {
      flush();
      run = { from, to };
    }
  };
  const lineText = (l: Line) => buf.toString('utf8', l.start, l.end);

  const headerLimit = rules.headerSizeLimit ?? HEADER_SIZE_LIMIT;
  /** A logical header as the tables see it: at most headerLimit octets of it. */
  const logicalHeader = (group: Line[]): string => {
    const first = group[0] as Line;
    const last = group[group.length - 1] as Line;
    if (last.end - first.start <= headerLimit) return group.map(lineText).join('\n');
    const cut = first.start + headerLimit;
    return group
      .filter((l) => l.start < cut)
      .map((l) => buf.toString('utf8', l.start, Math.min(l.end, cut)))
      .join('\n');
  };

  const boundaries: string[] = [];
  // The walk goes by byte offset, one line read at a time: a message of ten million short lines made
  // an array of ten million line objects first (700 MB and 1.6 s for 20 MB of empty lines).
  let pos = 0;
  let nestedMessages = 0;
  let parts = 0;
  /**
   * A header section: the message's (`top`), a body part's (`part`) or an attached message's
   * (`nested`). Returns whether its body is an attached message, whose header section comes next.
   */
  const headers = (section: 'top' | 'part' | 'nested'): boolean => {
    let contentType: string | undefined;
    let encoding: string | undefined;
    while (pos < buf.length) {
      const first = lineAt(buf, pos);
      if (first.end === first.start) {
        emit(first.start, first.next); // the empty line ends the header (RFC 5322 §2.1)
        pos = first.next;
        break;
      }
      const name = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/.exec(lineText(first))?.[1];
      if (name === undefined) break; // not a header field: the body starts here, as in Postfix
      // Its folded lines; those past headerLimit octets are passed over, not kept (the table sees no more).
      const group = [first];
      let last = first;
      for (let next = lineAt(buf, first.next); next.start < buf.length && isContinuation(buf, next); ) {
        if (next.start - first.start < headerLimit) group.push(next);
        last = next;
        next = lineAt(buf, next.next);
      }
      const logical = logicalHeader(group);
      const lower = name.toLowerCase();
      const mime = MIME_HEADERS.has(lower);
      if (lower === 'content-type') contentType = logical;
      if (lower === 'content-transfer-encoding') encoding = logical;
      let keep = true;
      if (mime || section === 'part') keep = apply('mime_header_checks', rules.mime ?? rules.header, logical);
      else if (section === 'top') keep = apply('header_checks', rules.header, logical);
      else if (section === 'nested') keep = apply('nested_header_checks', rules.nested ?? rules.header, logical);
      if (keep) emit(first.start, last.next);
      pos = last.next;
    }
    const boundary = contentType && multipartBoundary(contentType);
    if (boundary && boundaries.length < MAX_NESTING) boundaries.push(boundary);
    return contentType !== undefined && attachedMessage(contentType, encoding) && ++nestedMessages <= MAX_NESTING;
  };
  /** A header section, then the header of each message attached inside it. */
  const sections = (first: 'top' | 'part'): void => {
    if (!headers(first)) return;
    while (headers('nested'));
  };

  const bodyLimit = rules.bodySizeLimit ?? BODY_CHECKS_SIZE_LIMIT;
  let inspected = 0; // octets of this body part given to body_checks
  const messageBodyLimit = bodyLimit * BODY_PARTS_INSPECTED;
  let inspectedInAll = 0; // octets of all body parts given to body_checks
  sections('top');
  while (pos < buf.length) {
    if (stopped) break; // REJECT or DISCARD: the rest is not read
    const bodyOff = !rules.body || budget.body.skipped || inspected >= bodyLimit || inspectedInAll >= messageBodyLimit;
    if (bodyOff && !(buf[pos] === 0x2d && buf[pos + 1] === 0x2d)) {
      // No body line is matched before the next part: only a delimiter matters, and it starts a line
      // with "--". Without a multipart there is none: the rest goes as it is.
      if (rules.body && inspected < bodyLimit && inspectedInAll >= messageBodyLimit) {
        skip('body_checks', `${messageBodyLimit} octets of body`); // this part would have been read
      }
      const dashes = boundaries.length > 0 ? buf.indexOf(DELIMITER_START, pos) : -1;
      const to = dashes < 0 ? buf.length : dashes + 1; // the line that starts with "--"
      inspected += to - pos;
      emit(pos, to);
      pos = to;
      continue;
    }
    const line = lineAt(buf, pos);
    const dashes = buf[line.start] === 0x2d && buf[line.start + 1] === 0x2d; // RFC 2046 §5.1.1: "--" first
    const delimiter = dashes && boundaries.length > 0 ? matchDelimiter(lineText(line), boundaries) : undefined;
    if (delimiter) {
      // RFC 2046 §5.1.2: an outer boundary also ends the inner multiparts.
      boundaries.length = delimiter.close ? delimiter.depth : delimiter.depth + 1;
      // header_checks(5): body_checks sees "all other content, including multi-part message
      // boundaries". Unlike Postfix an IGNORE keeps a boundary: without it the message is no MIME.
      apply('body_checks', rules.body, lineText(line));
      emit(line.start, line.next);
      pos = line.next;
      if (!delimiter.close && ++parts > MAX_PARTS) {
        // As the MIME parser stops at its part limit: the rest is kept as it is, matched by no table.
        const why = `${MAX_PARTS} body parts`;
        if (rules.body) skip('body_checks', why);
        if (rules.header || rules.mime) skip('mime_header_checks', why);
        emit(pos, buf.length);
        pos = buf.length;
        break;
      }
      if (!delimiter.close) sections('part');
      inspected = 0;
      continue;
    }
    let inspect = inspected < bodyLimit;
    if (inspect && rules.body && inspectedInAll >= messageBodyLimit) {
      skip('body_checks', `${messageBodyLimit} octets of body`);
      inspect = false;
    }
    inspected += line.next - line.start;
    if (inspect) inspectedInAll += line.next - line.start;
    if (!inspect || apply('body_checks', rules.body, lineText(line))) emit(line.start, line.next);
    pos = line.next;
  }
  if (pos < buf.length) emit(pos, buf.length); // after a REJECT or DISCARD: kept, though unread
  flush();
  if (changed) result.message = Buffer.concat(out);
  return result;
}

/** The line that starts at `start`: its content end (before CR LF) and where the next one starts. */
function lineAt(buf: Buffer, start: number): Line {
  const lf = buf.indexOf(0x0a, start);
  const next = lf < 0 ? buf.length : lf + 1;
  let end = lf < 0 ? buf.length : lf;
  if (end > start && buf[end - 1] === 0x0d) end--;
  return { start, end, next };
}

function isContinuation(buf: Buffer, line: Line): boolean {
  const c = buf[line.start];
  return line.end > line.start && (c === 0x20 || c === 0x09); // RFC 5322 §2.2.3
}

// RFC 2045 §5.1: boundary is a parameter of multipart/*, a token or a quoted-string.
function multipartBoundary(header: string): string | undefined {
  // Read as the MIME parser reads it (comments too, RFC 2045 §5.1): the tables see the parts the
  // filters and mail programs see.
  const { value, params } = parseHeaderValue(header.slice(header.indexOf(':') + 1).replace(/\n/g, ''));
  if (!value.startsWith('multipart/')) return undefined;
  const b = params.boundary;
  return b && b.length <= 70 ? b : undefined; // RFC 2046 §5.1.1: 1 to 70 characters
}

/**
 * RFC 2046 §5.2.1 message/rfc822 (and RFC 6532 §3.7 message/global): the body is a message, when it
 * is sent as one; a base64 or quoted-printable one is not read as a message, as Postfix does not.
 */
function attachedMessage(contentType: string, encoding: string | undefined): boolean {
  const type = contentType.slice(contentType.indexOf(':') + 1).replace(/\n/g, '');
  if (!/^\s*message\/(rfc822|global)\s*(;|$)/i.test(type)) return false;
  if (encoding === undefined) return true;
  return /^\s*(7bit|8bit|binary)\s*$/i.test(encoding.slice(encoding.indexOf(':') + 1).replace(/\n/g, ''));
}

// RFC 2046 §5.1.1: "--" boundary, or "--" boundary "--" for the close; trailing whitespace allowed.
function matchDelimiter(line: string, boundaries: string[]): { depth: number; close: boolean } | undefined {
  if (!line.startsWith('--')) return undefined;
  const rest = line.slice(2).replace(/[ \t]+$/, '');
  for (let d = boundaries.length - 1; d >= 0; d--) {
    const b = boundaries[d] as string;
    if (rest === b) return { depth: d, close: false };
    if (rest === `${b}--`) return { depth: d, close: true };
  }
  return undefined;
}

/** RFC 5322 §2.1.1: a line is at most 998 octets, CRLF excluded. */
const MAX_LINE_OCTETS = 998;

/**
 * A PREPEND line folded (RFC 5322 §2.2.3: CRLF before white space) so that no line passes 998 octets:
 * `PREPEND X-Old-Subject: $1` copies a field that may itself be 998 octets long. A stretch with no
 * white space to fold at is cut at a character boundary with a fold and a space of our own.
 */
function foldedLine(line: string): string {
  if (Buffer.byteLength(line) <= MAX_LINE_OCTETS) return line;
  const lines: string[] = [];
  let rest = line;
  while (Buffer.byteLength(rest) > MAX_LINE_OCTETS) {
    // The longest prefix within the limit, never splitting a UTF-16 surrogate pair.
    let end = 0;
    let octets = 0;
    for (const char of rest) {
      const size = Buffer.byteLength(char);
      if (octets + size > MAX_LINE_OCTETS) break;
      octets += size;
      end += char.length;
    }
    const space = Math.max(rest.lastIndexOf(' ', end), rest.lastIndexOf('\t', end));
    // A fold at the very start would leave an empty line, which ends the header section.
    const cut = space > 0 && /[^ \t]/.test(rest.slice(0, space)) ? space : end;
    lines.push(rest.slice(0, cut));
    rest = cut === space ? rest.slice(cut) : ` ${rest.slice(cut)}`;
  }
  lines.push(rest);
  return lines.join('\r\n');
}
