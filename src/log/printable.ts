/**
 * Text from a message as a terminal may show it: a suspicious message's Subject can carry escape
 * sequences that clear the screen or retitle the window, so control characters become U+FFFD. With
 * `multiline`, line ends (CRLF read as LF) and tabs stay.
 */
export function printable(text: string, multiline = false): string {
  const shown = multiline ? text.replace(/\r\n/g, '\n') : text;
  // C0 and C1 controls (U+009B is a one-character CSI to terminals, ECMA-48 §5.3), and the bidi
  // embeddings, overrides and isolates that reorder what follows (Unicode UAX #9), "exe.pdf" style.
  return shown.replace(
    multiline
      ? /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g
      : /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g,
    '\ufffd',
  );
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** `text` in `width` columns of a table row: whitespace runs as one space, cut between characters (grapheme clusters), never inside one. */
export function column(text: string, width: number): string {
  // Cut between user-perceived characters (UAX #29 grapheme clusters): a flag or a ZWJ family is one.
  const chars = Array.from(graphemes.segment(printable(text.replace(/\s+/g, ' '))), (part) => part.segment);
  const cut = chars.length > width ? [...chars.slice(0, width - 1), '…'] : chars;
  return cut.join('') + ' '.repeat(Math.max(0, width - cut.length)); // padded in characters, not UTF-16 units
}

/**
 * "Name <address>" as "address (Name)": a column clips what comes last, and a display name may itself
 * look like an address ("PayPal <service@paypal.com>" <attacker@evil.example>); the sender's real
 * address must be what stays in view.
 */
export function addressFirst(from: string): string {
  const match = /^(.*?)\s*<([^<>]*)>\s*$/.exec(from);
  if (!match) return from;
  const name = (match[1] ?? '').replace(/^"(.*)"$/, '$1').trim();
  return name === '' ? (match[2] ?? '') : `${match[2]} (${name})`;
}
