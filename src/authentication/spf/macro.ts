/**
 * SPF macros, RFC 7208 §7: parsing a macro-string (§7.1, §12 ABNF) into tokens once, at record parse
 * time, and expanding the tokens for a check (§7.3, §7.4). A syntax error is reported by returning
 * undefined; the caller makes it a permerror (§4.6) or, in explanation text, no explanation (§6.2).
 * Not here: where a letter's values come from (evaluate.ts computes %{p} only when a token asks for it).
 */

export type MacroLetter = 's' | 'l' | 'o' | 'd' | 'i' | 'p' | 'v' | 'h' | 'c' | 'r' | 't';

export interface MacroExpand {
  letter: MacroLetter;
  /** §7.3: an upper-case letter means the value is URL-escaped. */
  escape: boolean;
  /** §7.3 transformers: keep this many right-hand parts (0: all), after reversing if `reverse`. */
  keep: number;
  reverse: boolean;
  /** §7.3 delimiters; '.' when none is given. */
  delimiters: string;
}
export type MacroToken = string | MacroExpand;

export type MacroValues = Record<MacroLetter, string>;

const LETTERS = 'slodipvhcrt';
const EXP_ONLY = 'crt'; // §7.3: "c", "r" and "t" are only allowed in "exp" text

/**
 * §7.1: macro-string = *( macro-expand / macro-literal ), macro-literal = %x21-24 / %x26-7E; in
 * explanation text (§6.2 explain-string) SP is a literal too and c, r, t are allowed.
 */
export function parseMacroString(input: string, explanation = false): MacroToken[] | undefined {
  const tokens: MacroToken[] = [];
  let literal = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input.charCodeAt(i);
    if (ch !== 0x25) {
      // '%'
      const ok = (ch >= 0x21 && ch <= 0x7e) || (explanation && ch === 0x20);
      if (!ok) return undefined;
      literal += input[i];
      continue;
    }
    const next = input[i + 1];
    i++;
    if (next === '%') literal += '%';
    else if (next === '_')
      literal += ' '; // §7.1: "%_" is a single space
    else if (next === '-')
      literal += '%20'; // §7.1: "%-" is a URL-encoded space
    else if (next === '{') {
      const end = input.indexOf('}', i);
      if (end < 0) return undefined;
      const spec = parseExpand(input.slice(i + 1, end), explanation);
      if (spec === undefined) return undefined;
      if (literal !== '') tokens.push(literal);
      literal = '';
      tokens.push(spec);
      i = end;
    } else return undefined; // §7.1: a '%' followed by anything else is a syntax error
  }
  if (literal !== '') tokens.push(literal);
  return tokens;
}

/** §7.1: macro-letter transformers *delimiter, with transformers = *DIGIT [ "r" ]. */
function parseExpand(body: string, explanation: boolean): MacroExpand | undefined {
  const m = /^([a-z])(\d*)(r?)([.\-+,/_=]*)$/i.exec(body);
  if (m === null) return undefined;
  const [, raw = '', digits = '', r = '', delimiters = ''] = m;
  const letter = raw.toLowerCase();
  if (!LETTERS.includes(letter) || (!explanation && EXP_ONLY.includes(letter))) return undefined;
  const keep = digits === '' ? 0 : Number(digits);
  if (digits !== '' && keep === 0) return undefined; // §7.3: a zero DIGIT transformer is invalid
  return {
    letter: letter as MacroLetter,
    escape: raw !== letter,
    keep: Math.min(keep, 128),
    reverse: r !== '',
    delimiters: delimiters === '' ? '.' : delimiters,
  };
}

export function usesLetter(tokens: readonly MacroToken[], letter: MacroLetter): boolean {
  return tokens.some((t) => typeof t !== 'string' && t.letter === letter);
}

/** §7.3, §7.4: expand tokens with the check's values. */
export function expandMacro(tokens: readonly MacroToken[], values: MacroValues): string {
  let out = '';
  for (const t of tokens) {
    if (typeof t === 'string') {
      out += t;
      continue;
    }
    let value = values[t.letter];
    if (t.keep !== 0 || t.reverse || t.delimiters !== '.') {
      // §7.3: split on any delimiter, optionally reverse, keep the right-hand parts, join with "."
      let parts = split(value, t.delimiters);
      if (t.reverse) parts.reverse();
      if (t.keep !== 0 && t.keep < parts.length) parts = parts.slice(parts.length - t.keep);
      value = parts.join('.');
    }
    out += t.escape ? urlEscape(value) : value;
  }
  return out;
}

function split(value: string, delimiters: string): string[] {
  if (delimiters === '.') return value.split('.');
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (delimiters.includes(value[i] as string)) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** §7.3: upper-case macros are escaped as RFC 3986 §2.1 percent-encoding of all but unreserved characters. */
function urlEscape(value: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
