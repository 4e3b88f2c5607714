/** Helpers for rule factories: most rules take no arguments and are known by their name alone. */
import type { PolicyContext, Restriction, RuleFactory, RuleSpec, Verdict } from '../restriction.ts';

export function noArguments(name: string, spec: RuleSpec): void {
  if (spec.args.length > 0) throw new Error(`${name} takes no arguments (got "${spec.args.join(' ')}")`);
}

/** A rule without arguments whose label is its name. */
export function simpleRule(name: string, evaluate: (ctx: PolicyContext) => Verdict | Promise<Verdict>): RuleFactory {
  return (spec: RuleSpec): Restriction => {
    noArguments(name, spec);
    return { name, label: name, evaluate };
  };
}
