/**
 * DKIM canonicalization (RFC 6376 §3.4) and the hash inputs built from it: the header hash input over the
 * h= fields and the signature field (§3.7), and the body hash with l= (§3.4.5). Strings are 'latin1', one
 * char per octet; line endings are CRLF (message.ts reads a bare LF as CRLF before this point). A bare CR
 * is content, not a line ending, as in mailauth.
 */

import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { trimWsp } from '../../mime/header-section.ts';
import { type HeaderField, lowerCaseAscii, utf8 } from './message.ts';

export type Canonicalization = 'simple' | 'relaxed';

const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * RFC 6376 §3.4.2 relaxed header canonicalization of one field, without its CRLF: field name lowercased;
 * unfolded (CRLF removed); each run of WSP one SP; WSP at the end of the value and around the colon removed.
 */
export function relaxedField(line: string): string {
  let out = line.includes('\n') ? line.replace(/\r?\n/g, '') : line;
  const colon = out.indexOf(':');
  if (colon >= 0) {
    let value = colon + 1;
    while (isWsp(out.charCodeAt(value))) value++;
    out = `${trimWsp(lowerCaseAscii(out.slice(0, colon)))}:${out.slice(value)}`;
  }
  if (out.includes('\t') || out.includes('  ')) out = out.replace(WSP_RUN, ' ');
  if (out.charCodeAt(0) === SP) out = out.slice(1);
  return out.charCodeAt(out.length - 1) === SP ? out.slice(0, -1) : out;
}

/** A run of WSP that is not already a single SP. */
const WSP_RUN = /\t[ \t]*| [ \t]+/g;
const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const isWsp = (c: number | undefined): boolean => c === SP || c === HTAB;

/**
 * RFC 6376 §3.7: the DKIM-Signature field as hashed has its b= value emptied, "including all surrounding
 * whitespace". The b= emptied is the one the tag-list parser took (the tag named b, whitespace around the
 * name ignored; a signature with two is refused before hashing, signature.ts), so text that merely looks
 * like "b=" inside another tag (z= copies) stays, and so does a B= tag: tag names are case-sensitive
 * (§3.2), B= is an unknown tag, hashed as it stands.
 */
export function withoutSignature(line: string): string {
  const colon = line.indexOf(':');
  const prefix = colon >= 0 ? line.slice(0, colon + 1) : '';
  const specs = (colon >= 0 ? line.slice(colon + 1) : line).split(';');
  for (let i = specs.length - 1; i >= 0; i--) {
    const spec = specs[i] as string;
    const eq = spec.indexOf('=');
    if (eq < 0) continue;
    const name = utf8(spec.slice(0, eq)).replace(/\s+/g, ' ').trim();
    if (name === 'b') {
      specs[i] = spec.slice(0, eq + 1);
      break;
    }
  }
  return prefix + specs.join(';');
}

/**
 * The header hash input (RFC 6376 §3.7, §5.4): each selected field canonicalized with its CRLF, then the
 * signature field canonicalized with b= emptied and no CRLF.
 */
export function headerHashInput(canon: Canonicalization, signed: HeaderField[], signature: HeaderField): Buffer {
  let text = '';
  for (const field of signed) text += `${canon === 'relaxed' ? relaxedField(field.line) : field.line}\r\n`;
  text += withoutSignature(canon === 'relaxed' ? relaxedField(signature.line) : signature.line);
  return Buffer.from(text, 'latin1');
}

/** A canonicalized body: the concatenation of `parts` (slices of the message, and SP and CRLF). */
export interface CanonicalBody {
  parts: Buffer[];
  length: number;
}

const SP_BYTES = Buffer.from(' ', 'latin1');

function body(parts: Buffer[]): CanonicalBody {
  let length = 0;
  for (const part of parts) length += part.length;
  return { parts, length };
}

/**
 * RFC 6376 §3.4.3 simple: the body unchanged but for the empty lines at its end; "*CRLF" at the end becomes
 * one CRLF, and an empty body is one CRLF.
 */
export function simpleBody(bytes: Buffer): CanonicalBody {
  let end = bytes.length;
  while (end >= 2 && bytes[end - 1] === LF && bytes[end - 2] === CR) end -= 2;
  return body([bytes.subarray(0, end), CRLF]);
}

/**
 * RFC 6376 §3.4.4 relaxed: WSP at the end of each line removed, every other run of WSP one SP (a), then
 * the empty lines at the end removed and a CRLF added to a body that is not empty (b). An empty body
 * stays empty.
 */
export function relaxedBody(bytes: Buffer): CanonicalBody {
  const end = relaxedEnd(bytes);
  if (end === 0) return body([]);
  const parts: Buffer[] = [];
  let from = 0;
  // Runs of WSP to change are found by looking at every pair of adjacent octets, two octets a step: any
  // pair has an odd index. Most octets are text (> 0x20), so the common step is two loads and compares.
  for (let i = 1; i < end; ) {
    const x = bytes[i] as number;
    const y = bytes[i - 1] as number;
    if (x > SP && y !== HTAB) {
      i += 2; // neither pair (i-1, i) nor (i, i+1) starts a run to change
      continue;
    }
    let at = -1;
    if (x === SP) {
      const z = i + 1 < end ? bytes[i + 1] : undefined;
      if (y === SP || y === HTAB) at = i - 1;
      else if (z === SP || z === CR) at = i;
    } else if (y === HTAB || (y === SP && x === CR)) at = i - 1;
    else if (x === HTAB) at = i;
    if (at < 0) {
      i += 2;
      continue;
    }
    let start = at;
    while (start > from && isWsp(bytes[start - 1])) start--;
    let stop = at + 1;
    while (stop < end && isWsp(bytes[stop])) stop++;
    const trailing = stop + 1 < end && bytes[stop] === CR && bytes[stop + 1] === LF;
    if (trailing || stop - start > 1 || bytes[start] !== SP) {
      parts.push(bytes.subarray(from, start));
      if (!trailing) parts.push(SP_BYTES);
      from = stop;
    }
    i = (stop + 1) | 1; // the first odd index whose pair starts at or after the run's end
  }
  parts.push(bytes.subarray(from, end), CRLF);
  return body(parts);
}

/**
 * Where the relaxed body's content ends: before the lines at the end that are empty once their WSP is
 * removed, and before the WSP ending the last line that is not; 0 when no line has content.
 */
function relaxedEnd(bytes: Buffer): number {
  let end = bytes.length;
  for (;;) {
    let content = end;
    while (content > 0 && isWsp(bytes[content - 1])) content--;
    if (content >= 2 && bytes[content - 1] === LF && bytes[content - 2] === CR) end = content - 2;
    else return content;
  }
}

export interface BodyHash {
  /** base64, as bh= carries it (RFC 6376 §3.5) */
  hash: string;
  /** Octets of the canonicalized body the hash covers. */
  hashed: number;
  /** Octets of the whole canonicalized body. */
  total: number;
}

/** The body hash (§3.7 step 1) over the first `limit` octets (l=, §3.4.5), or all without a limit. */
export function bodyHash(canonical: CanonicalBody, algorithm: 'sha256' | 'sha1', limit: number | undefined): BodyHash {
  const hash = createHash(algorithm);
  const total = canonical.length;
  const hashed = limit === undefined || limit < 0 ? total : Math.min(Math.trunc(limit), total);
  let left = hashed;
  for (const part of canonical.parts) {
    if (left <= 0) break;
    hash.update(part.length <= left ? part : part.subarray(0, left));
    left -= part.length;
  }
  return { hash: hash.digest('base64'), hashed, total };
}
