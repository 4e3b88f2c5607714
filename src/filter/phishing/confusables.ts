/**
 * Unicode UTS #39 "Unicode Security Mechanisms": the §4 skeleton() used to decide whether two strings are
 * confusable, and the §5.1 single-script test over augmented Script_Extensions.
 *
 * Data: the prototype table of confusables.txt, Unicode 13.0.0, as shipped in the npm package `unhomoglyph`
 * 1.0.6 (`data.json`; package MIT, data © Unicode, Inc., Unicode License). No npm package ships a newer
 * confusables.txt; Unicode 14–17 added few mappings, none for Latin, Cyrillic, Greek or digits.
 * Script_Extensions come from the ICU in Node (Unicode 17) through `\p{Script_Extensions=…}`.
 * Does not do: §5.2 restriction levels beyond single-script, whole-script confusables, bidi checks.
 */
import { createRequire } from 'node:module';

const prototypes = new Map<string, string>(
  Object.entries(createRequire(import.meta.url)('unhomoglyph/data.json') as Record<string, string>),
);

/** UTS #39 §4: skeleton(X) = NFD(map each character of NFD(X) to its prototype). */
export function skeleton(s: string): string {
  let out = '';
  for (const ch of s.normalize('NFD')) out += prototypes.get(ch) ?? ch;
  return out.normalize('NFD');
}

/** Scripts we name; a character in none of them counts as a script of its own (its code point). */
const scripts = [
  'Latin',
  'Cyrillic',
  'Greek',
  'Armenian',
  'Georgian',
  'Hebrew',
  'Arabic',
  'Syriac',
  'Thaana',
  'Nko',
  'Cherokee',
  'Coptic',
  'Glagolitic',
  'Ethiopic',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Oriya',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Sinhala',
  'Thai',
  'Lao',
  'Tibetan',
  'Myanmar',
  'Khmer',
  'Mongolian',
  'Han',
  'Hiragana',
  'Katakana',
  'Hangul',
  'Bopomofo',
  'Canadian_Aboriginal',
  'Lisu',
  'Vai',
  'Tifinagh',
  'Runic',
  'Ogham',
  'Osage',
  'Adlam',
] as const;
const patterns = scripts.map((name) => [name, new RegExp(`\\p{Script_Extensions=${name}}`, 'u')] as const);
const common = /[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]/u;

/** UTS #39 §5.1 augmented script sets: Han, kana and Hangul also count as Jpan/Kore/Hanb. */
const augmented: Partial<Record<string, string[]>> = {
  Han: ['Hanb', 'Jpan', 'Kore'],
  Hiragana: ['Jpan'],
  Katakana: ['Jpan'],
  Hangul: ['Kore'],
  Bopomofo: ['Hanb'],
};

/** Script_Extensions of one character; undefined for Common/Inherited (they fit any script, §5.1). */
export function scriptsOf(ch: string): string[] | undefined {
  if (/^[a-z]$/i.test(ch)) return ['Latin'];
  if (ch.length === 1 && ch.charCodeAt(0) < 0x80) return undefined; // digits, hyphen: Common
  if (common.test(ch)) return undefined;
  const found = patterns.filter(([, re]) => re.test(ch)).map(([name]) => name);
  if (found.length === 0) return [`U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase()}`];
  return found.flatMap((name) => [name, ...(augmented[name] ?? [])]);
}

/** UTS #39 §5.1: single-script iff the intersection of the characters' augmented script sets is non-empty. */
export function isSingleScript(label: string): boolean {
  let resolved: Set<string> | undefined; // undefined = ALL
  for (const ch of label) {
    const set = scriptsOf(ch);
    if (set === undefined) continue;
    resolved = resolved === undefined ? new Set(set) : new Set(set.filter((s) => resolved?.has(s)));
    if (resolved.size === 0) return false;
  }
  return true;
}

/** The first script a character belongs to, for explanations ('Cyrillic'); undefined for Common. */
export function scriptOf(ch: string): string | undefined {
  return scriptsOf(ch)?.[0];
}
