/**
 * Words that mix Cyrillic and Latin letters (issue 8, "Language"): "пapoль" with Latin a and o, "Sberbаnk"
 * with a Cyrillic а. Honest text almost never does this inside one word (UTS #39 §5.1 calls such a string
 * mixed-script); phishing does it to slip past word filters or to imitate a brand. Letters only: digits,
 * hyphens and apostrophes split words before they get here, so "COVID-19" or "iPhone-ом" are not mixed.
 */

export const LATIN = 1;
export const CYRILLIC = 2;

/** Which of the two scripts a word's letters belong to, as a bit mask (LATIN | CYRILLIC). */
export function scriptsOf(word: string): number {
  let mask = 0;
  for (let i = 0; i < word.length; i++) mask |= scriptOfCode(word.charCodeAt(i));
  return mask;
}

/** Unicode blocks Basic Latin..Latin Extended-B, Latin Extended Additional; Cyrillic and its supplements. */
export function scriptOfCode(c: number): number {
  if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) ? LATIN : 0;
  if (c >= 0x400 && c <= 0x52f) return CYRILLIC;
  if (c >= 0xc0 && c <= 0x24f) return c === 0xd7 || c === 0xf7 ? 0 : LATIN;
  if (c >= 0x1e00 && c <= 0x1eff) return LATIN;
  if ((c >= 0x1c80 && c <= 0x1c8f) || (c >= 0x2de0 && c <= 0x2dff) || (c >= 0xa640 && c <= 0xa69f)) return CYRILLIC;
  return 0;
}

export function isMixedScript(word: string): boolean {
  return scriptsOf(word) === (LATIN | CYRILLIC);
}

/** Letter count by script, for word length and the majority. */
function counts(word: string): { latin: number; cyrillic: number } {
  let latin = 0;
  let cyrillic = 0;
  for (let i = 0; i < word.length; i++) {
    const s = scriptOfCode(word.charCodeAt(i));
    if (s === LATIN) latin++;
    else if (s === CYRILLIC) cyrillic++;
  }
  return { latin, cyrillic };
}

/** A mixed-script word worth reporting: at least `minLetters` letters of the two scripts. */
export function isSuspiciousMixedWord(word: string, minLetters = 3): boolean {
  const { latin, cyrillic } = counts(word);
  return latin > 0 && cyrillic > 0 && latin + cyrillic >= minLetters;
}

/**
 * The script of the disguise: the one with fewer letters, or on a tie the one whose letters all have a
 * look-alike in the other ("пapoль": a, p, o could pass for Cyrillic; п, л, ь could not pass for Latin).
 */
function disguiseScript(word: string): number {
  const { latin, cyrillic } = counts(word);
  if (latin !== cyrillic) return latin < cyrillic ? LATIN : CYRILLIC;
  for (const ch of word) if (scriptOfCode(ch.charCodeAt(0)) === CYRILLIC && !toLatin.has(ch)) return LATIN;
  return CYRILLIC;
}

/** The letters of the disguise script, without repeats: "Sberbаnk" → ['а'], "пapoль" → ['a', 'p', 'o']. */
export function foreignLetters(word: string): { letters: string[]; script: 'Latin' | 'Cyrillic' } {
  const foreign = disguiseScript(word);
  const letters = new Set<string>();
  for (const ch of word) if (scriptOfCode(ch.charCodeAt(0)) === foreign) letters.add(ch);
  return { letters: [...letters], script: foreign === CYRILLIC ? 'Cyrillic' : 'Latin' };
}

// Lower-case letters that look alike in the two scripts (or whose capitals do: м/M, т/T, в/B, н/H, к/K),
// after the UTS #39 confusables; used to read a disguised word as the word it pretends to be.
const pairs = 'aа eе oо pр cс xх yу kк mм tт bв hн iі jј sѕ';
const toCyrillic = new Map<string, string>();
const toLatin = new Map<string, string>();
for (const pair of pairs.split(' ')) {
  toCyrillic.set(pair[0]!, pair[1]!);
  toLatin.set(pair[1]!, pair[0]!);
}

/** A lower-case mixed word rewritten in its main script: "пapoль" → "пароль", "sberbаnk" → "sberbank". */
export function foldToMajorityScript(word: string): string {
  const table = disguiseScript(word) === LATIN ? toCyrillic : toLatin;
  let out = '';
  for (const ch of word) out += table.get(ch) ?? ch;
  return out;
}
