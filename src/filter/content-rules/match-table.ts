/**
 * One lookup in a rule table, regexp_table(5) "TABLE SEARCH ORDER": rules are tried in file order
 * and the first that matches wins; an `if` block's rules are tried only when its pattern matches
 * (or, negated, does not). A `!/pattern/` rule matches when the pattern does not; `/p1/!/p2/` when
 * p1 matches and p2 does not (dict_regexp.c's second pattern).
 *
 * Matching costs time in proportion to the text times the rules run on it, so a lookup may be given
 * a budget (MatchWork): a rule whose literal text (pattern.ts `required`) is not in the input is not
 * run, and one that is run costs its input's length plus RUN_CHARGE; a rule the budget cannot pay
 * for is not run and the lookup stops, `spent`.
 */

import { type Action, expand } from './action.ts';
import type { CompiledPattern } from './pattern.ts';
import type { RuleEntry, RuleTable } from './rule-file.ts';

export interface TableMatch {
  file: string;
  line: number; // of the matching rule
  action: Action; // with $n expanded
}

/** Characters given to RE2 so far (`used`), at most `limit`; `spent` once a rule could not be paid for. */
export interface MatchWork {
  used: number;
  limit: number;
  spent: boolean;
  /** Tests only: run every rule, without the literal-text prefilter. */
  noPrefilter?: boolean;
}

/** The cost of one RE2 run besides its input, in characters: short lines cost about this much each. */
export const RUN_CHARGE = 32;

export function matchTable(table: RuleTable, input: string, work?: MatchWork): TableMatch | undefined {
  const unit: Unit = { input, lower: undefined, work };
  const hit = search(table.entries, unit);
  return hit && { file: table.file, ...hit };
}

interface Unit {
  input: string;
  lower: string | undefined; // the input lower-cased, once, when a case-insensitive rule needs it
  work: MatchWork | undefined;
}

/** Whether the pattern matches (its groups), undefined when not; `null` when the budget is spent. */
function run(pattern: CompiledPattern, unit: Unit): (string | null)[] | undefined | null {
  const { work } = unit;
  if (pattern.required !== undefined && !work?.noPrefilter) {
    if (pattern.foldCase) unit.lower ??= unit.input.toLowerCase();
    if (!(pattern.foldCase ? (unit.lower as string) : unit.input).includes(pattern.required)) return undefined;
  }
  if (work) {
    const cost = unit.input.length + RUN_CHARGE;
    if (work.spent || work.used + cost > work.limit) {
      work.spent = true;
      return null;
    }
    work.used += cost;
  }
  return pattern.exec(unit.input);
}

function search(entries: readonly RuleEntry[], unit: Unit): Omit<TableMatch, 'file'> | undefined {
  for (const entry of entries) {
    const groups = run(entry.pattern, unit);
    if (groups === null) return undefined;
    let matched = entry.negated ? groups === undefined : groups !== undefined;
    if (matched && entry.kind === 'rule' && entry.second) {
      const second = run(entry.second.pattern, unit);
      if (second === null) return undefined;
      matched = entry.second.negated ? second === undefined : second !== undefined;
    }
    if (!matched) continue;
    if (entry.kind === 'if') {
      const inner = search(entry.entries, unit);
      if (inner || unit.work?.spent) return inner;
      continue;
    }
    const text = groups ? expand(entry.action.text, groups) : entry.action.text;
    return { line: entry.line, action: { verb: entry.action.verb, text } };
  }
  return undefined;
}
