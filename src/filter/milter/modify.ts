/**
 * Carries out a milter's header and body changes on a message (CRLF), as Sendmail does at eom
 * (libmilter docs: smfi_addheader, smfi_insheader, smfi_chgheader, smfi_replacebody), in the order they
 * came. Envelope changes (chgfrom, addrcpt, delrcpt) are the caller's: they do not touch the content.
 */
import type { Modification } from './client.ts';
import { checkField } from './field-check.ts';

interface Field {
  name: string;
  /** The whole field with its CRLF, folding included. */
  raw: Buffer;
}

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

export function modifyMessage(message: Buffer, modifications: readonly Modification[]): ModifiedMessage {
  const { fields, body } = splitMessage(message);
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
        if (f) fields.push(f); // at the end of the header
        break;
      }
      case 'insheader': {
        // Index 0 is the top; counted over all fields; past the end means last (smfi_insheader).
        const f = field(m, m.name);
        if (f) fields.splice(Math.min(m.index, fields.length), 0, f);
        break;
      }
      case 'chgheader': {
        // The index-th field of that name, 1-based, case-insensitive; an empty value deletes it; an
        // index past the last occurrence adds the field (smfi_chgheader).
        const name = m.name.toLowerCase();
        let seen = 0;
        const at = fields.findIndex((f) => f.name.toLowerCase() === name && ++seen === Math.max(m.index, 1));
        if (m.value.trim() === '') {
          if (at >= 0) fields.splice(at, 1);
          break;
        }
        const f = field(m, at >= 0 ? (fields[at]?.name ?? m.name) : m.name);
        if (f && at >= 0) fields[at] = f;
        else if (f) fields.push(f);
        break;
      }
      case 'replbody':
        newBody = crlfLines(m.body);
        break;
      case 'chgfrom':
      case 'addrcpt':
      case 'delrcpt':
        break;
      default:
        return m satisfies never;
    }
  }
  return { content: Buffer.concat([...fields.map((f) => f.raw), Buffer.from('\r\n'), newBody]), problems };
}

const CRLF = Buffer.from('\r\n');

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
