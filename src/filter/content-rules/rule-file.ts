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

export type RuleEntry =
  | { kind: 'rule'; line: number; negated: boolean; pattern: CompiledPattern; action: Action }
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
    const rest = isIf ? logical.slice(2).trimStart() : logical;
    const negated = rest.startsWith('!');
    const parsed = splitPattern(negated ? rest.slice(1) : rest);
    if (typeof parsed === 'string') throw at(parsed);
    const { source, flags, result } = parsed;
    let pattern: CompiledPattern;
    try {
      pattern = compilePattern(source, flags);
    } catch (err) {
      if (err instanceof PatternError) throw at(err.message, err);
      throw err;
    }
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
    current.entries.push({ kind: 'rule', line, negated, pattern, action: act });
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

// `/pattern/flags result`: the first character is the delimiter; a backslash escapes it (kept
// in the pattern, where `\/` means `/`).
function splitPattern(text: string): { source: string; flags: PatternFlags; result: string } | string {
  const delim = text[0];
  if (delim === undefined) return 'missing pattern';
  if (/[\s\w\\]/.test(delim)) return `pattern must start with a delimiter such as "/", found "${delim}"`;
  let i = 1;
  while (i < text.length && text[i] !== delim) i += text[i] === '\\' ? 2 : 1;
  if (i >= text.length) return `missing closing "${delim}" delimiter`;
  const source = text.slice(1, i);
  if (source === '') return 'empty pattern';
  const flags = { ...DEFAULT_FLAGS };
  i++;
  for (; i < text.length && !/\s/.test(text[i] as string); i++) {
    const f = text[i];
    // regexp_table(5): each flag toggles its default.
    if (f === 'i') flags.caseInsensitive = !flags.caseInsensitive;
    else if (f === 'x') flags.extended = !flags.extended;
    else if (f === 'm') flags.multiline = !flags.multiline;
    else return `unknown flag "${f}" after pattern`;
  }
  return { source, flags, result: text.slice(i).trim() };
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
