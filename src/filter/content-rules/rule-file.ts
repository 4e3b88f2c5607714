/**
 * Rule files in Postfix regexp_table(5) syntax: `/pattern/flags result`, `!/pattern/ result`,
 * `if /pattern/flags` … `endif` (nestable, also negated), `#` comments, blank lines, and logical
 * lines continued by lines that start with whitespace. Every error names the file, the line and the
 * problem (ContentRuleError); a table that loads is safe to run (pattern.ts).
 */

import { isUtf8 } from 'node:buffer';
import { readRegularFile } from '../../config/read-config-file.ts';
import { type Action, expand, highestReference, isHeaderField, parseAction } from './action.ts';
import { type CompiledPattern, compilePattern, DEFAULT_FLAGS, PatternError, type PatternFlags } from './pattern.ts';

/** A pattern and whether the rule needs it not to match (`!/pattern/`). */
export interface RulePattern {
  negated: boolean;
  pattern: CompiledPattern;
}

export type RuleEntry =
  | {
      kind: 'rule';
      line: number;
      negated: boolean;
      pattern: CompiledPattern;
      /** `/p1/!/p2/`: the rule also needs p2 not to match (or, `!!/p2/`, to match). */
      second?: RulePattern;
      action: Action;
    }
  | { kind: 'if'; line: number; negated: boolean; pattern: CompiledPattern; entries: RuleEntry[] };

export interface RuleTable {
  file: string;
  entries: RuleEntry[];
}

export class ContentRuleError extends Error {
  readonly code = 'ERR_CONTENT_RULE_FILE';
  readonly file: string;
  readonly line: number;
  readonly problem: string;
  constructor(file: string, line: number, problem: string, options?: ErrorOptions) {
    super(`${file}:${line}: ${problem}`, options);
    this.file = file;
    this.line = line;
    this.problem = problem;
  }
}

/**
 * Parses a rule file's text; `file` names it in errors and findings. `table`: a body_checks file
 * PREPENDs body lines, any text; the header tables PREPEND header fields.
 */
export function parseRuleFile(text: string, file = '<rules>', table: 'header' | 'body' = 'header'): RuleTable {
  const root: RuleEntry[] = [];
  const stack: { entries: RuleEntry[]; line: number }[] = [{ entries: root, line: 0 }];
  for (const { line, text: logical } of logicalLines(text, file)) {
    const at = (problem: string, cause?: unknown) =>
      new ContentRuleError(file, line, problem, cause === undefined ? undefined : { cause });
    const current = stack[stack.length - 1] as { entries: RuleEntry[] };
    if (/^endif\b/i.test(logical)) {
      if (logical.trim().toLowerCase() !== 'endif') throw at('text after endif');
      if (stack.length === 1) throw at('endif without if');
      stack.pop();
      continue;
    }
    const isIf = /^if(\s|!|$)/i.test(logical);
    const first = readPattern(isIf ? logical.slice(2).trimStart() : logical);
    if (typeof first === 'string') throw at(first);
    const { negated, source } = first;
    const compile = (from: { source: string; flags: PatternFlags }): CompiledPattern => {
      try {
        return compilePattern(from.source, from.flags);
      } catch (err) {
        if (err instanceof PatternError) throw at(err.message, err);
        throw err;
      }
    };
    const pattern = compile(first);
    let result = first.rest;
    // dict_regexp.c: `/p1/!/p2/`, a second pattern right after the first one's flags (no space).
    let second: RulePattern | undefined;
    if (!isIf && result.startsWith('!')) {
      const parsed = readPattern(result.slice(1), true);
      if (typeof parsed === 'string') throw at(parsed);
      second = { negated: parsed.negated, pattern: compile(parsed) };
      result = parsed.rest;
    }
    result = result.trim();
    if (isIf) {
      if (result !== '') throw at('text after if pattern');
      const entries: RuleEntry[] = [];
      current.entries.push({ kind: 'if', line, negated, pattern, entries });
      stack.push({ entries, line });
      continue;
    }
    if (result === '') throw at('missing action after pattern');
    const action = parseAction(result);
    if (typeof action === 'string') throw at(action);
    const act: Action = action;
    const ref = highestReference(act.text);
    // regexp_table(5): a negated pattern has no match to substitute from.
    if (ref > 0 && negated) throw at(`$${ref} substitution with a negated pattern`);
    if (ref > pattern.groups) throw at(`$${ref} refers past the ${pattern.groups} group(s) of /${source}/`);
    // Postfix's cleanup refuses it too ("bad PREPEND header text … need headername: headervalue"): an
    // empty line or one without a colon would end the header section or corrupt it (RFC 5322 §2.2).
    // One with $n is checked per match (inspect.ts).
    if (act.verb === 'PREPEND' && table === 'header' && ref === 0 && !isHeaderField(expand(act.text, []))) {
      throw at(`bad PREPEND header text "${act.text}": need headername: headervalue`);
    }
    const entry: RuleEntry = { kind: 'rule', line, negated, pattern, action: act };
    if (second) entry.second = { negated: second.negated, pattern: second.pattern };
    current.entries.push(entry);
  }
  if (stack.length > 1) {
    const open = stack[stack.length - 1] as { line: number };
    throw new ContentRuleError(file, open.line, 'if without endif');
  }
  return { file, entries: root };
}

/** regexp_table(5) "TABLE FORMAT": comments, blank lines, whitespace-led continuation lines. */
function* logicalLines(text: string, file: string): Generator<{ line: number; text: string }> {
  let pending: { line: number; text: string } | undefined;
  // A byte order mark, as editors on Windows save UTF-8, is no text of the first line: JavaScript's \s
  // matches U+FEFF, so kept it made the first rule a continuation line.
  const lines = (text.startsWith('\ufeff') ? text.slice(1) : text).split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (/^\s/.test(raw)) {
      if (!pending) throw new ContentRuleError(file, i + 1, 'continuation line without a preceding rule');
      pending.text += ` ${trimmed}`;
      continue;
    }
    if (pending) yield pending;
    pending = { line: i + 1, text: raw.trimEnd() };
  }
  if (pending) yield pending;
}

/**
 * `[!…] /pattern/flags rest` as dict_regexp.c reads it: each leading `!` toggles the negation and white
 * space may follow them; the first character then is the delimiter, and a backslash escapes it (kept
 * in the pattern, where `\/` means `/`). The flags end at white space or at a `!` that starts a
 * second pattern. `negatedFrom`: the negation before any `!` (a second pattern's `!` was read already).
 */
function readPattern(
  text: string,
  negatedFrom = false,
): { negated: boolean; source: string; flags: PatternFlags; rest: string } | string {
  let negated = negatedFrom;
  let i = 0;
  for (; text[i] === '!'; i++) negated = !negated;
  while (i < text.length && /\s/.test(text[i] as string)) i++;
  const delim = text[i];
  if (delim === undefined) return 'missing pattern';
  if (/[\s\w\\]/.test(delim)) return `pattern must start with a delimiter such as "/", found "${delim}"`;
  const start = ++i;
  while (i < text.length && text[i] !== delim) i += text[i] === '\\' ? 2 : 1;
  if (i >= text.length) return `missing closing "${delim}" delimiter`;
  const source = text.slice(start, i);
  if (source === '') return 'empty pattern';
  const flags = { ...DEFAULT_FLAGS };
  i++;
  for (; i < text.length && !/[\s!]/.test(text[i] as string); i++) {
    const f = text[i];
    // regexp_table(5): each flag toggles its default.
    if (f === 'i') flags.caseInsensitive = !flags.caseInsensitive;
    else if (f === 'x') flags.extended = !flags.extended;
    else if (f === 'm') flags.multiline = !flags.multiline;
    else return `unknown flag "${f}" after pattern`;
  }
  return { negated, source, flags, rest: text.slice(i) };
}

/** Reads and parses a rule file from disk; errors name the path. */
export async function readRuleFile(path: string, table: 'header' | 'body' = 'header'): Promise<RuleTable> {
  return parseRuleFile(decodeRuleFile(await readRegularFile(path), path), path, table);
}

/**
 * The file's text, which must be UTF-8; a UTF-8 byte order mark is skipped. Decoded leniently, a
 * UTF-16 file (Notepad's "Unicode") became NULs and U+FFFD and failed with "file:1: empty pattern".
 */
function decodeRuleFile(bytes: Buffer, path: string): string {
  const bom = bytes.subarray(0, 2).toString('hex');
  if (bom === 'fffe' || bom === 'feff') {
    const order = bom === 'fffe' ? 'FF FE' : 'FE FF';
    throw new ContentRuleError(
      path,
      1,
      `not UTF-8 text: it starts with ${order}, the byte order mark of UTF-16; save it as UTF-8`,
    );
  }
  if (!isUtf8(bytes)) {
    // The first line with bytes that are no UTF-8, for the admin to find.
    let line = 1;
    for (let start = 0; start < bytes.length; line++) {
      const lf = bytes.indexOf(0x0a, start);
      const end = lf < 0 ? bytes.length : lf + 1;
      if (!isUtf8(bytes.subarray(start, end))) break;
      start = end;
    }
    throw new ContentRuleError(path, line, 'not UTF-8 text: invalid UTF-8 on this line; save the file as UTF-8');
  }
  // TextDecoder drops a leading UTF-8 byte order mark (EF BB BF), as editors on Windows write it.
  return new TextDecoder('utf-8').decode(bytes);
}
