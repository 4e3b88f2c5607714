/**
 * Postfix regexp_table(5) patterns compiled for a linear-time engine. Postfix hands the pattern to
 * POSIX regcomp(3) (REG_EXTENDED | REG_ICASE by default); we translate POSIX ERE (or BRE, when the
 * `x` flag turns extended syntax off) to RE2 syntax and run it with re2js, a pure-JavaScript port
 * of RE2/J: matching time is linear in the input, so no rule can cause catastrophic backtracking.
 *
 * Where POSIX and RE2 differ: backreferences (`\1`) and lookaround cannot be expressed in RE2 and
 * are refused at load time; `\<` and `\>` (GNU word edges) become `\b`; a backslash inside a bracket
 * expression is literal in POSIX (re_format(7)) and is escaped for RE2; collating elements
 * (`[[.x.]]`) and equivalence classes (`[[=x=]]`) are refused. Escapes POSIX leaves undefined
 * (`\d`, `\n`, `\t`) keep their RE2 meaning. Matching is leftmost-longest, as POSIX requires.
 * Does not support PCRE tables (pcre_table(5)).
 */

import { RE2JS } from 're2js';

export interface PatternFlags {
  caseInsensitive: boolean; // regexp_table(5) `i`: on by default, the flag toggles it
  extended: boolean; // `x`: ERE by default; toggled off, BRE
  multiline: boolean; // `m`: REG_NEWLINE, ^ and $ also match at embedded newlines
}

export const DEFAULT_FLAGS: PatternFlags = { caseInsensitive: true, extended: true, multiline: false };

/** A pattern the engine cannot run; the rule-file parser adds the file and line. */
export class PatternError extends Error {
  readonly code = 'ERR_CONTENT_RULE_PATTERN';
}

export interface CompiledPattern {
  source: string; // as written in the rule file
  groups: number; // capturing groups, for $n checks
  /**
   * Texts of which every match contains one (prefilter, requiredTexts): lower-cased when `foldCase`,
   * to look for in the lower-cased input; undefined when none could be found. An input without any of
   * them cannot match, so RE2 is not run.
   */
  required: readonly string[] | undefined;
  foldCase: boolean;
  /** Groups 0..n of the first match, or undefined when the pattern does not match. */
  exec(input: string): (string | null)[] | undefined;
}

export function compilePattern(source: string, flags: PatternFlags = DEFAULT_FLAGS): CompiledPattern {
  const translated = translate(source, flags);
  let flagBits = RE2JS.LONGEST_MATCH; // POSIX leftmost-longest (regcomp(3))
  if (flags.caseInsensitive) flagBits |= RE2JS.CASE_INSENSITIVE;
  // Without REG_NEWLINE POSIX `.` matches a newline (regcomp(3)); with it, ^ and $ match at line edges.
  flagBits |= flags.multiline ? RE2JS.MULTILINE : RE2JS.DOTALL;
  let re: RE2JS;
  try {
    re = RE2JS.compile(translated, flagBits);
  } catch (err) {
    throw new PatternError(`invalid pattern /${source}/: ${(err as Error).message}`, { cause: err });
  }
  const groups = re.groupCount();
  return {
    source,
    groups,
    required: requiredTexts(translated, flags.caseInsensitive),
    foldCase: flags.caseInsensitive,
    exec(input) {
      const m = re.matcher(input);
      if (!m.find()) return undefined;
      const out: (string | null)[] = [];
      for (let g = 0; g <= groups; g++) out.push(m.group(g));
      return out;
    },
  };
}

/** POSIX ERE/BRE → RE2 syntax. Throws PatternError for what RE2 cannot do. */
export function translate(source: string, flags: PatternFlags = DEFAULT_FLAGS): string {
  let out = '';
  let i = 0;
  const atStart = () => out === '' || out.endsWith('(') || out.endsWith('|') || out === '^';
  while (i < source.length) {
    const c = source[i] as string;
    if (c === '[') {
      const [text, next] = bracket(source, i, flags);
      out += text;
      i = next;
      continue;
    }
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined) throw new PatternError(`trailing backslash in /${source}/`);
      i += 2;
      if (n >= '1' && n <= '9') throw new PatternError(`backreference \\${n} is not supported (RE2 semantics)`);
      if (n === '<' || n === '>') {
        out += '\\b'; // GNU word start/end; RE2 has only a word boundary
        continue;
      }
      if (!flags.extended && '(){}|+?'.includes(n)) {
        out += n; // BRE: \( \) \{ \} are operators; \| \+ \? are GNU extensions
        continue;
      }
      out += `\\${n}`;
      continue;
    }
    if (c === '(' && source[i + 1] === '?' && flags.extended) {
      const kind = /^\(\?<?[=!]/.test(source.slice(i)) ? 'lookaround' : '(?...) group';
      throw new PatternError(`${kind} is not supported in /${source}/ (POSIX ERE, RE2 semantics)`);
    }
    if (!flags.extended && '(){}|+?'.includes(c)) {
      out += `\\${c}`; // literal in BRE
      i++;
      continue;
    }
    if (c === '*' && atStart()) {
      out += '\\*'; // POSIX: a leading * is literal
      i++;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

// A POSIX bracket expression (re_format(7)): `]` first is literal, backslash is literal.
function bracket(source: string, start: number, flags: PatternFlags): [string, number] {
  let i = start + 1;
  let out = '[';
  if (source[i] === '^') {
    out += '^';
    i++;
    if (flags.multiline) out += '\\n'; // REG_NEWLINE: a non-matching list never matches newline
  }
  if (source[i] === ']') {
    out += '\\]';
    i++;
  }
  while (i < source.length) {
    const c = source[i] as string;
    if (c === ']') return [`${out}]`, i + 1];
    if (c === '[' && (source[i + 1] === '.' || source[i + 1] === '=')) {
      throw new PatternError(`collating element or equivalence class [${source[i + 1]} is not supported`);
    }
    if (c === '[' && source[i + 1] === ':') {
      const end = source.indexOf(':]', i + 2);
      if (end < 0) throw new PatternError(`unterminated character class in /${source}/`);
      out += source.slice(i, end + 2); // RE2 knows the POSIX classes
      i = end + 2;
      continue;
    }
    out += c === '\\' || c === '[' ? `\\${c}` : c;
    i++;
  }
  throw new PatternError(`unterminated bracket expression in /${source}/`);
}

/** RE2 escapes of a letter that stand for one character or an empty-width test, and nothing after them. */
const SIMPLE_ESCAPES = new Set('bBdDsSwWntrfvaAz');

/**
 * Texts in an any-of set at most: past it the prefilter's scans (one per text) would cost more than
 * they save, and the rule is run as one without literal text.
 */
export const MAX_REQUIRED_TEXTS = 64;

/**
 * Texts of which every match of the translated (RE2 syntax) pattern contains at least one (an any-of
 * set), or undefined when none could be found. Conservative, and read as RE2 parses the pattern:
 * - a concatenation's candidates are its runs of literal characters and its groups that occur at
 *   least once; it requires the most selective of them (the longest shortest text, then the fewest
 *   texts). A character or group that a quantifier may repeat zero times (`*`, `?`, `{0,…}`, and
 *   anything with a lazy `?`) is no candidate; one under `+` or `{n,…}` ends its run. Bracket
 *   expressions, `.`, anchors and class escapes end a run;
 * - an alternation, at the top or in a group, requires the union of its branches' sets, and nothing
 *   when one branch requires nothing (`viagra|cialis` gives both; `viagra|x*` none);
 * - `\Q`, or an escape it does not know anywhere in the pattern gives none.
 * Runs shorter than two characters are left out. Under case folding only ASCII characters count and
 * `k` and `s` not even those: RE2 folds them to U+212A KELVIN SIGN and U+017F LONG S, which
 * toLowerCase does not map to ASCII. The texts are lower-cased then.
 */
export function requiredTexts(re: string, foldCase: boolean): readonly string[] | undefined {
  for (let i = 0; i < re.length; i++) {
    if (re[i] !== '\\') continue;
    const n = re[++i] ?? '';
    if (/[A-Za-z0-9]/.test(n) && !SIMPLE_ESCAPES.has(n)) return undefined; // \Q…\E, \p{…}, \x41, octal
  }
  const at = { i: 0 };
  const found = alternation(re, at, foldCase);
  return at.i === re.length ? found : undefined; // a stray `)`: RE2 refused the pattern already
}

/** The any-of set of the alternation at `at.i`, which ends at a `)` or the end, left at `at.i`. */
function alternation(re: string, at: { i: number }, foldCase: boolean): string[] | undefined {
  const union = new Set<string>();
  let none = false;
  for (;;) {
    const branch = concatenation(re, at, foldCase);
    if (branch === undefined) none = true;
    else for (const text of branch) union.add(text);
    if (re[at.i] !== '|') break;
    at.i++;
  }
  return none || union.size > MAX_REQUIRED_TEXTS ? undefined : [...union];
}

/** The most selective candidate of the concatenation at `at.i`, which ends at `|`, `)` or the end. */
function concatenation(re: string, at: { i: number }, foldCase: boolean): string[] | undefined {
  const candidates: string[][] = [];
  let run = ''; // the current run of literal characters
  let last = ''; // the literal character that ended `run`, which a quantifier may take back
  const end = () => {
    if (run.length >= 2) candidates.push([run]);
    run = '';
    last = '';
  };
  const literal = (c: string) => {
    if (foldCase && (c > '\x7f' || /[ks]/i.test(c))) {
      end();
      return;
    }
    run += foldCase ? c.toLowerCase() : c;
    last = c;
  };
  /** The quantifier at `at.i`, if any: its text and whether the atom before it occurs at least once. */
  const quantifier = (): { text: string; once: boolean } | undefined => {
    const q = /^(?:[*?+]|\{(\d+)(?:,\d*)?\})+/.exec(re.slice(at.i));
    if (!q) return undefined;
    // Only `+` or `{n≥1,…}`, alone, keep the atom before it: it occurs at least once.
    return { text: q[0], once: /^(?:\+|\{[1-9]\d*(?:,\d*)?\})$/.test(q[0]) };
  };
  while (at.i < re.length) {
    const c = String.fromCodePoint(re.codePointAt(at.i) as number);
    if (c === '|' || c === ')') break;
    if (c === '*' || c === '?' || c === '+' || c === '{') {
      const q = quantifier();
      if (!q) {
        end(); // a `{` that is no repeat: literal in RE2, but left out
        at.i++;
        continue;
      }
      if (!q.once && last) run = run.slice(0, -(foldCase ? last.toLowerCase() : last).length);
      end();
      at.i += q.text.length;
      continue;
    }
    if (c === '\\') {
      const n = re[at.i + 1] ?? '';
      if (/[A-Za-z0-9]/.test(n)) {
        end(); // a class or an empty-width test (requiredTexts refused the others)
        at.i += 2;
        continue;
      }
      const e = String.fromCodePoint(re.codePointAt(at.i + 1) as number);
      literal(e); // an escaped punctuation character is itself
      at.i += 1 + e.length;
      continue;
    }
    if (c === '[') {
      end();
      const next = skipBracket(re, at.i);
      at.i = next < 0 ? re.length + 1 : next; // unterminated: requiredTexts gives none
      continue;
    }
    if (c === '(') {
      end();
      at.i++;
      const inner = alternation(re, at, foldCase);
      if (re[at.i] !== ')') {
        at.i = re.length + 1; // unbalanced: requiredTexts gives none
        return undefined;
      }
      at.i++;
      const q = quantifier();
      if (q) at.i += q.text.length;
      if (inner !== undefined && (q === undefined || q.once)) candidates.push(inner);
      continue;
    }
    if (c === '.' || c === '^' || c === '$') {
      end();
      at.i++;
      continue;
    }
    literal(c);
    at.i += c.length;
  }
  end();
  let best: string[] | undefined;
  const shortest = (set: readonly string[]) => Math.min(...set.map((t) => t.length));
  for (const set of candidates) {
    if (
      best === undefined ||
      shortest(set) > shortest(best) ||
      (shortest(set) === shortest(best) && set.length < best.length)
    ) {
      best = set;
    }
  }
  return best;
}

/** The index after the RE2 bracket expression at `i`, or -1. */
function skipBracket(re: string, start: number): number {
  let i = start + 1;
  if (re[i] === '^') i++;
  if (re[i] === ']') i++;
  while (i < re.length) {
    if (re[i] === '\\') i += 2;
    else if (re[i] === '[' && re[i + 1] === ':') {
      const close = re.indexOf(':]', i + 2);
      if (close < 0) return -1;
      i = close + 2;
    } else if (re[i] === ']') return i + 1;
    else i++;
  }
  return -1;
}
