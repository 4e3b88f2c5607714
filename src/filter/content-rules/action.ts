/**
 * The actions of Postfix content inspection, header_checks(5) "TABLE FORMAT" and "ACTIONS", and the
 * $number substitution of regexp_table(5). Parsing happens at load time so a bad rule fails with
 * its line; expansion happens per match.
 *
 * Not supported (refused at load): FILTER (no content filter transport here), BCC, REPLACE, STRIP,
 * DEFER, DEFER_IF_*, numeric replies ("550 text") and the other access(5) results.
 */

import { parseMailbox } from '../../smtp/path.ts';

export type ActionVerb = 'REJECT' | 'DISCARD' | 'HOLD' | 'WARN' | 'PREPEND' | 'IGNORE' | 'REDIRECT' | 'DUNNO' | 'OK';

export interface Action {
  verb: ActionVerb;
  text: string; // the rest of the line, unexpanded ('' when absent)
}

const VERBS = new Set<string>(['REJECT', 'DISCARD', 'HOLD', 'WARN', 'PREPEND', 'IGNORE', 'REDIRECT', 'DUNNO', 'OK']);
const KNOWN_UNSUPPORTED = new Set(['FILTER', 'BCC', 'REPLACE', 'STRIP', 'DEFER', 'DEFER_IF_PERMIT', 'DEFER_IF_REJECT']);

/** Parses "VERB [text]"; returns an error message instead of throwing, for the caller to place. */
export function parseAction(result: string): Action | string {
  const match = /^(\S+)(?:\s+(.*))?$/s.exec(result.trim());
  if (!match) return 'missing action';
  const verb = (match[1] ?? '').toUpperCase(); // header_checks(5) actions are case-insensitive
  const text = (match[2] ?? '').trim();
  if (!VERBS.has(verb)) {
    if (KNOWN_UNSUPPORTED.has(verb)) return `action ${verb} is not supported`;
    if (/^[45]\d\d$/.test(verb)) return `numeric reply ${verb} is not supported; use REJECT text`;
    return `unknown action ${verb}`;
  }
  if ((verb === 'PREPEND' || verb === 'REDIRECT') && text === '') return `${verb} needs an argument`;
  const bad = checkReferences(text);
  if (bad !== undefined) return bad;
  if (verb === 'IGNORE' || verb === 'DUNNO' || verb === 'OK') {
    if (text !== '') return `${verb} takes no argument`;
  }
  // A target without $n is what every match gets: checked here, as Postfix's cleanup refuses it
  // ("bad REDIRECT target … need user@domain"); one with $n is checked per match (inspect.ts).
  if (verb === 'REDIRECT' && highestReference(text) === 0) {
    const fixed = expand(text, []);
    if (redirectTarget(fixed) === undefined) {
      return `bad REDIRECT target "${fixed}": need user@domain (an RFC 5321 mailbox)`;
    }
  }
  return { verb: verb as ActionVerb, text };
}

/**
 * The text's $-references, as Postfix reads them (mac_parse.c, dict_regexp.c): `$$` is a dollar sign;
 * `$name`, `${name}` and `$(name)` a reference, where a bare name is the whole run of letters, digits
 * and `_` (`$10` is group 10, `$1x` the name "1x"). regexp_table(5) allows only group numbers from 1:
 * any other name, `$0`, an unclosed `${` and a `$` before nothing of these are refused (Postfix skips
 * such a rule with "bad replacement syntax"). An error message instead of throwing, for the caller.
 */
function references(text: string): { at: number; end: number; group: number }[] | string {
  const out: { at: number; end: number; group: number }[] = [];
  for (let i = text.indexOf('$'); i >= 0; i = text.indexOf('$', i)) {
    const next = text[i + 1];
    if (next === '$') {
      i += 2;
      continue;
    }
    let name: string;
    let end: number;
    if (next === '{' || next === '(') {
      const close = text.indexOf(next === '{' ? '}' : ')', i + 2);
      if (close < 0) return `unclosed "$${next}" in "${text}"`;
      name = text.slice(i + 2, close);
      end = close + 1;
    } else {
      name = /^[A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0] ?? '';
      end = i + 1 + name.length;
      if (name === '') return `"$" without a group number in "${text}"; write $$ for a dollar sign`;
    }
    if (!/^\d+$/.test(name)) return `non-numeric replacement index "${name}" in "${text}"; write $$ for a dollar sign`;
    const group = Number(name);
    if (group < 1) return `out-of-range replacement index "${name}": groups count from $1`;
    out.push({ at: i, end, group });
    i = end;
  }
  return out;
}

/** Refuses a text whose $-references Postfix would refuse; returns an error message or undefined. */
export function checkReferences(text: string): string | undefined {
  const refs = references(text);
  return typeof refs === 'string' ? refs : undefined;
}

/** The highest group an action's text refers to (0 for none); the text must have passed checkReferences. */
export function highestReference(text: string): number {
  const refs = references(text);
  if (typeof refs === 'string') return 0;
  return refs.reduce((max, r) => Math.max(max, r.group), 0);
}

/** regexp_table(5): each reference becomes the text of that parenthesized subexpression, `$$` a dollar. */
export function expand(text: string, groups: readonly (string | null)[]): string {
  const refs = references(text);
  if (typeof refs === 'string') return text;
  let out = '';
  let from = 0;
  for (const r of refs) {
    out += text.slice(from, r.at).replaceAll('$$', '$') + (groups[r.group] ?? '');
    from = r.end;
  }
  return out + text.slice(from).replaceAll('$$', '$');
}

/**
 * A REDIRECT target as an RFC 5321 §4.1.2 Mailbox (local@domain, no angle brackets, no list, no
 * line break): its address with the domain lower-cased, or undefined for anything else.
 */
export function redirectTarget(text: string): string | undefined {
  const parsed = parseMailbox(text.trim());
  return typeof parsed === 'string' ? undefined : parsed.address;
}

/**
 * RFC 5322 §2.2: a header field is a field name of printable US-ASCII but ":" (§3.6.8 ftext), then
 * ":" and the body. Anything else PREPENDed (an empty line, a line without a colon) would end the
 * header section there or corrupt it.
 */
export function isHeaderField(line: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+:/.test(line) && !/[\r\n]/.test(line);
}
