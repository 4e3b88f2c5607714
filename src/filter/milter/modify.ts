/**
 * Carries out a milter's header and body changes on a message (CRLF), as Sendmail does at eom
 * (libmilter docs: smfi_addheader, smfi_insheader, smfi_chgheader, smfi_replacebody), in the order they
 * came. Envelope changes (chgfrom, addrcpt, delrcpt) are the caller's: they do not touch the content.
 */
import { HEADER_LIMITS, headerSectionExcess } from '../../mime/header-section.ts';
import type { Modification } from './client.ts';
import { MilterProtocolError } from './errors.ts';
import { checkField } from './field-check.ts';

interface Field {
  name: string;
  /** The whole field with its CRLF, folding included. */
  raw: Buffer;
}

/** RFC 5322 §2.1.1: at most 998 octets a line, CRLF excluded. */
const MAX_LINE = 998;

/**
 * A header change refused (the message stays as it was before it), or carried out with lines folded
 * (field-check.ts): for the log, with the milter's name.
 */
export interface HeaderProblem {
  type: 'addheader' | 'insheader' | 'chgheader';
  name: string;
  action: 'refused' | 'folded';
  reason: string;
}

export interface ModifiedMessage {
  content: Buffer;
  problems: HeaderProblem[];
}

/** The message with the changes made; see modifyMessage for the header changes left out. */
export function applyModifications(message: Buffer, modifications: readonly Modification[]): Buffer {
  return modifyMessage(message, modifications).content;
}

/**
 * Throws MilterProtocolError (stage eom), for the caller's default as for any broken milter, when the
 * changes make a message we would not have taken in: a header past HEADER_LIMITS that was within them,
 * or a replacement body with a line over 998 octets.
 */
export function modifyMessage(message: Buffer, modifications: readonly Modification[]): ModifiedMessage {
  const split = splitMessage(message);
  const { body } = split;
  // RFC 5322 §2.2: a header field ends with CRLF. A last one without it (a message of header fields
  // only, without its final line end) is closed first, as tagSubject does: a field added after it was
  // glued onto its value (a line over 998 octets, §2.1.1), and a new body began inside the header, the
  // CRLF written as the blank line (§2.1) only ending that field.
  const last = split.fields.at(-1);
  if (last && last.raw.at(-1) !== LF) last.raw = Buffer.concat([last.raw, last.raw.at(-1) === CR ? LF_ONLY : CRLF]);
  const headerChanges = modifications.filter(
    (m) => m.type === 'addheader' || m.type === 'insheader' || m.type === 'chgheader',
  ).length;
  const fields = new FieldList(split.fields, headerChanges);
  const problems: HeaderProblem[] = [];
  // The field to write, or undefined when its name or value may not enter the message.
  const field = (m: Extract<Modification, { type: HeaderProblem['type'] }>, name: string): Field | undefined => {
    const checked = checkField(name, m.value);
    const problem = { type: m.type, name: m.name };
    if (!checked.ok) {
      problems.push({ ...problem, action: 'refused', reason: checked.reason });
      return undefined;
    }
    if (checked.folded > 0) {
      const lines = checked.folded === 1 ? 'a line' : `${checked.folded} lines`;
      problems.push({ ...problem, action: 'folded', reason: `${lines} not starting with white space` });
    }
    return { name, raw: checked.raw };
  };
  let newBody = body;
  for (const m of modifications) {
    switch (m.type) {
      case 'addheader': {
        const f = field(m, m.name);
        if (f) fields.insert(Number.POSITIVE_INFINITY, f); // at the end of the header
        break;
      }
      case 'insheader': {
        // Index 0 is the top; counted over all fields; past the end means last (smfi_insheader).
        const f = field(m, m.name);
        if (f) fields.insert(m.index, f);
        break;
      }
      case 'chgheader': {
        // The index-th field of that name, 1-based, case-insensitive; an empty value deletes it; an
        // index past the last occurrence adds the field (smfi_chgheader).
        const at = fields.find(m.name, Math.max(m.index, 1));
        if (m.value.trim() === '') {
          if (at) fields.remove(at);
          break;
        }
        const f = field(m, at ? at.field.name : m.name);
        if (f && at) fields.replace(at, f);
        else if (f) fields.insert(Number.POSITIVE_INFINITY, f);
        break;
      }
      case 'replbody':
        newBody = crlfLines(m.body);
        checkLines(newBody); // as SMTP takes a message in (RFC 5321 §4.5.3.1.6)
        break;
      case 'chgfrom':
      case 'addrcpt':
      case 'delrcpt':
        break;
      default:
        return m satisfies never;
    }
  }
  const content = Buffer.concat([...fields.raws(), Buffer.from('\r\n'), newBody]);
  if (headerChanges > 0) {
    const excess = headerSectionExcess(content);
    // A milter may not make a header we refuse to take in (HEADER_LIMITS): every later stage reads it
    // whole. One that came in past them (a limit raised since) is not the milter's doing.
    if (excess && !headerSectionExcess(message)) {
      const { fields: most, bytes } = HEADER_LIMITS;
      const what =
        excess.limit === 'fields'
          ? `more than ${most} fields`
          : excess.limit === 'bytes'
            ? `more than ${bytes} octets`
            : `${excess.value} Received fields (a mail loop)`;
      throw new MilterProtocolError('eom', `header changes made a header of ${what}`);
    }
  }
  return { content, problems };
}

/** RFC 5322 §2.1.1: a line of a message is at most 998 octets, CRLF excluded. `body` is CRLF only (crlfLines). */
function checkLines(body: Buffer): void {
  for (let start = 0; start < body.length; ) {
    const end = body.indexOf(CRLF, start);
    const length = (end < 0 ? body.length : end) - start;
    if (length > MAX_LINE) {
      throw new MilterProtocolError('eom', `replacement body with a line of ${length} octets (${MAX_LINE} at most)`);
    }
    if (end < 0) return;
    start = end + 2;
  }
}

/** Where chgheader found its field: the block and the place in it. */
interface Found {
  block: Block;
  at: number;
  field: Field;
}

interface Block {
  fields: Field[];
  /** How many fields of each lower-cased name the block holds. */
  names: Map<string, number>;
}

/**
 * The header's fields in blocks of about √n, each counting its names, so that a change walks the blocks
 * and one block, not every field: 50,000 SMFIR_CHGHEADER, each a findIndex and splice over the whole
 * header, held the event loop (every other session) for 15 s.
 */
class FieldList {
  readonly #blocks: Block[] = [];
  /** Fields of each lower-cased name in all blocks: an index past the last is known at once. */
  readonly #names = new Map<string, number>();
  #size = 0;
  readonly #blockSize: number;

  /** `changes`: how many fields may be added, for the block size. */
  constructor(fields: readonly Field[], changes: number) {
    this.#blockSize = Math.max(32, Math.ceil(Math.sqrt(fields.length + changes)));
    for (const f of fields) this.insert(Number.POSITIVE_INFINITY, f);
  }

  /** Before the index-th field (0 the top); past the end, last. */
  insert(index: number, field: Field): void {
    const key = field.name.toLowerCase();
    let i = this.#blocks.length - 1;
    let at = index;
    if (index >= this.#size) {
      const last = this.#blocks[i];
      if (!last || last.fields.length >= this.#blockSize) {
        this.#blocks.push({ fields: [], names: new Map() });
        i++;
      }
      at = (this.#blocks[i] as Block).fields.length;
    } else {
      for (i = 0; at > (this.#blocks[i] as Block).fields.length; i++) at -= (this.#blocks[i] as Block).fields.length;
    }
    const block = this.#blocks[i] as Block;
    block.fields.splice(at, 0, field);
    count(block.names, key, 1);
    count(this.#names, key, 1);
    this.#size++;
    if (block.fields.length > 2 * this.#blockSize) {
      const half = block.fields.splice(this.#blockSize);
      const names = new Map<string, number>();
      for (const f of half) {
        const k = f.name.toLowerCase();
        count(names, k, 1);
        count(block.names, k, -1);
      }
      this.#blocks.splice(i + 1, 0, { fields: half, names });
    }
  }

  /** The nth field (1-based) of that name, case-insensitive. */
  find(name: string, nth: number): Found | undefined {
    const key = name.toLowerCase();
    if ((this.#names.get(key) ?? 0) < nth) return undefined;
    let left = nth;
    for (const block of this.#blocks) {
      const here = block.names.get(key) ?? 0;
      if (left > here) {
        left -= here;
        continue;
      }
      for (const [at, field] of block.fields.entries()) {
        if (field.name.toLowerCase() === key && --left === 0) return { block, at, field };
      }
    }
    return undefined;
  }

  /** In the found field's place; the name is the same but for case. */
  replace(found: Found, field: Field): void {
    found.block.fields[found.at] = field;
  }

  remove(found: Found): void {
    const key = found.field.name.toLowerCase();
    found.block.fields.splice(found.at, 1);
    count(found.block.names, key, -1);
    count(this.#names, key, -1);
    this.#size--;
    if (found.block.fields.length === 0) this.#blocks.splice(this.#blocks.indexOf(found.block), 1);
  }

  raws(): Buffer[] {
    return this.#blocks.flatMap((b) => b.fields.map((f) => f.raw));
  }
}

function count(names: Map<string, number>, key: string, by: number): void {
  const n = (names.get(key) ?? 0) + by;
  if (n === 0) names.delete(key);
  else names.set(key, n);
}

const CRLF = Buffer.from('\r\n');
const LF_ONLY = Buffer.from('\n');
const CR = 0x0d;
const LF = 0x0a;

/**
 * A milter's replacement body as a message body must be (RFC 5322 §2.3): CR and LF only together, as
 * CRLF, so a bare LF or bare CR becomes CRLF; and a last line ends with CRLF too. A milter written for
 * Unix line ends, or one whose last smfi_replacebody had no line end, would otherwise leave a body that
 * mail readers and the next hop read apart. A body already in that form is returned as it is.
 */
export function crlfLines(body: Buffer): Buffer {
  if (body.length === 0) return body;
  const parts: Buffer[] = [];
  let start = 0;
  let at = 0;
  let cr = body.indexOf(0x0d);
  let lf = body.indexOf(0x0a);
  while (cr >= 0 || lf >= 0) {
    const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
    if (end === cr && lf === cr + 1) {
      at = cr + 2; // CRLF already
    } else {
      parts.push(body.subarray(start, end), CRLF);
      at = end + 1;
      start = at;
    }
    if (cr >= 0 && cr < at) cr = body.indexOf(0x0d, at);
    if (lf >= 0 && lf < at) lf = body.indexOf(0x0a, at);
  }
  const last = body[body.length - 1];
  const ended = last === 0x0a || last === 0x0d;
  if (parts.length === 0 && ended) return body;
  parts.push(body.subarray(start));
  if (!ended) parts.push(CRLF);
  return Buffer.concat(parts);
}

/** Header fields as RFC 5322 §2.2 has them (continuation lines start with WSP) and the body after the blank line. */
export function splitMessage(message: Buffer): { fields: Field[]; body: Buffer } {
  const fields: Field[] = [];
  let at = 0;
  while (at < message.length) {
    if (message[at] === 0x0d && message[at + 1] === 0x0a) return { fields, body: message.subarray(at + 2) };
    let end = at;
    for (;;) {
      const lf = message.indexOf(0x0a, end);
      if (lf < 0) {
        end = message.length;
        break;
      }
      end = lf + 1;
      const next = message[end];
      if (next !== 0x20 && next !== 0x09) break;
    }
    const raw = message.subarray(at, end);
    const colon = raw.indexOf(0x3a);
    fields.push({
      name: raw.subarray(0, Math.max(colon, 0)).toString('latin1').trim(),
      raw,
    });
    at = end;
  }
  return { fields, body: Buffer.alloc(0) };
}
