/**
 * RFC 6376 §3.2 tag=value lists (DKIM-Signature fields and key records). By default read as mailauth's
 * lenient parser reads them (lib/parse-dkim-headers.js), for the callers that describe records the way
 * mailauth reads them (dns check, key rotation): ";" separates tag-specs, the first "=" splits name from
 * value, names are case-folded, the last of a repeated tag wins, and what RFC 6376 forbids (a spec without
 * "=", a bad name, a repeated tag) is counted as a fault for the caller to report rather than refused.
 *
 * The verifier reads with `caseSensitive` ("Tags MUST be interpreted in a case-sensitive manner", §3.2):
 * `V=1` is then a tag of its own, unknown and ignored, not v=. Either way `repeated` names each tag that
 * occurs more than once, which makes "the entire tag-list ... invalid" (§3.2) for a verifier.
 */

export interface TagList {
  /** The tag-specs in order, names as written, values with white space collapsed (removed in b, bh, p, h). */
  specs: { name: string; value: string }[];
  /**
   * By name (lower case, or as written when read case-sensitively), a number for l, v, t, x when it reads
   * as one; a later spec without "=" gives ''.
   */
  values: Map<string, string | number>;
  /** RFC 6376 §3.2 syntax faults: empty or "="-less specs, invalid names, repeated names. */
  faults: number;
  /** The names (as written) given to more than one tag-spec, each once, in order. */
  repeated: string[];
}

export interface TagListOptions {
  /** Names as written (RFC 6376 §3.2) rather than case-folded as mailauth reads them. */
  caseSensitive?: boolean;
}

/** RFC 6376 §3.2: tag-name = ALPHA *ALNUMPUNC */
const TAG_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Values without white space: b= and bh= (FWS ignored, §3.5), p= (§3.6.1), h= (FWS around the colons). */
const WHITESPACE_FREE = new Set(['b', 'bh', 'p', 'h']);
/** Values read as numbers when they are one (mailauth reads them so; §3.5 gives their syntax). */
const NUMERIC = new Set(['l', 'v', 't', 'x']);
/** White space other than single spaces: what collapse() changes inside a trimmed value. */
const NOT_COLLAPSED = /\s\s|[^\S ]/;

/** White space runs as one SP, none at the ends (JS \s, as mailauth reads the UTF-8 text). */
const collapse = (value: string): string => {
  const trimmed = value.trim();
  return NOT_COLLAPSED.test(trimmed) ? trimmed.replace(/\s+/g, ' ') : trimmed;
};

/** FWS at the ends of a tag-spec or name: SP, HTAB and the CRLF of a fold. */
const isFws = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

function trimFws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isFws(value.charCodeAt(start))) start++;
  while (end > start && isFws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

export function parseTagList(text: string, options: TagListOptions = {}): TagList {
  const fold = options.caseSensitive !== true;
  const specs: TagList['specs'] = [];
  const values: TagList['values'] = new Map();
  const keyOnly: string[] = [];
  const seen = new Set<string>();
  const repeated: string[] = [];
  let faults = 0;
  let first = true;
  const parts = text.split(';');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const eq = part.indexOf('=');
    if (eq < 0) {
      const trimmed = trimFws(part);
      if (trimmed === '') {
        if (i < parts.length - 1 || parts.length === 1) faults++; // only one trailing ";" is allowed
        continue;
      }
      faults++;
      // mailauth keeps the first such part apart (as a default value) and stores later ones as empty tags
      if (!first) keyOnly.push(collapse(trimmed));
      first = false;
      continue;
    }
    const name = trimFws(part.slice(0, eq));
    if (!TAG_NAME.test(name)) faults++;
    if (seen.has(name)) {
      faults++; // §3.2: "the entire tag-list is invalid"; read leniently, the last one wins
      if (!repeated.includes(name)) repeated.push(name);
    }
    seen.add(name);
    const key = fold ? collapse(name).toLowerCase() : name;
    const raw = part.slice(eq + 1);
    const value = WHITESPACE_FREE.has(key) ? raw.replace(/\s+/g, '') : collapse(raw);
    specs.push({ name, value });
    if (key !== '') values.set(key, NUMERIC.has(key) && !Number.isNaN(Number(value)) ? Number(value) : value);
  }
  for (const name of keyOnly) {
    const key = fold ? name.toLowerCase() : name;
    if (key !== '') values.set(key, '');
  }
  return { specs, values, faults, repeated };
}

/** A tag's value as text ('' when absent), as mailauth's `(parsed.x?.value || '').toString()` reads it. */
export function text(tags: TagList['values'], name: string): string {
  const value = tags.get(name);
  return value === undefined || value === '' || value === 0 ? '' : String(value);
}

/** A colon-separated list (h=, key s=, h=, t=) as lower-case entries. */
export function list(value: string | number | undefined): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(':')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
}
