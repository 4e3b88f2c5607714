/**
 * Which font a content stream's `/Name size Tf` selects, and that font's ToUnicode map (ISO 32000-1
 * §9.10.2): found through the indirect objects (§7.3.10) of the file, those in object streams
 * (§7.5.7) included, and the resources (§7.8.3) of the page or form the stream draws.
 *
 * No cross-reference table is read: objects are found by their `N G obj` headers, the way a
 * damaged-file repair does, so a file with a broken or missing xref still reads. The first
 * definition of a number wins. Bounded: 50,000 objects, 200 fonts with maps.
 */
import { inflateSync } from 'node:zlib';
import { parseToUnicode, type ToUnicode } from './pdf-cmap.ts';

/** §7.4 a /Filter of one FlateDecode (or its abbreviation), alone or as a one-element array (§7.3.8.2). */
export const FLATE_ONLY = /\/Filter\s*(?:\/(?:FlateDecode|Fl)\b|\[\s*\/(?:FlateDecode|Fl)\s*\])/;

const MAX_OBJECTS = 50_000;
const MAX_FONTS = 200;

interface PdfObject {
  /** The object's text up to its `stream` keyword or `endobj`. */
  body: string;
  /** Where its stream data lies in the file, for a stream object. */
  stream?: { start: number; end: number };
}

/** Fonts by resource name, for one content stream. */
export type FontMap = ReadonlyMap<string, ToUnicode>;

export class PdfFonts {
  readonly #source: string;
  readonly #file: Buffer;
  readonly #objects = new Map<number, PdfObject>();
  /** Content stream object → the page that draws it. */
  readonly #pageOf = new Map<number, number>();
  readonly #maps = new Map<number, ToUnicode | undefined>();
  #budget: { bytes: number };
  #global: Map<string, number> | undefined;

  /** `budget.bytes`: what inflating may still produce; shared with the caller's reading. */
  constructor(source: string, file: Buffer, budget: { bytes: number }) {
    this.#source = source;
    this.#file = file;
    this.#budget = budget;
    this.#index();
  }

  /** The fonts a stream whose dictionary starts at `at` can select; empty when none has a map. */
  fontsFor(at: number, dictionary: string): FontMap {
    const own = /\/Resources\b/.test(dictionary) ? this.#fontRefs(dictionary) : undefined;
    const number = objectNumberBefore(this.#source, at);
    const page = number === undefined ? undefined : this.#pageOf.get(number);
    const refs = own ?? (page === undefined ? undefined : this.#fontRefs(this.#objects.get(page)?.body ?? ''));
    const names = refs && refs.size > 0 ? refs : this.#globalRefs();
    const fonts = new Map<string, ToUnicode>();
    for (const [name, font] of names) {
      const map = this.#toUnicode(font);
      if (map) fonts.set(name, map);
    }
    return fonts;
  }

  #index(): void {
    // Bounded repetitions after a non-digit: a run of digits must not cost a backtrack per digit (the
    // file is up to 10 MB, and this ran over it whole: 80,000 digits took 5 s).
    const header = /(?<![0-9])(\d{1,10})\s{1,8}\d{1,5}\s{1,8}obj\b/g;
    // The next `endobj`, searched again only once passed: a file of headers without one costs one pass.
    let endobj = this.#source.indexOf('endobj');
    for (let m = header.exec(this.#source); m && this.#objects.size < MAX_OBJECTS; m = header.exec(this.#source)) {
      const number = Number(m[1]);
      const from = m.index + m[0].length;
      if (endobj >= 0 && endobj < from) endobj = this.#source.indexOf('endobj', from);
      const limit = endobj < 0 ? Math.min(this.#source.length, from + 65_536) : endobj;
      const keyword = /\bstream\r?\n/.exec(this.#source.slice(from, limit));
      const bodyEnd = keyword ? from + keyword.index : limit;
      const object: PdfObject = { body: this.#source.slice(from, bodyEnd) };
      if (keyword) {
        const start = bodyEnd + keyword[0].length;
        const end = this.#source.indexOf('endstream', start);
        if (end >= 0) object.stream = { start, end };
      }
      if (!this.#objects.has(number)) this.#objects.set(number, object);
      header.lastIndex = Math.max(header.lastIndex, limit);
    }
    for (const [, object] of [...this.#objects]) {
      if (/\/Type\s*\/ObjStm\b/.test(object.body)) this.#unpack(object);
    }
    for (const [number, object] of this.#objects) {
      if (!/\/Type\s*\/Page\b/.test(object.body)) continue;
      const contents = /\/Contents\s*(\[[^\]]{0,8192}\]|\d{1,10}\s{1,8}\d{1,5}\s{1,8}R)/.exec(object.body)?.[1] ?? '';
      for (const ref of contents.matchAll(/(?<![0-9])(\d{1,10})\s{1,8}\d{1,5}\s{1,8}R/g))
        this.#pageOf.set(Number(ref[1]), number);
    }
  }

  /** §7.5.7: N pairs of (object number, offset) from the start, the objects from /First on. */
  #unpack(stream: PdfObject): void {
    const data = this.#data(stream);
    const count = Number(/\/N\s+(\d+)/.exec(stream.body)?.[1]);
    const first = Number(/\/First\s+(\d+)/.exec(stream.body)?.[1]);
    if (data === undefined || !Number.isInteger(count) || !Number.isInteger(first) || first > data.length) return;
    const pairs = data.slice(0, first).trim().split(/\s+/).map(Number);
    for (let i = 0; i < Math.min(count, pairs.length / 2) && this.#objects.size < MAX_OBJECTS; i++) {
      const [number, offset] = [pairs[2 * i] as number, pairs[2 * i + 1] as number];
      const next = i + 1 < count && pairs[2 * i + 3] !== undefined ? (pairs[2 * i + 3] as number) : data.length;
      if (!Number.isInteger(number) || !Number.isInteger(offset) || this.#objects.has(number)) continue;
      this.#objects.set(number, { body: data.slice(first + offset, first + Math.max(offset, next)) });
    }
  }

  /** A stream's data, inflated when FlateDecode; undefined for other filters or past the budget. */
  #data(object: PdfObject): string | undefined {
    if (!object.stream || this.#budget.bytes <= 0) return undefined;
    const raw = this.#file.subarray(object.stream.start, object.stream.end);
    if (!/\/Filter\b/.test(object.body)) {
      // Counted like inflated data: many fonts naming one large plain stream must not read it each time.
      const data = raw.toString('latin1', 0, Math.min(raw.length, this.#budget.bytes));
      this.#budget.bytes -= data.length;
      return data;
    }
    if (!FLATE_ONLY.test(object.body)) return undefined;
    try {
      const data = inflateSync(raw, { maxOutputLength: this.#budget.bytes }).toString('latin1');
      this.#budget.bytes -= data.length;
      return data;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') this.#budget.bytes = 0;
      return undefined;
    }
  }

  /** `/Name N G R` pairs of the /Font dictionary in a /Resources (inline or referenced) in `text`. */
  #fontRefs(text: string): Map<string, number> | undefined {
    const resources = this.#dictionaryAfter(text, 'Resources');
    if (resources === undefined) return undefined;
    const fonts = this.#dictionaryAfter(resources, 'Font');
    const refs = new Map<string, number>();
    for (const m of (fonts ?? '').matchAll(/\/([^\s/<>[\]()]{1,127})\s*(\d{1,10})\s{1,8}\d{1,5}\s{1,8}R/g))
      refs.set(m[1] as string, Number(m[2]));
    return refs;
  }

  /** The dictionary that follows `/key`: written inline (`<< … >>`, balanced) or as a reference. */
  #dictionaryAfter(text: string, key: string): string | undefined {
    const m = new RegExp(`/${key}\\s*(<<|(\\d+)\\s+\\d+\\s+R)`).exec(text);
    if (!m) return undefined;
    if (m[2] !== undefined) return this.#objects.get(Number(m[2]))?.body;
    let depth = 0;
    for (let i = m.index + m[0].length - 2; i < text.length - 1; i++) {
      if (text[i] === '<' && text[i + 1] === '<') {
        depth++;
        i++;
      } else if (text[i] === '>' && text[i + 1] === '>') {
        depth--;
        i++;
        if (depth === 0) return text.slice(m.index + m[0].length, i - 1);
      }
    }
    return undefined;
  }

  /** Every font name of every /Font dictionary, for a stream no page claims (the first name wins). */
  #globalRefs(): Map<string, number> {
    if (this.#global) return this.#global;
    this.#global = new Map();
    for (const object of this.#objects.values()) {
      if (!object.body.includes('/Font')) continue;
      for (const [name, font] of this.#fontRefs(`/Resources << ${object.body} >>`) ?? []) {
        if (!this.#global.has(name)) this.#global.set(name, font);
      }
    }
    return this.#global;
  }

  #toUnicode(font: number): ToUnicode | undefined {
    if (this.#maps.has(font)) return this.#maps.get(font);
    if (this.#maps.size >= MAX_FONTS) return undefined;
    const ref = /\/ToUnicode\s+(\d+)\s+\d+\s+R/.exec(this.#objects.get(font)?.body ?? '')?.[1];
    const stream = ref === undefined ? undefined : this.#objects.get(Number(ref));
    const text = stream ? this.#data(stream) : undefined;
    const map = text === undefined ? undefined : parseToUnicode(text);
    this.#maps.set(font, map);
    return map;
  }
}

/** The number of the object whose dictionary starts at `at` (`N G obj` just before it). */
function objectNumberBefore(source: string, at: number): number | undefined {
  const m = /(\d+)\s+\d+\s+obj\s*$/.exec(source.slice(Math.max(0, at - 40), at));
  return m ? Number(m[1]) : undefined;
}
