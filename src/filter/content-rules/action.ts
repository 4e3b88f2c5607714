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

/** The highest $n (or ${n}) an action uses; regexp_table(5): $$ is a literal dollar. */
export function highestReference(text: string): number {
  let max = 0;
  for (const m of text.matchAll(/\$(?:\$|\{(\d+)\}|(\d))/g)) {
    const n = Number(m[1] ?? m[2] ?? 0);
    if (n > max) max = n;
  }
  return max;
}

/** regexp_table(5): "$number" or "${number}" is the text of that parenthesized subexpression. */
export function expand(text: string, groups: readonly (string | null)[]): string {
  return text.replace(/\$(?:\$|\{(\d+)\}|(\d))/g, (all, braced?: string, bare?: string) => {
    if (all === '$$') return '$';
    return groups[Number(braced ?? bare)] ?? '';
  });
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
