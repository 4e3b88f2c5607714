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
