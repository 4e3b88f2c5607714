/**
 * Postfix built-in content inspection, header_checks(5), over a whole message: header_checks on each
 * logical header of the top-level header; mime_header_checks on the MIME headers (Content-Type,
 * Content-Transfer-Encoding, Content-Disposition, Content-Description, Content-ID, Mime-Version) of
 * the top-level header and on every header of a multipart body part, whatever its name (boundaries
 * per RFC 2046 §5.1.1), as Postfix's cleanup does; body_checks on each
 * body line. As in Postfix, body lines are inspected as they are on the wire: base64 and
 * quoted-printable are not decoded, and neither are RFC 2047 words or RFC 2231 parameters in a
 * header. A logical header is matched as one string with "\n" between
 * its folded lines (CR removed); a body line without its line end. The first matching rule of a
 * table wins for a line (regexp_table(5)).
 *
 * The MIME structure is read so that no part a reader shows escapes the tables: the delimiters of
 * every boundary an entity's Content-Type fields declare end its parts (Postfix pushes each boundary
 * it sees, mime_state.c), while the first Content-Type decides whether the body is an attached
 * message, as Postern's MIME parser (src/mime/message.ts) and mail readers take the first. A line
 * in a header section that is not a field does not hide the fields below it when the parser reads
 * them (entityHeader): they go to the header tables, and every line from there to the empty line to
 * body_checks too, as Postfix reads them.
 *
 * As Postfix's body_checks_size_limit, only the first `bodySizeLimit` octets (51,200 by default) of each
 * body part are given to body_checks: huge attachments are not scanned line by line.
 *
 * nested_header_checks applies to the non-MIME headers of an attached message: the body of a
 * message/rfc822 or message/global part (RFC 2046 §5.2.1, RFC 6532 §3.7), or of a part of a
 * multipart/digest without Content-Type (RFC 2046 §5.1.5), whose encoding is 7bit,
 * 8bit or binary, as RFC 2046 §5.2.1 requires of it (an encoded one is not a readable message).
 * As Postfix's header_size_limit, a table sees at most `headerSizeLimit` octets (102,400 by default)
 * of a logical header; the message itself is not cut.
 * Boundary lines go to body_checks too, as in Postfix, but an IGNORE never removes one.
 *
 * Unlike Postfix, a message's inspection is bounded as a whole, not only per part: body_checks
 * matches at most MAX_BODY_LOOKUPS lines (boundaries included) and BODY_PARTS_INSPECTED parts' worth
 * of octets, the header tables at most MAX_HEADER_LOOKUPS logical headers and MAX_HEADER_OCTETS
 * octets of them. Without these, 100,000 parts of one line (1 MB) cost 0.4 s of matching, a hundred
 * base64 attachments 1 s, and 240 parts each with one 100 KB header 2 s for one unanchored rule, where
 * a 20 MB message of one part costs 10 ms: the per-part and per-header limits restart with every part
 * and header. Past a bound the rest is kept as it is, unmatched by that kind of table, and a
 * `skipped` finding says where it stopped.
 *
 * Those bound the text, not the matching: its cost is the text times the rules run on it, and 200
 * ordinary rules over a 1.3 MB message took 13–24 s of the one thread every connection shares. So
 * a rule is run on a unit only when the unit holds one of the literal texts every match of the rule
 * must contain (pattern.ts `required`); the matching yields to the event loop every MATCH_SLICE of
 * work (inspectMessage), so a message's matching never holds up the other sessions for long; and a
 * message's matching is bounded by MAX_MATCH_WORK, all rules and tables together (match-table.ts),
 * set high enough for ordinary rule sets never to reach it: past it all matching stops, as past the
 * bounds above, and the finding names the first rule that did not run. A body line longer than what is left of its part's bodySizeLimit is matched only
 * up to it (or its first 998 octets): the limit was read at line starts only, and a 10 MB line took
 * minutes.
 */

import type { Finding } from '../../authentication/results.ts';
import { parseHeaderValue } from '../../mime/entity.ts';
import { HEADER_LIMITS } from '../../mime/header-section.ts';
import { isHeaderField, redirectTarget } from './action.ts';
import { type MatchWork, matchTableSteps, type TableMatch } from './match-table.ts';
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
  /** Octets of logical headers given to the header tables per message; MAX_HEADER_OCTETS when absent. */
  maxHeaderOctets?: number;
  /** Matching work per message, all rules together; MAX_MATCH_WORK when absent. */
  maxMatchWork?: number;
}

/** Postfix's default body_checks_size_limit. */
export const BODY_CHECKS_SIZE_LIMIT = 51_200;
/** Postfix's default header_size_limit. */
export const HEADER_SIZE_LIMIT = 102_400;
/** Body and boundary lines matched by body_checks per message (a 51,200-octet part has about 700). */
export const MAX_BODY_LOOKUPS = 50_000;
/** Logical headers matched per message, all header tables together: the top level has at most 1,000. */
export const MAX_HEADER_LOOKUPS = 10_000;
/**
 * Octets of logical headers matched per message, all header tables together: four times the largest
 * top-level header section a message may carry (HEADER_LIMITS, 256 KiB), where real mail's headers,
 * its parts' and attached messages' included, come to some tens of KB. It bounds the matching as the
 * body's bound does: per header only headerSizeLimit applies, and that restarts with every header.
 */
export const MAX_HEADER_OCTETS = 4 * HEADER_LIMITS.bytes;
/** body_checks reads at most this many times bodySizeLimit octets of a message, all parts together. */
export const BODY_PARTS_INSPECTED = 20;
/**
 * Matching work per message, all tables together: each run of a rule counts its input plus
 * RUN_CHARGE, each literal text the prefilter looks for one plus its input over SCAN_RATIO
 * (match-table.ts). It is spent by the rules that have no literal text and those whose text a unit
 * holds: it pays for 9 such rules over all the body body_checks reads (BODY_PARTS_INSPECTED × 51,200
 * octets), or 90 over a message of 100 KB, which ordinary rule sets do not reach. RE2 (re2js) took
 * 1–850 ms per million characters here, by pattern and text, 150–350 ms for most rules without
 * literal text: a message that spends it all costs 1.5–3.5 s of CPU (8.5 s at worst), in slices of
 * MATCH_SLICE between which the other sessions are served.
 */
export const MAX_MATCH_WORK = 10_000_000;
/**
 * Matching work between two yields to the event loop (inspectMessage): 8–18 ms of RE2 for most
 * rules, 43 ms at worst, which is how long another session waits for a greeting or a reply. One
 * rule's run is not cut: a header of headerSizeLimit (102,400) characters is one run.
 */
export const MATCH_SLICE = 50_000;

export type ContentVerdict =
  | { action: 'accept' }
  | { action: 'hold' | 'discard' | 'reject'; text: string; because: Finding };

/**
 * An action taken, and the rule that took it as `file:line` (absent on a `skipped` finding, which no
 * rule took): one rule's actions are counted under that name (`postern stats`).
 */
export interface RuleFinding extends Finding {
  rule?: string;
}

export interface ContentInspection {
  verdict: ContentVerdict;
  findings: RuleFinding[]; // every action taken, in message order
  prepended: string[]; // lines PREPENDed, in order
  redirect?: string; // the last REDIRECT wins
  message?: Buffer; // the changed message, when a line was IGNOREd or PREPENDed
  /** Matching work, all rules together (MAX_MATCH_WORK says how it is counted): the matching's cost. */
  work: number;
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
/**
 * Postfix mime_boundary_length_limit. RFC 2046 §5.1.1 allows 70 characters, but the MIME parser and
 * readers split on longer ones; an SMTP line (998 octets, RFC 5321 §4.5.3.1.6) holds no longer one.
 */
const MAX_BOUNDARY = 2048;
/** Content-Type fields of one entity whose boundaries are read: the first ones and the last. */
const MAX_DECLARED_TYPES = 8;
/** A line that may be a delimiter, after the line end of the one before it (RFC 2046 §5.1.1). */
const DELIMITER_START = Buffer.from('\n--');
const STRENGTH = { accept: 0, hold: 1, discard: 2, reject: 3 } as const;
// header_checks(5): defaults when REJECT etc. have no text.
const DEFAULT_TEXT: Record<string, string> = { REJECT: 'message content rejected' };

/** A step of the inspection: yields when a slice of matching is done, returns T. */
type Steps<T> = Generator<void, T, void>;

interface Line {
  start: number;
  end: number; // content end, before CR LF
  next: number; // after the line end
}

/** A boundary a multipart entity declares; in a digest a part without Content-Type is a message (RFC 2046 §5.1.5). */
interface Boundary {
  boundary: string;
  digest: boolean;
}

/**
 * The inspection, sharing the thread: the matching stops every MATCH_SLICE characters of work for
 * the event loop to serve the other sessions (setImmediate), then goes on.
 */
export async function inspectMessage(message: Uint8Array, rules: ContentRules): Promise<ContentInspection> {
  const steps = inspection(message, rules, MATCH_SLICE);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The inspection at once, holding the thread to its end: for tools and tests. */
export function inspectMessageSync(message: Uint8Array, rules: ContentRules): ContentInspection {
  const steps = inspection(message, rules, undefined);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** The inspection as a generator that yields each `slice` characters of matching work. */
function* inspection(
  message: Uint8Array,
  rules: ContentRules,
  slice: number | undefined,
): Generator<void, ContentInspection, void> {
  const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const out: Buffer[] = [];
  const result: ContentInspection = { verdict: { action: 'accept' }, findings: [], prepended: [], work: 0 };
  const work: MatchWork = { used: 0, limit: rules.maxMatchWork ?? MAX_MATCH_WORK, spent: false };
  if (slice !== undefined) {
    work.slice = slice;
    work.pauseAt = slice;
  }
  let changed = false;
  let stopped = false; // after REJECT or DISCARD nothing more matters
  const bodyLookups = rules.maxBodyLookups ?? MAX_BODY_LOOKUPS;
  const headerLookups = rules.maxHeaderLookups ?? MAX_HEADER_LOOKUPS;
  const headerOctets = rules.maxHeaderOctets ?? MAX_HEADER_OCTETS;
  let headerOctetsLeft = headerOctets;
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

  /**
   * Applies one table to one unit (a logical header or a body line); returns whether to keep it.
   * `octets`: of a logical header, as much of it as the table sees.
   */
  function* apply(check: ContentCheck, table: RuleTable | undefined, input: string, octets = 0): Steps<boolean> {
    if (!table || stopped) return true;
    const kind = budget[check === 'body_checks' ? 'body' : 'header'];
    if (kind.skipped) return true;
    if (--kind.left < 0) {
      skip(check);
      return true;
    }
    if (check !== 'body_checks') {
      if (headerOctetsLeft <= 0) {
        skip(check, `${headerOctets} octets of headers`);
        return true;
      }
      headerOctetsLeft -= octets;
    }
    const hit = yield* matchTableSteps(table, input, work);
    if (work.spent) {
      // All matching ends here, the header tables' and body_checks' alike: one finding says so.
      result.findings.push({
        check,
        result: 'skipped',
        reason:
          `content rules stopped after ${work.used} of ${work.limit} characters of matching, the limit per message: ` +
          `${work.stoppedAt} and the rules after it did not run`,
      });
      budget.body.skipped = true;
      budget.header.skipped = true;
      return true;
    }
    if (!hit) return true;
    return act(check, hit, input);
  }

  /** A REDIRECT or PREPEND whose $n result cannot be carried out: logged as ignored, the message kept as it is. */
  const refuse = (finding: Finding, why: string) => {
    finding.result = `${finding.result} ignored`;
    finding.reason += ` (${why})`;
  };

  const act = (check: ContentCheck, hit: TableMatch, input: string): boolean => {
    const { verb } = hit.action;
    if (verb === 'DUNNO' || verb === 'OK') return true;
    const text = hit.action.text || DEFAULT_TEXT[verb] || '';
    const shown = input.length > 100 ? `${input.slice(0, 100)}…` : input;
    const finding: RuleFinding = {
      check,
      result: verb.toLowerCase(),
      reason: `${hit.file}:${hit.line}: ${JSON.stringify(shown)}${text ? `: ${text}` : ''}`,
      rule: `${hit.file}:${hit.line}`,
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
      case 'REDIRECT': {
        // A $n result is the sender's text: one RFC 5321 §4.1.2 Mailbox, or nothing (a folded header's
        // line break, a list, a display name would be queued as a recipient).
        const target = redirectTarget(text);
        if (target === undefined) refuse(finding, 'not an address (user@domain)');
        else result.redirect = target;
        return true;
      }
      case 'PREPEND': {
        const line = text.replace(/[\r\n]+/g, ' '); // a $n from a folded header must not inject lines
        // RFC 5322 §2.2: in a header section only a field (name ":" value); an empty line would end
        // the section there and make the rest body.
        if (check !== 'body_checks' && !isHeaderField(line)) {
          refuse(finding, 'not a header field (headername: headervalue)');
          return true;
        }
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

  const bodyLimit = rules.bodySizeLimit ?? BODY_CHECKS_SIZE_LIMIT;
  let inspected = 0; // octets of this body part given to body_checks
  const messageBodyLimit = bodyLimit * BODY_PARTS_INSPECTED;
  let inspectedInAll = 0; // octets of all body parts given to body_checks
  /** Gives one body line to body_checks, within the part's and the message's octets; returns whether to keep it. */
  function* bodyLine(line: Line): Steps<boolean> {
    let inspect = inspected < bodyLimit;
    if (inspect && rules.body && inspectedInAll >= messageBodyLimit) {
      skip('body_checks', `${messageBodyLimit} octets of body`);
      inspect = false;
    }
    // A line is matched only up to the part's limit (a line of 998 octets, RFC 5322 §2.1.1, whole, as Postfix
    // matches a record that starts within it): the limit, read at line starts only, let one 10 MB line
    // through whole.
    const cut = Math.min(line.end, line.start + Math.max(bodyLimit - inspected, MAX_LINE_OCTETS));
    inspected += line.next - line.start;
    if (inspect) inspectedInAll += line.next - line.start;
    return !inspect || !rules.body || (yield* apply('body_checks', rules.body, buf.toString('utf8', line.start, cut)));
  }

  /** The boundaries of the multiparts the walk is in, outermost first; each entity may declare several. */
  const levels: Boundary[][] = [];
  const isDelimiter = (line: Line): boolean =>
    buf[line.start] === 0x2d &&
    buf[line.start + 1] === 0x2d &&
    levels.length > 0 &&
    matchDelimiter(lineText(line), levels) !== undefined;
  // The walk goes by byte offset, one line read at a time: a message of ten million short lines made
  // an array of ten million line objects first (700 MB and 1.6 s for 20 MB of empty lines).
  let pos = 0;
  let nestedMessages = 0;
  let parts = 0;
  /**
   * A header section: the message's (`top`), a body part's (`part`, `digest` in a multipart/digest) or
   * an attached message's (`nested`). Returns whether its body is an attached message, whose header
   * section comes next.
   */
  function* headers(section: 'top' | 'part' | 'nested', digest = false): Steps<boolean> {
    const sectionStart = pos;
    const seen = { type: false, disposition: false, encoding: false };
    let firstType: string | undefined; // the first counts, as in the MIME parser and readers
    let lastType: string | undefined; // past MAX_DECLARED_TYPES - 1 of them, read at the end
    let typesRead = 0;
    let encoding: string | undefined;
    let multipart = false; // the first Content-Type is a multipart's
    const declared: Boundary[] = [];
    const declare = (type: string) => {
      const found = multipartBoundary(type);
      if (found && !declared.some((d) => d.boundary === found.boundary)) declared.push(found);
      return found !== undefined;
    };
    // Its own boundaries count as soon as they are read: a delimiter may follow its fields at once.
    const nestable = levels.length < MAX_NESTING;
    if (nestable) levels.push(declared);
    let fields = 0; // lines that start a field or are not one, against HEADER_LIMITS as the parser counts
    let below = false; // past a line that is not a field, reading the fields under it (readsBelow)
    while (pos < buf.length) {
      const first = lineAt(buf, pos);
      if (first.end === first.start) {
        // The empty line ends the header (RFC 5322 §2.1); to Postfix's reading it is a body line.
        if (!below || (yield* bodyLine(first))) emit(first.start, first.next);
        pos = first.next;
        break;
      }
      if (isDelimiter(first)) break; // RFC 2046 §5.1.1: the part ends here, with no body
      const continuation = isContinuation(buf, first);
      if (!continuation) fields++;
      // A byte order mark before the first field is not part of its name, as the MIME parser reads it.
      const head = pos === sectionStart && hasByteOrderMark(buf, pos) ? { ...first, start: first.start + 3 } : first;
      const name = continuation ? undefined : /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/.exec(lineText(head))?.[1];
      if (name === undefined) {
        // Not a header field: Postfix's body starts here. Postern's MIME parser and readers such as
        // Thunderbird read the fields up to the empty line too, when the parser does (readsBelow).
        const top = section === 'top';
        if (!below && ((multipart && !top) || !readsBelow(first, sectionStart, fields, top ? undefined : seen))) break;
        below = true;
        if (yield* bodyLine(first)) emit(first.start, first.next);
        pos = first.next;
        continue;
      }
      // Its folded lines; those past headerLimit octets are passed over, not kept (the table sees no more).
      const group = [head];
      let last = first;
      for (let next = lineAt(buf, first.next); next.start < buf.length && isContinuation(buf, next); ) {
        if (next.start - head.start < headerLimit) group.push(next);
        last = next;
        next = lineAt(buf, next.next);
      }
      const lower = name.toLowerCase();
      const mime = MIME_HEADERS.has(lower);
      const check: ContentCheck =
        mime || section === 'part'
          ? 'mime_header_checks'
          : section === 'top'
            ? 'header_checks'
            : 'nested_header_checks';
      const table =
        check === 'mime_header_checks'
          ? (rules.mime ?? rules.header)
          : check === 'header_checks'
            ? rules.header
            : (rules.nested ?? rules.header);
      const read = lower === 'content-type' || lower === 'content-transfer-encoding';
      // Past the budgets a header is not even joined, unless the walk needs it.
      const matched = table !== undefined && !stopped && !budget.header.skipped;
      const logical = matched || read ? logicalHeader(group) : '';
      if (lower === 'content-type') {
        seen.type = true;
        if (firstType === undefined) {
          firstType = logical;
          multipart = declare(logical);
          typesRead++;
        } else if (typesRead < MAX_DECLARED_TYPES - 1) {
          declare(logical);
          typesRead++;
        } else {
          lastType = logical;
        }
      }
      if (lower === 'content-transfer-encoding') {
        seen.encoding = true;
        encoding ??= logical;
      }
      if (lower === 'content-disposition') seen.disposition = true;
      const octets = Math.min(last.end, head.start + headerLimit) - head.start;
      const keep = matched ? yield* apply(check, table, logical, octets) : true;
      if (!below) {
        if (keep) emit(first.start, last.next);
      } else {
        // Under a line that is not a field, each line is also a body line, as Postfix reads it.
        for (let line = first; line.start < last.next; line = lineAt(buf, line.next)) {
          if ((yield* bodyLine(line)) && keep) emit(line.start, line.next);
        }
      }
      pos = last.next;
    }
    if (lastType !== undefined) declare(lastType);
    if (nestable && declared.length === 0) levels.pop();
    // RFC 2046 §5.1.5: in a digest, a part without Content-Type is a message/rfc822.
    const type = firstType ?? (digest ? 'Content-Type: message/rfc822' : undefined);
    return type !== undefined && attachedMessage(type, encoding) && ++nestedMessages <= MAX_NESTING;
  }

  /**
   * After a line that is not a field (at `stray`), whether Postern's MIME parser also reads the fields
   * below it: of the top-level header, every field up to the empty line (parseMessageSync); of a part
   * or an attached message (`seen`: the Content-* fields above), when an empty line ends the section,
   * or when the section runs to the part's end and names a Content-Type, Content-Disposition or
   * Content-Transfer-Encoding the fields above it did not (walk in src/mime/message.ts). Either way
   * only within HEADER_LIMITS, as entityHeader (src/mime/entity.ts) reads. One pass, to the part's end.
   */
  const readsBelow = (
    stray: Line,
    sectionStart: number,
    fields: number,
    seen: { type: boolean; disposition: boolean; encoding: boolean } | undefined,
  ): boolean => {
    let named = seen === undefined;
    let count = fields;
    // By offsets, without a Line a line: a part may hold a hundred thousand continuation lines here.
    for (let at = stray.start; at < buf.length; ) {
      const first = buf[at];
      if (first === 0x0a || (first === 0x0d && buf[at + 1] === 0x0a)) return true; // the empty line
      const lf = buf.indexOf(0x0a, at);
      const next = lf < 0 ? buf.length : lf + 1;
      const continuation = first === 0x20 || first === 0x09;
      if (at !== stray.start && !continuation) count++;
      if (next - sectionStart > HEADER_LIMITS.bytes || count > HEADER_LIMITS.fields) return false;
      if (first === 0x2d && buf[at + 1] === 0x2d && isDelimiter(lineAt(buf, at))) return named;
      if (!named && seen && (first === 0x43 || first === 0x63)) {
        const field = /^content-(type|disposition|transfer-encoding)[ \t]*:/i.exec(
          buf.toString('latin1', at, Math.min(next, at + 40)),
        )?.[1];
        const key = field?.toLowerCase() === 'transfer-encoding' ? 'encoding' : field?.toLowerCase();
        if (key === 'type' || key === 'disposition' || key === 'encoding') named = !seen[key];
      }
      at = next;
    }
    return named;
  };

  /** A header section, then the header of each message attached inside it. */
  function* sections(first: 'top' | 'part', digest = false): Steps<void> {
    if (!(yield* headers(first, digest))) return;
    while (yield* headers('nested'));
  }

  yield* sections('top');
  while (pos < buf.length) {
    if (stopped) break; // REJECT or DISCARD: the rest is not read
    const bodyOff = !rules.body || budget.body.skipped || inspected >= bodyLimit || inspectedInAll >= messageBodyLimit;
    if (bodyOff && !(buf[pos] === 0x2d && buf[pos + 1] === 0x2d)) {
      // No body line is matched before the next part: only a delimiter matters, and it starts a line
      // with "--". Without a multipart there is none: the rest goes as it is.
      if (rules.body && inspected < bodyLimit && inspectedInAll >= messageBodyLimit) {
        skip('body_checks', `${messageBodyLimit} octets of body`); // this part would have been read
      }
      const dashes = levels.length > 0 ? buf.indexOf(DELIMITER_START, pos) : -1;
      const to = dashes < 0 ? buf.length : dashes + 1; // the line that starts with "--"
      inspected += to - pos;
      emit(pos, to);
      pos = to;
      continue;
    }
    const line = lineAt(buf, pos);
    const dashes = buf[line.start] === 0x2d && buf[line.start + 1] === 0x2d; // RFC 2046 §5.1.1: "--" first
    const delimiter = dashes && levels.length > 0 ? matchDelimiter(lineText(line), levels) : undefined;
    if (delimiter) {
      // RFC 2046 §5.1.2: an outer boundary also ends the inner multiparts.
      levels.length = delimiter.close ? delimiter.depth : delimiter.depth + 1;
      // header_checks(5): body_checks sees "all other content, including multi-part message
      // boundaries". Unlike Postfix an IGNORE keeps a boundary: without it the message is no MIME.
      // Its trailing white space is unbounded (RFC 2046 §5.1.1 transport padding): matched up to bodyLimit.
      yield* apply(
        'body_checks',
        rules.body,
        buf.toString('utf8', line.start, Math.min(line.end, line.start + bodyLimit)),
      );
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
      inspected = 0;
      if (!delimiter.close) yield* sections('part', delimiter.digest);
      continue;
    }
    if (yield* bodyLine(line)) emit(line.start, line.next);
    pos = line.next;
  }
  if (pos < buf.length) emit(pos, buf.length); // after a REJECT or DISCARD: kept, though unread
  flush();
  if (changed) result.message = Buffer.concat(out);
  result.work = work.used;
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

function hasByteOrderMark(buf: Buffer, at: number): boolean {
  return buf[at] === 0xef && buf[at + 1] === 0xbb && buf[at + 2] === 0xbf;
}

// RFC 2045 §5.1: boundary is a parameter of multipart/*, a token or a quoted-string.
function multipartBoundary(header: string): Boundary | undefined {
  // Read as the MIME parser reads it (comments too, RFC 2045 §5.1): the tables see the parts the
  // filters and mail programs see.
  const { value, params } = parseHeaderValue(header.slice(header.indexOf(':') + 1).replace(/\n/g, ''));
  if (!value.startsWith('multipart/')) return undefined;
  const b = params.boundary;
  if (!b || b.length > MAX_BOUNDARY) return undefined;
  return { boundary: b, digest: value === 'multipart/digest' };
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

/**
 * RFC 2046 §5.1.1: "--" boundary, or "--" boundary "--" for the close; trailing whitespace allowed.
 * The innermost multipart first; within one, any boundary its Content-Type fields declared.
 */
function matchDelimiter(
  line: string,
  levels: Boundary[][],
): { depth: number; close: boolean; digest: boolean } | undefined {
  if (!line.startsWith('--')) return undefined;
  let end = line.length;
  while (end > 2 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  const rest = line.slice(2, end);
  for (let d = levels.length - 1; d >= 0; d--) {
    for (const { boundary, digest } of levels[d] as Boundary[]) {
      if (rest.length === boundary.length && rest === boundary) return { depth: d, close: false, digest };
      if (rest.length === boundary.length + 2 && rest.endsWith('--') && rest.startsWith(boundary)) {
        return { depth: d, close: true, digest };
      }
    }
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
