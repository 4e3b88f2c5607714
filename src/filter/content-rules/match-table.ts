/**
 * One lookup in a rule table, regexp_table(5) "TABLE SEARCH ORDER": rules are tried in file order
 * and the first that matches wins; an `if` block's rules are tried only when its pattern matches
 * (or, negated, does not). A `!/pattern/` rule matches when the pattern does not.
 */

import { type Action, expand } from './action.ts';
import type { RuleEntry, RuleTable } from './rule-file.ts';

export interface TableMatch {
  file: string;
  line: number; // of the matching rule
  action: Action; // with $n expanded
}

export function matchTable(table: RuleTable, input: string): TableMatch | undefined {
  const hit = search(table.entries, input);
  return hit && { file: table.file, ...hit };
}

function search(entries: readonly RuleEntry[], input: string): Omit<TableMatch, 'file'> | undefined {
  for (const entry of entries) {
    const groups = entry.pattern.exec(input);
    const matched = entry.negated ? groups === undefined : groups !== undefined;
    if (!matched) continue;
    if (entry.kind === 'if') {
      const inner = search(entry.entries, input);
      if (inner) return inner;
      continue;
    }
    const text = groups ? expand(entry.action.text, groups) : entry.action.text;
    return { line: entry.line, action: { verb: entry.action.verb, text } };
  }
  return undefined;
}
