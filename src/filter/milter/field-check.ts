/**
 * A header field a milter asks us to write (SMFIR_ADDHEADER, SMFIR_INSHEADER, SMFIR_CHGHEADER), checked
 * before it enters the stored message. A milter passes on what it was given (rspamd writes parts of
 * the message into its headers), so its name and value are as untrusted as the message.
 *
 * - The name: printable US-ASCII but ":" (RFC 5322 §2.2, ftext §3.6.8), else the change is refused.
 * - Line ends: the milter protocol's bare LF is CRLF (as Sendmail's milters send them); a bare CR or
 *   a NUL has no meaning in a field and refuses the change, as does any other control but HTAB.
 * - Folding: a line break must be followed by WSP (RFC 5322 §2.2.3). A line that is not is folded
 *   with a TAB, as Postfix's cleanup does with every milter header (cleanup_out_header): the text
 *   stays inside this field and never becomes a field of its own. An empty (or white-space only)
 *   line would end the header section and move the fields after it into the body: refused. Line
 *   breaks at the very end of the value are dropped.
 * - Length: a line longer than 998 octets (RFC 5322 §2.1.1) refuses the change.
 * - Octets: name and value hold one char per octet (latin1), as the client decodes the milter's
 *   reply, and are written back as those octets: 8-bit text of any charset stays as the milter sent
 *   it, as Postfix and Sendmail copy it. A char past U+00FF is no octet and refuses the change.
 */

/** RFC 5322 §2.1.1: at most 998 octets a line, CRLF excluded. */
const MAX_LINE = 998;

export type FieldCheck =
  | { ok: true; raw: Buffer /** Lines folded with a TAB. */; folded: number }
  | { ok: false; reason: string };

/** `name:value` CRLF, as written into the message; `value` is everything after the colon. */
export function checkField(name: string, value: string): FieldCheck {
  const badName = nameProblem(name);
  if (badName) return { ok: false, reason: badName };
  const wide = /[^\0-\xff]/.exec(value);
  if (wide) return { ok: false, reason: `${describe(wide[0])} in the value, not one octet` };
  const control = /[\0-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(value);
  if (control) return { ok: false, reason: `${describe(control[0])} in the value` };
  if (/\r(?!\n)/.test(value)) return { ok: false, reason: 'a bare CR in the value' };
  const lines = value
    .replace(/\r?\n/g, '\r\n')
    .replace(/(\r\n[ \t]*)+$/, '')
    .split('\r\n');
  let folded = 0;
  for (const [i, line] of lines.entries()) {
    if (i === 0) continue;
    if (/^[ \t]*$/.test(line)) return { ok: false, reason: 'an empty line in the value (it would end the header)' };
    if (line[0] !== ' ' && line[0] !== '\t') {
      lines[i] = `\t${line}`;
      folded++;
    }
  }
  lines[0] = `${name}:${lines[0]}`;
  // One char per octet: a line's length is its octet count.
  const long = lines.find((line) => line.length > MAX_LINE);
  if (long !== undefined) return { ok: false, reason: `a line of ${long.length} octets (${MAX_LINE} at most)` };
  return { ok: true, raw: Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'), folded };
}

function nameProblem(name: string): string | undefined {
  if (name === '') return 'an empty name';
  const bad = /[^\x21-\x39\x3b-\x7e]/.exec(name);
  return bad ? `${describe(bad[0])} in the name` : undefined;
}

function describe(ch: string): string {
  if (ch === ':') return 'a colon';
  if (ch === ' ') return 'a space';
  if (ch === '\r') return 'a CR';
  if (ch === '\n') return 'an LF';
  if (ch === '\0') return 'a NUL';
  const code = ch.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code < 0x20 || code === 0x7f ? `control character ${hex}` : `non-ASCII character ${hex}`;
}
