/**
 * Names as the sender checks compare them: organisational domains, display names, brands and
 * protected people, each prepared once per list and remembered, because every message is compared
 * with the same few hundred brand names and domains.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { getDomain } from 'tldts';
import type { Brand } from './brands.ts';
import { skeleton } from './confusables.ts';

/** A protected person (executive, VIP): the names people know them by and their real addresses. */
export interface ProtectedPerson {
  names: string[];
  addresses: string[];
}

/** Registrable domain (organisational domain) of an address or host, lower case; '' when none. */
export function organisationOf(addressOrHost: string): string {
  return memo(organisations, addressOrHost, () => {
    const host = addressOrHost.slice(addressOrHost.lastIndexOf('@') + 1).toLowerCase();
    return getDomain(host) ?? host;
  });
}

/**
 * The organisational domain as an A-label, for comparing: a U-label and its A-label are one domain
 * (RFC 5890 §2.3.2.1), so "münchen.example" and "xn--mnchen-3ya.example" give the same key, as
 * DMARC's alignment already takes them. The name itself stays as organisationOf gives it, for display.
 */
export function organisationKey(addressOrHost: string): string {
  return memo(organisationKeys, addressOrHost, () => {
    const organisation = organisationOf(addressOrHost);
    return domainToASCII(organisation) || organisation;
  });
}

/** Whether two addresses or hosts belong to one organisational domain, whichever label form each is in. */
export function sameOrganisation(a: string, b: string): boolean {
  return organisationOf(a) === organisationOf(b) || organisationKey(a) === organisationKey(b);
}

// Every message compares its sender with the same few hundred brand names and domains: remember them.
const organisations = new Map<string, string>();
const organisationKeys = new Map<string, string>();
const normalNames = new Map<string, string>();
const nameKeys = new Map<string, string>();
const looseNameKeys = new Map<string, string>();
/** Longer strings (a display name can be 200 KB) are worked out each time, not kept in memory. */
const MEMO_KEY_LIMIT = 256;
function memo(cache: Map<string, string>, key: string, compute: () => string): string {
  if (key.length > MEMO_KEY_LIMIT) return compute();
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= 20_000) cache.clear();
    value = compute();
    cache.set(key, value);
  }
  return value;
}

/** A brand list by organisational domain and by domain as lookalikeOf names it, built once per list. */
export interface BrandIndex {
  byOrganisation: Map<string, Brand>;
  byDomain: Map<string, Brand>;
  domains: readonly string[];
}
const brandIndexes = new WeakMap<readonly Brand[], BrandIndex>();

export function brandIndex(brands: readonly Brand[]): BrandIndex {
  let index = brandIndexes.get(brands);
  if (!index) {
    index = { byOrganisation: new Map(), byDomain: new Map(), domains: brands.flatMap((b) => b.domains) };
    for (const brand of brands) {
      for (const d of brand.domains) {
        if (!index.byOrganisation.has(organisationOf(d))) index.byOrganisation.set(organisationOf(d), brand);
        const unicode = domainToUnicode(organisationOf(d)) || organisationOf(d);
        if (!index.byDomain.has(unicode)) index.byDomain.set(unicode, brand);
      }
    }
    brandIndexes.set(brands, index);
  }
  return index;
}

/**
 * Default_Ignorable_Code_Point (Unicode UAX #44 §5.3): characters drawn as nothing, among them the
 * zero-width space and joiners, the soft hyphen and the bidi controls. In a name they hide nothing a
 * reader sees, so "Pay\u200bPal" is PayPal (UTS #39 §4 drops them from skeletons for this reason).
 */
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
/**
 * The Hangul fillers: UAX #44 lists them as Default_Ignorable, yet they are letters (gc=Lo) that fonts
 * draw as a blank of a letter's width wherever they do not stand inside a Hangul syllable. U+3164 and
 * its halfwidth form U+FFA0 are spacing compatibility jamo; U+115F and U+1160 are the conjoining
 * fillers, which NFKC makes of them. "Ivan\u3164Petrov" is read as two words, so they separate words
 * before the other ignorables are dropped.
 */
const BLANK_FILLERS = /[\u115f\u1160\u3164\uffa0]/g;

/** What a reader sees of a name's letters: NFKC, the blank fillers as spaces, the invisible characters gone. */
function drawn(s: string): string {
  return s.normalize('NFKC').replace(BLANK_FILLERS, ' ').replace(IGNORABLE, '');
}
/** UTS #46 §2.3 (and RFC 3490 §3.1): U+3002, U+FF0E and U+FF61 separate domain labels as "." does. */
const IDNA_DOTS = /[\u3002\uff0e\uff61]/g;

/**
 * A display name as a reader sees it, for the checks on what it shows: NFKC (fullwidth and other
 * compatibility forms as the letters they show), text under bidi embeddings and overrides in the order
 * it is drawn, invisible characters dropped, the dots IDNA reads as dots written as ".". When the
 * controls reorder something, the text as written is returned too: a reader that ignores them shows that.
 */
export function shownForms(name: string): string[] {
  const compatible = name.normalize('NFKC').replace(IDNA_DOTS, '.').replace(BLANK_FILLERS, ' ');
  const written = compatible.replace(IGNORABLE, '').trim();
  if (!BIDI_CONTROL.test(compatible)) return [written];
  const reordered = bidiDrawn(compatible).replace(IGNORABLE, '').trim();
  return reordered === written ? [written] : [reordered, written];
}

const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;

/**
 * Text in display order as far as the explicit bidi formatting characters decide it (UAX #9 §3.3.2
 * X1–X8 for the levels, §3.4 L2 for the reversal), in a left-to-right paragraph: "\u202Eur.elpmaxe@ti"
 * is drawn "it@example.ru". Not modelled: the implicit levels of right-to-left letters (Hebrew, Arabic),
 * which reorder only right-to-left text, not the Latin addresses and names these checks look for.
 */
function bidiDrawn(text: string): string {
  type Frame = { level: number; override: 'L' | 'R' | undefined; isolate: boolean };
  const stack: Frame[] = [{ level: 0, override: undefined, isolate: false }];
  const chars: string[] = [];
  const levels: number[] = [];
  const MAX_DEPTH = 125; // X1: max_depth
  for (const ch of text) {
    const top = stack.at(-1)!;
    const odd = top.level % 2 === 1;
    const nextOdd = top.level + (odd ? 2 : 1);
    const nextEven = top.level + (odd ? 1 : 2);
    switch (ch) {
      case '\u202b': // RLE
      case '\u202e': // RLO
        if (nextOdd <= MAX_DEPTH)
          stack.push({ level: nextOdd, override: ch === '\u202e' ? 'R' : undefined, isolate: false });
        continue;
      case '\u202a': // LRE
      case '\u202d': // LRO
        if (nextEven <= MAX_DEPTH)
          stack.push({ level: nextEven, override: ch === '\u202d' ? 'L' : undefined, isolate: false });
        continue;
      case '\u2067': // RLI
        if (nextOdd <= MAX_DEPTH) stack.push({ level: nextOdd, override: undefined, isolate: true });
        continue;
      case '\u2066': // LRI
      case '\u2068': // FSI, taken as LRI: the first strong letter of a name is Latin or Cyrillic here
        if (nextEven <= MAX_DEPTH) stack.push({ level: nextEven, override: undefined, isolate: true });
        continue;
      case '\u202c': // PDF: ends the innermost embedding or override, not an isolate (X7)
        if (stack.length > 1 && !top.isolate) stack.pop();
        continue;
      case '\u2069': // PDI: ends the innermost isolate and what was opened inside it (X6a)
        while (stack.length > 1 && !stack.at(-1)!.isolate) stack.pop();
        if (stack.length > 1) stack.pop();
        continue;
    }
    chars.push(ch);
    // Under an override every character takes its direction (X6); otherwise left-to-right text at an
    // odd level goes one up (I2), so it is drawn in its own order.
    levels.push(top.override !== undefined || !odd ? top.level : top.level + 1);
  }
  // L2: from the highest level down to the lowest odd one, reverse every run at that level or higher.
  let highest = 0;
  for (const level of levels) if (level > highest) highest = level;
  for (let level = highest; level >= 1; level--) {
    for (let i = 0; i < chars.length; ) {
      if (levels[i]! < level) {
        i++;
        continue;
      }
      let end = i;
      while (end < chars.length && levels[end]! >= level) end++;
      reverse(chars, i, end);
      reverse(levels, i, end);
      i = end;
    }
  }
  return chars.join('');
}

function reverse<T>(items: T[], from: number, to: number): void {
  for (let a = from, b = to - 1; a < b; a++, b--) [items[a], items[b]] = [items[b]!, items[a]!];
}

export function normalName(s: string): string {
  return memo(normalNames, s, () => wordsOf(drawn(s)));
}

/** Lower case, ё as е, every run of what is not a letter or digit one space. */
function wordsOf(s: string): string {
  return s
    .toLowerCase()
    .replaceAll('ё', 'е')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/**
 * A name as the people and brand checks compare it: normalName with every letter that has a Latin
 * lookalike written as that Latin letter, so "Ivаn Petrоv" with Cyrillic а and о is Ivan Petrov, and
 * "Cбербанк" with a Latin C is Сбербанк. Words split as normalName splits them.
 */
export function nameKey(s: string): string {
  return memo(nameKeys, s, () => latinFold(normalName(s)));
}

/**
 * nameKey with the capital I, the small l, the digit 1 and the vertical bar taken as one letter: in
 * the sans-serif fonts mail readers show names in they are drawn alike (UTS #39 §4 gives all four the
 * skeleton "l"), so "lvan Petrov" and "PayPaI" read as Ivan Petrov and PayPal. Case is looked at
 * before it is folded: a small i, with its dot, is not confused with l, so "ivan" keys as itself.
 * Matched beside nameKey, never instead: nameKey keeps "lvan" and "Ivan" apart, for display and the other checks.
 */
export function looseNameKey(s: string): string {
  return memo(looseNameKeys, s, () => wordsOf(latinFold(drawn(s)).replace(/[I1|]/g, 'l')));
}

/**
 * Each letter that the UTS #39 confusables data maps to one Latin letter (its skeleton, §4, in either
 * case: Cyrillic "к" has the skeleton "ĸ", its capital "К" the skeleton "K") written as that letter,
 * in the letter's own case. ASCII is left alone: the whole skeleton would also take "rn" for "m" and
 * "1" for "l", making the surname Stearn the brand Steam. Linear in the length.
 */
function latinFold(s: string): string {
  let out = '';
  for (const ch of s) out += ch < '\u0080' ? ch : (latinLookalike(ch) ?? ch);
  return out;
}

const lookalikes = new Map<string, string | null>();

function latinLookalike(ch: string): string | undefined {
  let found = lookalikes.get(ch);
  if (found === undefined) {
    found = null;
    if (/\p{L}/u.test(ch)) {
      for (const form of [ch, ch.toUpperCase(), ch.toLowerCase()]) {
        const prototype = skeleton(form);
        if (/^[A-Za-z]$/.test(prototype)) {
          found = ch === ch.toLowerCase() ? prototype.toLowerCase() : prototype.toUpperCase();
          break;
        }
      }
    }
    if (lookalikes.size >= 4096) lookalikes.clear(); // bounded: a hostile name may bring many distinct letters
    lookalikes.set(ch, found);
  }
  return found ?? undefined;
}

/** Each person's names as word lists, by nameKey and by looseNameKey, built once per list. */
type PersonName = { person: ProtectedPerson; words: string[]; loose: string[] };
const preparedPeople = new WeakMap<readonly ProtectedPerson[], PersonName[]>();

/**
 * "Ivan Petrov" matches "Petrov Ivan", "IVAN PETROV (CEO)", "Ivan Petrov via Gmail", "Ivаn Petrоv" in
 * Cyrillic а, о, "lvan Petrov" with a small l, and "I. Petrov" or "Петров И.С.": a name may be signed
 * with initials, so every word but one may be shown as its initial, a letter with a dot after it. The
 * dot is needed: "Петров и партнёры" (Petrov and partners) shows the word "и", not Иван's initial.
 */
export function personNamed(shown: string, people: readonly ProtectedPerson[]): ProtectedPerson | undefined {
  if (people.length === 0) return undefined;
  let names = preparedPeople.get(people);
  if (!names) {
    const split = (key: string) => key.split(' ').filter(Boolean);
    names = people.flatMap((person) =>
      person.names.map((n) => ({ person, words: split(nameKey(n)), loose: split(looseNameKey(n)) })),
    );
    preparedPeople.set(people, names);
  }
  // Worked out when needed, once: a display name can be 200 KB.
  const folded = lazy(() => latinFold(drawn(shown)));
  // An address's local part is no signature: "i.petrov@…" shows an address (display-name-address), not initials.
  const signed = lazy(() =>
    folded()
      .split(/\s+/)
      .filter((token) => !token.includes('@'))
      .join(' '),
  );
  const strict = { words: new Set(nameKey(shown).split(' ')), initials: lazy(() => initialsIn(signed())) };
  const loose = {
    words: new Set(wordsOf(folded().replace(/[I1|]/g, 'l')).split(' ')),
    initials: lazy(() => initialsIn(signed().replace(/[I1|]/g, 'l'))),
  };
  return names.find((n) => namedBy(n.words, strict) || namedBy(n.loose, loose))?.person;
}

type Shown = { words: ReadonlySet<string>; initials: () => ReadonlySet<string> };

/** Every word of a name is shown, in full or as its initial, and at least one in full. */
function namedBy(words: readonly string[], shown: Shown): boolean {
  let full = 0;
  for (const w of words) {
    if (shown.words.has(w)) full++;
    else if (!shown.initials().has(String.fromCodePoint(w.codePointAt(0)!))) return false;
  }
  return full > 0;
}

/** The letters written as initials, a letter alone before a dot ("I. Petrov", "Петров И.С."), as nameKey writes them. */
function initialsIn(cased: string): Set<string> {
  const found = new Set<string>();
  for (const [letter] of cased.matchAll(/(?<![\p{L}\p{N}])\p{L}(?=\.)/gu)) {
    found.add(letter.toLowerCase().replace('ё', 'е'));
  }
  return found;
}

function lazy<T>(compute: () => T): () => T {
  let value: { v: T } | undefined;
  return () => {
    value ??= { v: compute() };
    return value.v;
  };
}

/** A brand's names as the display-name check needs them, prepared once per brand list. */
type BrandName = { brand: Brand; needle: string; loose?: string; exactCase?: RegExp };
const preparedBrands = new WeakMap<readonly Brand[], BrandName[]>();

function brandNames(brands: readonly Brand[]): BrandName[] {
  let prepared = preparedBrands.get(brands);
  if (!prepared) {
    prepared = brands.flatMap((brand) =>
      brand.names.map((n) => {
        const needle = nameKey(n);
        // Short brand names (UPS, VK, ВТБ) only in their own case, so "ups" in a sentence is not UPS.
        const exactCase =
          needle.length < 4 ? new RegExp(`(^|[^\\p{L}])${escapeRegExp(casedKey(n))}($|[^\\p{L}])`, 'u') : undefined;
        // The I/l-blind key only for longer names: "Il" or "LG" collapse into other short names.
        const loose = exactCase ? undefined : looseNameKey(n);
        return {
          brand,
          needle: ` ${needle} `,
          ...(loose ? { loose: ` ${loose} ` } : {}),
          ...(exactCase ? { exactCase } : {}),
        };
      }),
    );
    preparedBrands.set(brands, prepared);
  }
  return prepared;
}

/** The name with its case, for the short brand names matched only in their own case. */
function casedKey(s: string): string {
  return latinFold(drawn(s));
}

/** The brand whose name a display name shows: "PayPal", "Pay\u200bPal", "PаyPаl" with Cyrillic а, "PayPaI" with a capital I. */
export function brandNamedIn(name: string, brands: readonly Brand[]): Brand | undefined {
  const hay = ` ${nameKey(name)} `;
  let cased: string | undefined;
  let looseHay: string | undefined;
  for (const b of brandNames(brands)) {
    if (b.needle === '  ') continue;
    if (!hay.includes(b.needle)) {
      if (b.loose === undefined || b.loose === '  ') continue;
      looseHay ??= ` ${looseNameKey(name)} `;
      // Without an I, 1 or | the two keys are one: nothing more to find.
      if (looseHay !== hay && looseHay.includes(b.loose)) return b.brand;
      continue;
    }
    cased ??= casedKey(name);
    if (!b.exactCase || b.exactCase.test(cased)) return b.brand;
  }
  return undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
