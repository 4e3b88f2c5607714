/**
 * A font's ToUnicode CMap (ISO 32000-1 §9.10.3): how the codes a text operator shows map to Unicode.
 * Composite fonts (Type0, Identity-H) show two-byte glyph codes that mean nothing without it; this is
 * what cairo, Chrome, LibreOffice and Word write for any text beyond Latin-1, Cyrillic included.
 *
 * Read: codespacerange (the code lengths), bfchar and bfrange (both forms, §9.10.3 and Adobe
 * technical note #5411), destinations in UTF-16BE. Bounded: 20,000 entries per map; a range is kept
 * as a range, never expanded.
 */

export interface ToUnicode {
  /** Code lengths in bytes the codespace ranges allow, shortest first (1 for simple fonts, 2 for Identity-H). */
  lengths: number[];
  single: Map<string, string>;
  /** [first, last, destination of first (or the array of destinations)], codes as hex of equal length. */
  ranges: [first: string, last: string, destination: string | string[]][];
}

const MAX_ENTRIES = 20_000;

export function parseToUnicode(text: string): ToUnicode | undefined {
  const cmap: ToUnicode = { lengths: [], single: new Map(), ranges: [] };
  for (const section of sections(text, 'codespacerange')) {
    for (const m of section.matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>/g)) {
      const length = Math.ceil((m[1] as string).length / 2);
      if (length >= 1 && length <= 4 && !cmap.lengths.includes(length)) cmap.lengths.push(length);
    }
  }
  let entries = 0;
  for (const section of sections(text, 'bfchar')) {
    for (const m of section.matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>/g)) {
      if (++entries > MAX_ENTRIES) break;
      cmap.single.set((m[1] as string).toLowerCase(), utf16(m[2] as string));
    }
  }
  for (const section of sections(text, 'bfrange')) {
    // An array's end is found with indexOf, once: `[^\]]*` rescanned the rest of the section for every
    // `[` left open (40,000 of them, in a deflated stream of a 2 KB message, took 6 s).
    const range = /<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(?:<([0-9A-Fa-f]*)>|\[)/g;
    for (let m = range.exec(section); m; m = range.exec(section)) {
      if (++entries > MAX_ENTRIES) break;
      let destination: string | string[];
      if (m[3] !== undefined) destination = m[3];
      else {
        const close = section.indexOf(']', range.lastIndex);
        if (close < 0) break; // no array of this section closes
        destination = [...section.slice(range.lastIndex, close).matchAll(/<([0-9A-Fa-f]*)>/g)].map(
          (d) => d[1] as string,
        );
        range.lastIndex = close + 1;
      }
      const [first, last] = [(m[1] as string).toLowerCase(), (m[2] as string).toLowerCase()];
      if (first.length !== last.length || first > last) continue;
      cmap.ranges.push([first, last, destination]);
    }
  }
  if (cmap.lengths.length === 0) {
    // No codespace: the lengths of the codes the map names (a map written without one still works).
    for (const code of [...cmap.single.keys(), ...cmap.ranges.map((r) => r[0])]) {
      const length = code.length / 2;
      if (Number.isInteger(length) && length >= 1 && length <= 4 && !cmap.lengths.includes(length)) {
        cmap.lengths.push(length);
      }
    }
  }
  cmap.lengths.sort((a, b) => a - b);
  // Sorted for a binary search: codes of one length compare as hex text as they do as numbers.
  cmap.ranges.sort((a, b) => a[0].length - b[0].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return cmap.lengths.length > 0 && (cmap.single.size > 0 || cmap.ranges.length > 0) ? cmap : undefined;
}

/** The text a shown string (its bytes as latin1 chars) stands for; a code the map lacks reads as nothing. */
export function decodeShown(cmap: ToUnicode, shown: string): string {
  const hex = Buffer.from(shown, 'latin1').toString('hex');
  let out = '';
  for (let at = 0; at < hex.length; ) {
    let step = 0;
    for (const length of cmap.lengths) {
      const code = hex.slice(at, at + 2 * length);
      if (code.length < 2 * length) break;
      const mapped = lookup(cmap, code);
      step = 2 * length;
      if (mapped !== undefined) {
        out += mapped;
        break;
      }
    }
    at += step === 0 ? 2 : step;
  }
  return out;
}

function lookup(cmap: ToUnicode, code: string): string | undefined {
  const single = cmap.single.get(code);
  if (single !== undefined) return single;
  const range = rangeOf(cmap.ranges, code);
  if (range) {
    const [first, , destination] = range;
    const offset = Number.parseInt(code, 16) - Number.parseInt(first, 16);
    if (Array.isArray(destination)) return destination[offset] === undefined ? undefined : utf16(destination[offset]);
    // §9.10.3: the last byte of the destination is incremented for each code after the first.
    const start = Buffer.from(destination.length % 2 === 0 ? destination : `0${destination}`, 'hex');
    if (start.length === 0) return undefined;
    start[start.length - 1] = ((start[start.length - 1] as number) + offset) & 0xff;
    return utf16(start.toString('hex'));
  }
  return undefined;
}

/** The range holding `code`: the last one (in sorted order) that starts at or before it. */
function rangeOf(ranges: ToUnicode['ranges'], code: string): ToUnicode['ranges'][number] | undefined {
  let low = 0;
  let high = ranges.length - 1;
  let found: ToUnicode['ranges'][number] | undefined;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const range = ranges[middle] as ToUnicode['ranges'][number];
    const first = range[0];
    if (first.length < code.length || (first.length === code.length && first <= code)) {
      if (first.length === code.length) found = range;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found && code <= found[1] ? found : undefined;
}

/** UTF-16BE hex as text; surrogate pairs come out as one character. Controls become spaces. */
function utf16(hex: string): string {
  const bytes = Buffer.from(hex.length % 4 === 0 ? hex : hex.padStart(Math.ceil(hex.length / 4) * 4, '0'), 'hex');
  let text = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) text += String.fromCharCode(bytes.readUInt16BE(i));
  return text.replace(/[\x00-\x1f]/g, ' ');
}

/** The bodies of `begin<name> … end<name>` sections. */
function* sections(text: string, name: string): Generator<string> {
  const begin = `begin${name}`;
  const end = `end${name}`;
  for (let at = text.indexOf(begin); at >= 0; at = text.indexOf(begin, at + 1)) {
    const close = text.indexOf(end, at + begin.length);
    if (close < 0) return;
    yield text.slice(at + begin.length, close);
    at = close;
  }
}
