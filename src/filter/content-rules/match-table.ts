/**
 * One lookup in a rule table, regexp_table(5) "TABLE SEARCH ORDER": rules are tried in file order
 * and the first that matches wins; an `if` block's rules are tried only when its pattern matches
 * (or, negated, does not). A `!/pattern/` rule matches when the pattern does not; `/p1/!/p2/` when
 * p1 matches and p2 does not (dict_regexp.c's second pattern).
 *
 * Matching costs time in proportion to the text times the rules run on it, so a lookup may be given
 * a budget (MatchWork). A rule none of whose literal texts (pattern.ts `required`) is in the input is
 * not run; looking for them costs, per text, one plus the input's length over SCAN_RATIO. A rule that is run
 * costs its input's length plus RUN_CHARGE. A rule the budget cannot pay for is not run and the
 * lookup stops, `spent`. The lookup is a generator that yields (between rules) each time another
 * `slice` of work is done, so that a caller may let other work run (inspect.ts inspectMessage).
 */

import { type Action, expand } from './action.ts';
import type { CompiledPattern } from './pattern.ts';
import type { RuleEntry, RuleTable } from './rule-file.ts';

export interface TableMatch {
  file: string;
  line: number; // of the matching rule
  action: Action; // with $n expanded
}

/** Work done so far (`used`), at most `limit`; `spent` once a rule could not be paid for. */
export interface MatchWork {
  used: number;
  limit: number;
  spent: boolean;
  /** The rule that could not be paid for, `file:line`: it and the rules after it did not run. */
  stoppedAt?: string;
  /** The lookup yields once `used` reaches this, and sets it `slice` further; none when absent. */
  pauseAt?: number;
  slice?: number;
  /** Tests only: run every rule, without the literal-text prefilter. */
  noPrefilter?: boolean;
}

/** The cost of one RE2 run besides its input, in characters: short lines cost about this much each. */
export const RUN_CHARGE = 32;
/**
 * Characters of input the prefilter searches for one text per character of work: String includes
 * searched 3,300 million characters a second here, RE2 (re2js) 2.6–250 million, mostly under 10.
 */
export const SCAN_RATIO = 100;

/** The lookup, run to its end at once (for a caller that need not share its thread). */
export function matchTable(table: RuleTable, input: string, work?: MatchWork): TableMatch | undefined {
  const steps = matchTableSteps(table, input, work);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** The lookup as a generator: it yields between rules when a slice of work is done (MatchWork `pauseAt`). */
export function* matchTableSteps(
  table: RuleTable,
  input: string,
  work?: MatchWork,
): Generator<void, TableMatch | undefined, void> {
  const unit: Unit = { input, lower: undefined, work, file: table.file };
  const hit = yield* search(table.entries, unit);
  return hit && { file: table.file, ...hit };
}

interface Unit {
  input: string;
  lower: string | undefined; // the input lower-cased, once, when a case-insensitive rule needs it
  work: MatchWork | undefined;
  file: string;
}

/**
 * Whether the pattern matches (its groups), undefined when not; `null` when the budget is spent.
 * `line`: of the rule, for MatchWork `stoppedAt`.
 */
function run(pattern: CompiledPattern, unit: Unit, line: number): (string | null)[] | undefined | null {
  const { work } = unit;
  const pay = (cost: number): boolean => {
    if (!work) return true;
    if (work.spent || work.used + cost > work.limit) {
      work.spent = true;
      work.stoppedAt ??= `${unit.file}:${line}`;
      return false;
    }
    work.used += cost;
    return true;
  };
  const { required } = pattern;
  if (required !== undefined && !work?.noPrefilter) {
    if (!pay(required.length * (1 + Math.ceil(unit.input.length / SCAN_RATIO)))) return null;
    if (pattern.foldCase) unit.lower ??= unit.input.toLowerCase();
    const text = pattern.foldCase ? (unit.lower as string) : unit.input;
    if (!required.some((t) => text.includes(t))) return undefined;
  }
  if (!pay(unit.input.length + RUN_CHARGE)) return null;
  return pattern.exec(unit.input);
}

function* search(
  entries: readonly RuleEntry[],
  unit: Unit,
): Generator<void, Omit<TableMatch, 'file'> | undefined, void> {
  const { work } = unit;
  for (const entry of entries) {
    if (work?.pauseAt !== undefined && work.used >= work.pauseAt) {
      yield;
      work.pauseAt = work.used + (work.slice ?? 0);
    }
    const groups = run(entry.pattern, unit, entry.line);
    if (groups === null) return undefined;
    let matched = entry.negated ? groups === undefined : groups !== undefined;
    if (matched && entry.kind === 'rule' && entry.second) {
      const second = run(entry.second.pattern, unit, entry.line);
      if (second === null) return undefined;
      matched = entry.second.negated ? second === undefined : second !== undefined;
    }
    if (!matched) continue;
    if (entry.kind === 'if') {
      const inner = yield* search(entry.entries, unit);
      if (inner || work?.spent) return inner;
      continue;
    }
    const text = groups ? expand(entry.action.text, groups) : entry.action.text;
    return { line: entry.line, action: { verb: entry.action.verb, text } };
  }
  return undefined;
}
