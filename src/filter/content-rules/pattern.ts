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
   * Text every match contains (prefilter): lower-cased when `foldCase`, to look for in the lower-cased
   * input; undefined when none could be found. An input without it cannot match, so RE2 is not run.
   */
  required: string | undefined;
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
    required: requiredLiteral(translated, flags.caseInsensitive),
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
 * The longest run of text any match of the translated (RE2 syntax) pattern must contain, or undefined.
 * Conservative: only the top-level concatenation is read; a top-level `|`, `\Q`, or an escape it does
 * not know gives none. A character that a quantifier may repeat zero times (`*`, `?`, `{0,…}`, and
 * anything with a lazy `?`) is not in any run; one under `+` or `{n,…}` ends its run. Groups, bracket
 * expressions, `.`, anchors and class escapes end a run. Under case folding only ASCII characters count
 * and `k` and `s` not even those: RE2 folds them to U+212A KELVIN SIGN and U+017F LONG S, which
 * toLowerCase does not map to ASCII. The result is lower-cased then.
 */
export function requiredLiteral(re: string, foldCase: boolean): string | undefined {
  const runs: string[] = [];
  let run = ''; // the current run of literal characters
  let last = ''; // the literal character that ended `run`, which a quantifier may take back
  const end = () => {
    if (run) runs.push(run);
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
  let i = 0;
  while (i < re.length) {
    const cp = re.codePointAt(i) as number;
    const c = String.fromCodePoint(cp);
    if (c === '|') return undefined; // top-level alternation: no text is common to all matches
    if (c === '*' || c === '?' || c === '+' || c === '{') {
      const q = /^(?:[*?+]|\{(\d+)(?:,\d*)?\})+/.exec(re.slice(i));
      if (!q) {
        end(); // a `{` that is no repeat: literal in RE2, but left out
        i++;
        continue;
      }
      // Only `+` or `{n≥1,…}`, alone, keep the atom before it: it occurs at least once.
      const once = /^(?:\+|\{[1-9]\d*(?:,\d*)?\})$/.test(q[0]);
      if (!once && last) run = run.slice(0, -(foldCase ? last.toLowerCase() : last).length);
      end();
      i += q[0].length;
      continue;
    }
    if (c === '\\') {
      const n = re[i + 1] ?? '';
      if (/[A-Za-z0-9]/.test(n)) {
        if (!SIMPLE_ESCAPES.has(n)) return undefined; // \Q…\E, \p{…}, \x41, octal: not read here
        end();
        last = '';
      } else {
        const e = String.fromCodePoint(re.codePointAt(i + 1) as number);
        literal(e); // an escaped punctuation character is itself
        i += 1 + e.length;
        continue;
      }
      i += 2;
      continue;
    }
    if (c === '[') {
      end();
      i = skipBracket(re, i);
      if (i < 0) return undefined;
      continue;
    }
    if (c === '(') {
      end();
      i = skipGroup(re, i);
      if (i < 0) return undefined;
      continue;
    }
    if (c === '.' || c === '^' || c === '$' || c === ')') {
      end();
      i++;
      continue;
    }
    literal(c);
    i += c.length;
  }
  end();
  let best: string | undefined;
  for (const r of runs) if (r.length >= 2 && r.length > (best?.length ?? 0)) best = r;
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

/** The index after the group that opens at `i`, or -1. */
function skipGroup(re: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < re.length) {
    const c = re[i];
    if (c === '\\') i += 2;
    else if (c === '[') {
      i = skipBracket(re, i);
      if (i < 0) return -1;
    } else {
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) return i + 1;
      i++;
    }
  }
  return -1;
}
