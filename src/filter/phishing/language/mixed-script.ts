/**
 * Words that mix Latin, Cyrillic and Greek letters (issue 8, "Language"): "пapoль" with Latin a and o,
 * "Sberbаnk" with a Cyrillic а, "Pαypal" with a Greek α. Honest text almost never does this inside one
 * word (UTS #39 §5.1 calls a string with letters of two or more scripts mixed-script); phishing does it
 * to slip past word filters or to imitate a brand. Letters only: digits, hyphens and apostrophes split
 * words before they get here, so "COVID-19", "iPhone-ом" or "α-helix" are not mixed.
 */

export const LATIN = 1;
export const CYRILLIC = 2;
export const GREEK = 4;
/** Every script bit: a word's mask with two or more of them set is mixed. */
const SCRIPTS = LATIN | CYRILLIC | GREEK;

export type ScriptName = 'Latin' | 'Cyrillic' | 'Greek';
const scripts = [LATIN, CYRILLIC, GREEK] as const;
const names: Record<number, ScriptName> = { [LATIN]: 'Latin', [CYRILLIC]: 'Cyrillic', [GREEK]: 'Greek' };

/** Which scripts a word's letters belong to, as a bit mask of LATIN, CYRILLIC and GREEK. */
export function scriptsOf(word: string): number {
  let mask = 0;
  for (let i = 0; i < word.length; i++) mask |= scriptOfCode(word.charCodeAt(i));
  return mask;
}

// The letters of the Greek and Coptic block and of Greek Extended, asked of the regex engine once: the
// blocks also hold signs that are no letters (tonos, the Greek question mark ";", spacing breathings).
// Index c - 0x370 for the first block, c - 0x1f00 + 0x90 for the second.
const greekLetters = new Uint8Array(0x90 + 0x100);
for (let i = 0; i < greekLetters.length; i++) {
  const c = i < 0x90 ? 0x370 + i : 0x1f00 + i - 0x90;
  greekLetters[i] = /\p{L}/u.test(String.fromCharCode(c)) ? 1 : 0;
}

/**
 * Unicode blocks Basic Latin..Latin Extended-B, Latin Extended Additional; Cyrillic and its supplements;
 * Greek and Coptic, Greek Extended. The micro sign µ (U+00B5) is in none: "µm" is a unit, not Greek.
 */
export function scriptOfCode(c: number): number {
  if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) ? LATIN : 0;
  if (c >= 0x400 && c <= 0x52f) return CYRILLIC;
  if (c >= 0xc0 && c <= 0x24f) return c === 0xd7 || c === 0xf7 ? 0 : LATIN;
  if (c >= 0x370 && c <= 0x3ff) return greekLetters[c - 0x370] ? GREEK : 0;
  if (c >= 0x1e00 && c <= 0x1eff) return LATIN;
  if (c >= 0x1f00 && c <= 0x1fff) return greekLetters[c - 0x1f00 + 0x90] ? GREEK : 0;
  if ((c >= 0x1c80 && c <= 0x1c8f) || (c >= 0x2de0 && c <= 0x2dff) || (c >= 0xa640 && c <= 0xa69f)) return CYRILLIC;
  return 0;
}

/** True for a mask with two or more script bits. */
export function isMixedMask(mask: number): boolean {
  const m = mask & SCRIPTS;
  return (m & (m - 1)) !== 0;
}

export function isMixedScript(word: string): boolean {
  return isMixedMask(scriptsOf(word));
}

// Letters that look alike across the scripts (or whose capitals do: м/M, т/T, в/B, н/H, к/K), after the
// UTS #39 confusables; used to read a disguised word as the word it pretends to be. A fold reads a letter
// as written, capitals included: Greek Υ passes for Y, but υ for u; Η for H, but η for no Latin letter.
const latinCyrillic = 'aа eе oо pр cс xх yу kк mм tт bв hн iі jј sѕ';
const greekLatin = 'αa οo ρp νv ιi κk τt υu χx εe ϲc ϳj ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX ϹC ͿJ';
const greekCyrillic = 'οо αа ρр εе κк τт χх υу ϲс ΟО ΑА ΡР ΕЕ ΚК ΤТ ΧХ ΥУ ΒВ ΗН ΜМ ΙІ ϹС';
/** By target script: the letters of the other two that pass for one of its letters, and that letter. */
const lookAlikes: Record<number, Map<string, string>> = {
  [LATIN]: new Map(),
  [CYRILLIC]: new Map(),
  [GREEK]: new Map(),
};
function addPair(from: number, to: number, a: string, b: string): void {
  lookAlikes[to]!.set(a, b);
  if (!lookAlikes[from]!.has(b)) lookAlikes[from]!.set(b, a);
}
function addPairs(list: string, from: number, to: number, withCapitals: boolean): void {
  for (const pair of list.split(' ')) {
    const [a, b] = [...pair] as [string, string];
    addPair(from, to, a, b);
    if (withCapitals) addPair(from, to, a.toUpperCase(), b.toUpperCase());
  }
}
addPairs(latinCyrillic, LATIN, CYRILLIC, true);
addPairs(greekLatin, GREEK, LATIN, false);
addPairs(greekCyrillic, GREEK, CYRILLIC, false);

/** Letter count by script (indexed by the script's bit), for word length, majority and disguise. */
function counts(word: string): number[] {
  const n = [0, 0, 0, 0, 0];
  for (let i = 0; i < word.length; i++) n[scriptOfCode(word.charCodeAt(i))]!++;
  n[0] = 0;
  return n;
}

/**
 * The disguise and the main script of a mixed word. The disguise has the fewest letters, or on a tie the
 * letters that all have a look-alike in another script of the word ("пapoль": a, p, o could pass for
 * Cyrillic; п, л, ь could not pass for Latin); the main script has the most letters, or on a tie the
 * letters that could not all be a disguise. A word of three scripts has two foreign ones ("pаsswοrd").
 */
function roles(word: string): { main: number; foreign: number[]; n: number[] } {
  const n = counts(word);
  const present = scripts.filter((s) => n[s]! > 0);
  if (present.length < 2) return { main: present[0] ?? 0, foreign: [], n };
  const mask = present.reduce((m, s) => m | s, 0);
  let unlike = 0; // scripts with a letter that passes for no letter of the word's other scripts
  const tie = present.some((a) => present.some((b) => a !== b && n[a] === n[b]));
  if (tie)
    for (const ch of word) {
      const s = scriptOfCode(ch.charCodeAt(0));
      if (s === 0 || (unlike & s) !== 0) continue;
      if (!scripts.some((t) => t !== s && (mask & t) !== 0 && lookAlikes[t]!.has(ch))) unlike |= s;
      if (unlike === mask) break;
    }
  const alike = (s: number) => ((unlike & s) === 0 ? 1 : 0);
  // Fewest letters first; then those that could pass for another script; then Greek, Cyrillic, Latin.
  const ranked = present.sort((a, b) => n[a]! - n[b]! || alike(b) - alike(a) || b - a);
  return { main: ranked[ranked.length - 1]!, foreign: ranked.slice(0, -1), n };
}

/** The scripts a word mixes, in the order Latin, Cyrillic, Greek. */
export function scriptNamesOf(word: string): ScriptName[] {
  const mask = scriptsOf(word);
  return scripts.filter((s) => (mask & s) !== 0).map((s) => names[s]!);
}

/**
 * The letters of each script that is not the word's main one, without repeats, the disguise first:
 * "Sberbаnk" → а (Cyrillic); "pаsswοrd" → а (Cyrillic), ο (Greek).
 */
export function foreignLetterGroups(word: string): { letters: string[]; script: ScriptName }[] {
  return roles(word).foreign.map((script) => {
    const letters = new Set<string>();
    for (const ch of word) if (scriptOfCode(ch.charCodeAt(0)) === script) letters.add(ch);
    return { letters: [...letters], script: names[script]! };
  });
}

/**
 * A mixed-script word worth reporting: at least `minLetters` letters of its scripts. Greek letters also
 * serve as symbols glued to Latin words ("μmol", "ΔpH", "λmax", "TNFα"), so a word with Greek letters
 * and no Latin-Cyrillic mix is reported only when one of its Greek letters passes for a letter of its
 * other script (α for a, Ρ for P, ο for о), and not when small Greek letters stand at the start or end of
 * a Latin acronym ("TNFα", "ERβ", "αKG"): a disguise of a word in capitals needs Greek capitals.
 */
export function isSuspiciousMixedWord(word: string, minLetters = 3): boolean {
  const n = counts(word);
  const mask = scripts.reduce((m, s) => (n[s]! > 0 ? m | s : m), 0);
  if (!isMixedMask(mask) || n[LATIN]! + n[CYRILLIC]! + n[GREEK]! < minLetters) return false;
  if ((mask & (LATIN | CYRILLIC)) === (LATIN | CYRILLIC)) return true;
  if (isAcronymWithGreekSymbol(word)) return false;
  const other = lookAlikes[mask & ~GREEK]!; // Latin's or Cyrillic's: the word has one of them
  for (const ch of word) if (scriptOfCode(ch.charCodeAt(0)) === GREEK && other.has(ch)) return true;
  return false;
}

/** Latin capitals (digits allowed) with small Greek letters only before and after them: "TNFα", "β2AR". */
function isAcronymWithGreekSymbol(word: string): boolean {
  let state = 0; // 0 leading Greek, 1 Latin capitals, 2 trailing Greek
  for (const ch of word) {
    const s = scriptOfCode(ch.charCodeAt(0));
    if (s === 0) continue;
    const small = ch !== ch.toUpperCase();
    if (s === GREEK && small) {
      if (state === 1) state = 2;
    } else if (s === LATIN && !small && state < 2) state = 1;
    else return false;
  }
  return state !== 0;
}

/**
 * A mixed word rewritten in its main script, letter case kept: "пapoль" → "пароль", "sberbаnk" →
 * "sberbank", "pαssword" → "password", "ΥOUR" → "YOUR". Letters without a look-alike stay as they are.
 */
export function foldToMajorityScript(word: string): string {
  const { main } = roles(word);
  const table = lookAlikes[main];
  if (table === undefined) return word;
  let out = '';
  for (const ch of word) out += table.get(ch) ?? ch; // the main script's own letters are no keys
  return out;
}
