/**
 * Frames one command line out of the input buffer (RFC 5321 §2.3.8, §4.5.3.1.4): where it ends,
 * and whether it is acceptable as a line at all. Knows nothing of commands.
 */
import { isUtf8 } from 'node:buffer';

// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
export const MAX_COMMAND_LINE = 512;
/** RFC 1870 §3: SIZE lengthens the MAIL command line by 26 octets. */
export const SIZE_PARAMETER_ALLOWANCE = 26;
/** RFC 4954 §3 item 5: AUTH= lengthens the MAIL command line by 500 octets where AUTH is offered. */
export const AUTH_PARAMETER_ALLOWANCE = 500;
const LF = 10;
const CR = 13;
const SP = 32;
const HTAB = 9;

export type LineProblem = 'too-long' | 'bare-line-ending' | 'not-utf8';

export type Framed =
  | { kind: 'incomplete' } // no LF yet: wait for more input
  | { kind: 'line'; text: string; next: number }
  | { kind: 'problem'; problem: LineProblem; next: number };

/** The line at `offset`. `next` is where the following input starts. */
export function frameCommandLine(input: Buffer, offset: number, allowBareLf: boolean, max = MAX_COMMAND_LINE): Framed {
  const lf = input.indexOf(LF, offset);
  if (lf < 0) return { kind: 'incomplete' };
  const next = lf + 1;
  if (next - offset > max) return { kind: 'problem', problem: 'too-long', next };
  const hasCr = lf > offset && input[lf - 1] === CR;
  const raw = input.subarray(offset, hasCr ? lf - 1 : lf);
  // CR and LF only as a pair; a bare LF is tolerated in normalize mode, a bare CR never.
  if ((!hasCr && !allowBareLf) || raw.includes(CR)) return { kind: 'problem', problem: 'bare-line-ending', next };
  if (!isAscii(raw) && !isUtf8(raw)) return { kind: 'problem', problem: 'not-utf8', next };
  return { kind: 'line', text: raw.toString('utf8'), next };
}

/**
 * A BDAT command line, however malformed: its first word, after any SP or HTAB, is BDAT in any case,
 * followed by SP, HTAB, CR, LF or nothing. RFC 3030 §2: the chunk-size octets that follow such a line
 * are its chunk (§4.2: pipelined right behind it), so a line of this shape that cannot be read for its
 * size leaves the session unable to tell the chunk from the next command.
 */
export const BDAT_LINE = /^[ \t]*BDAT(?:[ \t\r\n]|$)/i;

/** BDAT_LINE on the raw line at `offset` (up to `end`), before it is known to be complete or UTF-8. */
export function isBdatLine(input: Buffer, offset: number, end = input.length): boolean {
  let at = offset;
  while (at < end && (input[at] === SP || input[at] === HTAB)) at++;
  // Latin-1 keeps one character per octet: a non-ASCII octet can never match "BDAT".
  return BDAT_LINE.test(input.toString('latin1', at, Math.min(end, at + 5)));
}

function isAscii(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 127) return false;
  return true;
}
