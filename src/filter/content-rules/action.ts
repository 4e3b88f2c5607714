/**
 * The actions of Postfix content inspection, header_checks(5) "TABLE FORMAT" and "ACTIONS", and the
 * $number substitution of regexp_table(5). Parsing happens at load time so a bad rule fails with
 * its line; expansion happens per match.
 *
 * Not supported (refused at load): FILTER (no content filter transport here), BCC, REPLACE, STRIP,
 * DEFER, DEFER_IF_*, numeric replies ("550 text") and the other access(5) results.
 */

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
