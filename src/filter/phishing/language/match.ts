/**
 * Inflection-aware phrase matching for the language signals (issue 8). Text is cut into Unicode words
 * (\p{L}, \p{M}, \p{N}; hyphens split, apostrophes join: "don't"), lower-cased with ё read as е; a word
 * that mixes Latin, Cyrillic or Greek look-alikes is read in its majority script, so "пapoль" still says
 * пароль and "pαssword" password.
 * Characters a reader never sees (soft hyphens, zero-width spaces) are dropped first: "па\u00adроль" is
 * one word. Compatibility characters are read as the letters they are drawn as (NFKC): fullwidth
 * "ｐａｓｓｗｏｒｄ" and mathematical bold "𝐩𝐚𝐬𝐬𝐰𝐨𝐫𝐝" say password; evidence is still quoted as written.
 *
 * A pattern is words separated by spaces, each word a set of alternatives separated by `|`:
 *   `пароль`   the exact word;        `парол*`  any word starting with парол (stems are ≥ 3 letters);
 *   `карт~`    карт + up to 3 letters (карта, картой; not картридж); `#` any number.
 * The words must come in order within one sentence, with at most MAX_GAP other words between two
 * of them; a pattern starting with `=` wants them adjacent. Prefix stems stand in for a stemmer:
 * Russian endings are many but short, and a hand-written stem says exactly what it means to match.
 *
 * Speed (about 0.3 ms for 10 KB on a slow VM): one pass over the code units, no string per word (words
 * are offsets into an array of lower-cased code units, compared in place), and only the patterns indexed
 * under a word's first three letters are tried.
 */
import { foldToMajorityScript, isMixedMask, scriptOfCode } from './mixed-script.ts';

/** The words of a text: word i spans code units start[i]..end[i] of `text`. */
export interface Words {
  /**
   * The text the offsets point into: the source without its default-ignorable characters, each
   * character in its compatibility form (NFKC, UAX #15 §1.2).
   */
  text: string;
  /** The source without its default-ignorable characters, as written. */
  written: string;
  /** Where text[j] comes from in `written`: from[j] up to to[j]; undefined when text === written. */
  from?: Int32Array;
  to?: Int32Array;
  /** Code units of the words (only theirs are filled) lower-cased, ё → е, ’ → ', mixed words folded. */
  codes: Uint16Array;
  start: Int32Array;
  end: Int32Array;
  /** Sentences are numbered; a phrase never spans two. */
  sentence: Int32Array;
  /** Indexes of the words that mix letters of two or more of Latin, Cyrillic and Greek. */
  mixed: number[];
}

export const MAX_GAP = 3;

// Scratch offsets kept between calls (allocating typed arrays of this size costs as much as filling them).
let scratch = { start: new Int32Array(1024), end: new Int32Array(1024), sentence: new Int32Array(1024) };

// Unicode's Default_Ignorable_Code_Point (The Unicode Standard §5.21; Unicode 17, from the ICU in Node):
// soft hyphen, zero-width space and joiners, word joiner, bidi controls, variation selectors. Readers draw
// none of them, so inside a word they only hide it from the lexicon ("па\u00adроль", "pass\u200bword");
// UTS #39 §4 drops them the same way before comparing strings.
const invisible = /\p{Default_Ignorable_Code_Point}/gu;

/** `text` as a reader sees it: without the characters nobody sees. Linear. */
function withoutInvisible(text: string): string {
  return text.replace(invisible, '');
}

// Per BMP code unit: 0 not yet asked, 1 read as it is, 2 read as its NFKC form (fullwidth ｐ, ligature ﬁ).
const nfkcStable = new Uint8Array(0x10000);
const greek = /[\u0370-\u03ff\u1f00-\u1fff]/;

function changedByNfkc(c: number): boolean {
  if (nfkcStable[c] === 0) {
    const ch = String.fromCharCode(c);
    const form = c >= 0xd800 && c <= 0xdfff ? ch : ch.normalize('NFKC');
    // Unit signs whose form is Greek (micro µ → μ, ohm Ω, ㎛) stay signs: "µm" is no mixed-script word.
    nfkcStable[c] = form === ch || (greek.test(form) && !greek.test(ch)) ? 1 : 2;
  }
  return nfkcStable[c] === 2;
}

// The same for astral characters, by code point - 0x10000 (1 MB, made when first needed).
let nfkcAstral: Uint8Array | undefined;

function astralChangedByNfkc(high: number, low: number): boolean {
  nfkcAstral ??= new Uint8Array(0x100000);
  const at = ((high - 0xd800) << 10) | (low - 0xdc00);
  if (nfkcAstral[at] === 0) {
    const pair = String.fromCharCode(high, low);
    nfkcAstral[at] = pair.normalize('NFKC') === pair ? 1 : 2;
  }
  return nfkcAstral[at] === 2;
}

// The forms of the characters that have another (a few thousand in all, by code point).
const nfkcForms = new Map<number, string>();

function nfkcForm(code: number): string {
  let form = nfkcForms.get(code);
  if (form === undefined) {
    form = String.fromCodePoint(code).normalize('NFKC');
    nfkcForms.set(code, form);
  }
  return form;
}

const beyondLatinControls = /[^\x00-\x9f]/;

/**
 * Each character of `written` replaced by its NFKC form (UAX #15; one character at a time, so that
 * every character of the result has a source), with the map back. Linear.
 */
function compatibilityForm(written: string): Pick<Words, 'text' | 'from' | 'to'> {
  // Below U+00A0 NFKC changes nothing: most mail is read without a look at each character.
  if (!beyondLatinControls.test(written)) return { text: written };
  const n = written.length;
  let text = '';
  let from = new Int32Array(0);
  let to = from;
  let length = 0; // of text
  let run = 0; // start of the unchanged characters not yet copied
  const emit = (form: string, source: number, sourceEnd: number, each: boolean) => {
    if (length + form.length > from.length) {
      const size = Math.max(2 * from.length, length + form.length, 64);
      const [f, t] = [new Int32Array(size), new Int32Array(size)];
      f.set(from.subarray(0, length));
      t.set(to.subarray(0, length));
      [from, to] = [f, t];
    }
    text += form;
    for (let j = 0; j < form.length; j++, length++) {
      from[length] = each ? source + j : source;
      to[length] = each ? source + j + 1 : sourceEnd;
    }
  };
  for (let i = 0; i < n; i++) {
    const c = written.charCodeAt(i);
    if (c < 0xa0 || nfkcStable[c] === 1) continue;
    const low = written.charCodeAt(i + 1);
    const pair = c >= 0xd800 && c <= 0xdbff && (low & 0xfc00) === 0xdc00;
    if (!(pair ? astralChangedByNfkc(c, low) : changedByNfkc(c))) {
      if (pair) i++;
      continue;
    }
    emit(written.slice(run, i), run, i, true);
    const width = pair ? 2 : 1;
    emit(nfkcForm(pair ? ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000 : c), i, i + width, false);
    i += width - 1;
    run = i + 1;
  }
  if (run === 0) return { text: written };
  emit(written.slice(run), run, n, true);
  return { text, from: from.slice(0, length), to: to.slice(0, length) };
}

/**
 * Splits `source` into words in one pass over its code units, lower-casing through a table as it goes
 * (String#toLowerCase on the whole text, or a \p{…} regex, cost more than the rest together).
 */
export function tokenize(source: string): Words {
  const written = withoutInvisible(source);
  const { text, from: sourceFrom, to: sourceTo } = compatibilityForm(written);
  const n = text.length;
  const codes = new Uint16Array(n);
  const most = (n >> 1) + 1; // a word takes at least two code units with its separator
  if (scratch.start.length < most)
    scratch = { start: new Int32Array(most), end: new Int32Array(most), sentence: new Int32Array(most) };
  const { start, end } = scratch;
  const sentences = scratch.sentence;
  const mixed: number[] = [];
  let count = 0;
  let sentence = 0;
  let newlines = 0;
  let pendingBreak = false;
  let i = 0;
  while (i < n) {
    let raw = text.charCodeAt(i);
    let k = codeClass[raw] || classify(raw);
    if (k & HIGH) k = astralClass(text, i, codes);
    let c = lowerCode[raw]!;
    if ((k & WORD) === 0) {
      if (c === 0x0a) {
        if (++newlines >= 2) pendingBreak = true; // a blank line
      } else if (c === 0x2e || c === 0x21 || c === 0x3f || c === 0x3b || c === 0x2026) {
        const next = i + 1 < n ? text.charCodeAt(i + 1) : 0x20;
        if (next === 0x20 || next === 0x0a || next === 0x0d || next === 0x09) pendingBreak = true; // . ! ? ; … then space
      } else if (c !== 0x20 && c !== 0x0d && c !== 0x09) {
        newlines = 0;
      }
      i += k & PAIR ? 2 : 1;
      continue;
    }
    if ((k & PAIR) === 0) codes[i] = c;
    if (pendingBreak && count > 0) sentence++;
    pendingBreak = false;
    newlines = 0;
    const from = i;
    let scripts = 0; // of the part since the last apostrophe: "iPhone'а" is two scripts, not a mixed word
    let isMixed = false;
    while (k & WORD) {
      scripts |= k;
      i += k & PAIR ? 2 : 1;
      if (i >= n) break;
      raw = text.charCodeAt(i);
      k = codeClass[raw] || classify(raw);
      if (k & HIGH) k = astralClass(text, i, codes);
      c = lowerCode[raw]!;
      if ((k & PAIR) === 0) codes[i] = c;
      // An apostrophe between letters joins: "don't".
      if (c === 0x27 && i + 1 < n && isWordAt(text, i + 1)) {
        isMixed ||= isMixedMask(scripts);
        scripts = 0;
        k = WORD;
      }
    }
    if (isMixed || isMixedMask(scripts)) mixed.push(count);
    start[count] = from;
    end[count] = i;
    sentences[count++] = sentence;
  }
  // Folded as written, then lower-cased: Greek Υ passes for Y where its small υ passes for u.
  for (const m of mixed) {
    const folded = foldToMajorityScript(text.slice(start[m], end[m]));
    for (let j = 0; j < folded.length; j++) codes[start[m]! + j] = lowerOf(folded.charCodeAt(j)); // same length
  }
  return {
    text,
    written,
    ...(sourceFrom !== undefined && sourceTo !== undefined ? { from: sourceFrom, to: sourceTo } : {}),
    codes,
    start: start.slice(0, count),
    end: end.slice(0, count),
    sentence: sentences.slice(0, count),
    mixed,
  };
}

// Each UTF-16 code unit's class: WORD for a letter, mark or digit (\p{L}, \p{M}, \p{N}) with its LATIN,
// CYRILLIC or GREEK bit, OTHER for the rest, 0 until first seen (then asked of the regex engine once); and
// its lower case, ё read as е and ’ as ', kept as it is where lower-casing would take two code units
// (İ → i̇) so that offsets stay the source's. A high surrogate is HIGH: its class is its pair's, an
// astral letter being as much a letter as any (one left after NFKC must not split a word in two).
const WORD = 8; // above the script bits (LATIN 1, CYRILLIC 2, GREEK 4)
const OTHER = 16;
const HIGH = 32;
/** The character is a surrogate pair: two code units. */
const PAIR = 64;
const codeClass = new Uint8Array(0x10000);
const lowerCode = new Uint16Array(0x10000);
const wordCharacter = /^[\p{L}\p{M}\p{N}]$/u;

function classify(c: number): number {
  if (c >= 0xd800 && c <= 0xdbff) {
    lowerCode[c] = c;
    codeClass[c] = HIGH;
    return HIGH;
  }
  const ch = String.fromCharCode(c);
  const k = wordCharacter.test(ch) ? WORD | scriptOfCode(c) : OTHER;
  const lower = ch.toLowerCase();
  lowerCode[c] = lower.length === 1 ? lower.charCodeAt(0) : c;
  if (lowerCode[c] === 0x451) lowerCode[c] = 0x435; // ё → е
  if (c === 0x2019) lowerCode[c] = 0x27; // ’ → '
  codeClass[c] = k;
  return k;
}

/** The class of the astral character starting at text[i], a high surrogate; a word's is lower-cased into `codes`. */
function astralClass(text: string, i: number, codes: Uint16Array): number {
  if (i + 1 >= text.length || (text.charCodeAt(i + 1) & 0xfc00) !== 0xdc00) return OTHER; // a lone surrogate
  const ch = text.slice(i, i + 2);
  if (!wordCharacter.test(ch)) return OTHER | PAIR;
  const lower = ch.toLowerCase();
  const units = lower.length === 2 ? lower : ch;
  codes[i] = units.charCodeAt(0);
  codes[i + 1] = units.charCodeAt(1);
  return WORD | PAIR;
}

function isWordAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  const k = codeClass[c] || classify(c);
  return k & HIGH ? wordCharacter.test(text.slice(i, i + 2)) : (k & WORD) !== 0;
}

function lowerOf(c: number): number {
  if (codeClass[c] === 0) classify(c);
  return lowerCode[c]!;
}

/** Word i as matched: lower case, ё → е. */
export function wordAt(words: Words, i: number): string {
  return String.fromCharCode(...words.codes.subarray(words.start[i], words.end[i]));
}

type Alternative = { kind: 'exact' | 'prefix' | 'short' | 'number'; stem: string };
type Term = Alternative[];
type Phrase<K extends string> = { key: K; source: string; terms: Term[]; gap: number };
/** A way a phrase can start: one alternative of its first word. */
type Entry<K extends string> = { alt: Alternative; phrase: Phrase<K> };

export interface Lexicon<K extends string> {
  /** By startKey of the first word: its first three code units (fewer for short exact words). */
  byStart: Map<number, Entry<K>[]>;
  /** One bit per startKey (folded to 20 bits) present in byStart: most words need no map lookup. */
  starts: Uint32Array;
  byNumber: Entry<K>[];
}

const FILTER_BITS = 20;
const FILTER_MASK = (1 << FILTER_BITS) - 1;

const SHORT_ENDING = 3; // the most letters `~` adds
const INDEX_LENGTH = 3;

/**
 * The first three code units (0 past the end) packed into a small integer, so that no string is cut and
 * the map key stays a small integer. Other scripts may collide; every candidate is checked after.
 */
function startKey(c0: number, c1: number, c2: number): number {
  return ((c0 & 0x7ff) << 20) | ((c1 & 0x3ff) << 10) | (c2 & 0x3ff);
}

const oneWord = /^[\p{L}\p{M}\p{N}]+(?:'[\p{L}\p{M}]+)*$/u;

function alternative(text: string, source: string): Alternative {
  if (text === '#') return { kind: 'number', stem: '' };
  const last = text[text.length - 1];
  if (last === '*' || last === '~') {
    const stem = text.slice(0, -1);
    if (stem.length < INDEX_LENGTH || !oneWord.test(stem)) throw new Error(`bad stem "${text}" in "${source}"`);
    return { kind: last === '*' ? 'prefix' : 'short', stem };
  }
  if (!oneWord.test(text)) throw new Error(`"${text}" is not one word in "${source}"`);
  return { kind: 'exact', stem: text };
}

/** Compiles `{ key: [pattern, …] }` tables (several languages may share keys) into one index. */
export function compileLexicon<K extends string>(...tables: Record<K, readonly string[]>[]): Lexicon<K> {
  const lexicon: Lexicon<K> = { byStart: new Map(), starts: new Uint32Array(1 << (FILTER_BITS - 5)), byNumber: [] };
  for (const table of tables) {
    for (const key of Object.keys(table) as K[]) {
      for (const source of table[key]) {
        const adjacent = source.startsWith('=');
        const text = (adjacent ? source.slice(1) : source).trim().toLowerCase().replaceAll('ё', 'е');
        const terms = text.split(/\s+/).map((w) => w.split('|').map((a) => alternative(a, source)));
        const phrase: Phrase<K> = { key, source, terms, gap: adjacent ? 0 : MAX_GAP };
        for (const alt of terms[0]!) {
          if (alt.kind === 'number') {
            lexicon.byNumber.push({ alt, phrase });
            continue;
          }
          const k = startKey(alt.stem.charCodeAt(0), alt.stem.charCodeAt(1) || 0, alt.stem.charCodeAt(2) || 0);
          lexicon.byStart.set(k, [...(lexicon.byStart.get(k) ?? []), { alt, phrase }]);
          const bit = k & FILTER_MASK;
          lexicon.starts[bit >>> 5]! |= 1 << (bit & 31);
        }
      }
    }
  }
  return lexicon;
}

function isNumber(words: Words, i: number): boolean {
  for (let k = words.start[i]!; k < words.end[i]!; k++) {
    const c = words.codes[k]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function startsWith(codes: Uint16Array, from: number, stem: string): boolean {
  for (let k = 0; k < stem.length; k++) if (codes[from + k] !== stem.charCodeAt(k)) return false;
  return true;
}

function matchesAlternative(alt: Alternative, words: Words, i: number): boolean {
  const from = words.start[i]!;
  const length = words.end[i]! - from;
  const stem = alt.stem;
  switch (alt.kind) {
    case 'exact':
      return length === stem.length && startsWith(words.codes, from, stem);
    case 'prefix':
      return length >= stem.length && startsWith(words.codes, from, stem);
    case 'short':
      return length >= stem.length && length <= stem.length + SHORT_ENDING && startsWith(words.codes, from, stem);
    case 'number':
      return isNumber(words, i);
    default:
      return alt.kind satisfies never;
  }
}

function matchesTerm(term: Term, words: Words, i: number): boolean {
  for (const alt of term) if (matchesAlternative(alt, words, i)) return true;
  return false;
}

/** Index of the phrase's last word when terms[k..] match after word `at`, else -1 (tries every placement). */
function matchRest<K extends string>(words: Words, phrase: Phrase<K>, k: number, at: number): number {
  if (k === phrase.terms.length) return at;
  const last = Math.min(words.start.length - 1, at + 1 + phrase.gap);
  for (let j = at + 1; j <= last && words.sentence[j] === words.sentence[at]; j++) {
    if (!matchesTerm(phrase.terms[k]!, words, j)) continue;
    const end = matchRest(words, phrase, k + 1, j);
    if (end >= 0) return end;
  }
  return -1;
}

export interface PhraseMatch {
  /** Indexes of the first and last word. */
  first: number;
  last: number;
  /** The pattern that matched. */
  source: string;
}

/** The first match of each key, in text order; `negatable` keys are dropped after a denial (deniedBefore). */
export function findPhrases<K extends string>(
  words: Words,
  lexicon: Lexicon<K>,
  negatable?: ReadonlySet<K>,
): Map<K, PhraseMatch> {
  const found = new Map<K, PhraseMatch>();
  const { codes, start, end } = words;
  const { starts, byStart, byNumber } = lexicon;
  const tryEntries = (entries: Entry<K>[], i: number) => {
    for (const { alt, phrase } of entries) {
      const earlier = found.get(phrase.key);
      // The first match wins; of those starting at the same word, the tightest.
      if ((earlier !== undefined && earlier.first < i) || !matchesAlternative(alt, words, i)) continue;
      const last = matchRest(words, phrase, 1, i);
      if (last < 0 || (earlier !== undefined && earlier.last <= last)) continue;
      if (negatable?.has(phrase.key) && deniedBefore(words, i)) continue;
      found.set(phrase.key, { first: i, last, source: phrase.source });
    }
  };
  const count = start.length;
  for (let i = 0; i < count; i++) {
    const from = start[i]!;
    const length = end[i]! - from;
    const key = startKey(codes[from]!, length > 1 ? codes[from + 1]! : 0, length > 2 ? codes[from + 2]! : 0);
    const bit = key & FILTER_MASK;
    if (starts[bit >>> 5]! & (1 << (bit & 31))) {
      const entries = byStart.get(key);
      if (entries !== undefined) tryEntries(entries, i);
    }
    if (codes[from]! <= 0x39 && byNumber.length > 0 && isNumber(words, i)) tryEntries(byNumber, i);
  }
  return found;
}

const DENIAL_REACH = 8;
const denials = new Set(['never', 'никогда', 'нельзя']);
const negators = new Set(['not', "don't", 'dont', "won't", "doesn't", 'не', 'ни']);
// After a negator, verbs that turn a phrase into advice: "do not share", "не сообщайте", "не просим".
const adviceStems =
  /^(?:ask|request|share|give|disclose|send|reply|respond|click|прос|запраш|сообщ|переда|называ|говор|разглаш|отправля|пересыла|вводи|отвеча|требу|перевод)/;

/**
 * "never" earlier in the sentence (up to DENIAL_REACH words), or "not"/"не" + ask/share/сообщать…:
 * advice, not a demand ("Никогда не сообщайте никому код из СМС и данные карты").
 */
function deniedBefore(words: Words, i: number): boolean {
  for (let j = i - 1; j >= Math.max(0, i - DENIAL_REACH) && words.sentence[j] === words.sentence[i]; j--) {
    const word = wordAt(words, j);
    if (denials.has(word)) return true;
    if (negators.has(word) && adviceStems.test(wordAt(words, j + 1))) return true;
  }
  return false;
}

/** Code units from..to of words.text, as written: the source's characters they were read from. */
export function writtenText(words: Words, from: number, to: number): string {
  if (words.from === undefined || words.to === undefined || to <= from) return words.text.slice(from, to);
  return words.written.slice(words.from[from], words.to[to - 1]);
}

/** Word i as written (less the invisible characters). */
export function writtenWord(words: Words, i: number): string {
  return writtenText(words, words.start[i]!, words.end[i]!);
}

/** Words first..last as written (less the invisible characters), spaces collapsed, at most `max` characters. */
export function phraseText(words: Words, first: number, last: number, max = 80): string {
  const text = writtenText(words, words.start[first]!, words.end[last]!).replace(/\s+/g, ' ');
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
