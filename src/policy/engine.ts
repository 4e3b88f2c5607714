/**
 * Walks one stage's restriction list the way Postfix walks smtpd_*_restrictions: in order, the
 * first permit or reject ends the list; DUNNO goes on; the end of the list is no decision. A rule
 * marked warn-only (Postfix warn_if_reject) that would reject is logged and counted as a warning,
 * and the list goes on. Every decision is reported with the rule, the reply and the reason, and so is
 * a rule that could not decide.
 *
 * Synchronous rules (address syntax, cached account look-ups) keep the whole walk synchronous, so
 * a pipelined RCPT group is answered without a round trip through the event loop.
 */

import type { Reply } from '../smtp/replies.ts';
import type { PolicyContext, Restriction, Stage, Verdict } from './restriction.ts';

export interface ListEntry {
  restriction: Restriction;
  warnOnly: boolean;
}

/** `undecided`: the rule could not decide (its DNS list did not answer) and the list went on. */
export type DecisionAction = 'permit' | 'reject' | 'defer' | 'warn' | 'undecided' | 'noted';

export interface Decision {
  stage: Stage;
  /** The rule's label (name and arguments). */
  rule: string;
  action: DecisionAction;
  reply?: Reply;
  reason?: string;
  /** A `noted` decision's log level (an access map's WARN or INFO). */
  level?: 'warn' | 'info';
}

export type ListResult =
  | { action: 'permit'; rule: string }
  | { action: 'dunno' }
  | { action: 'reject'; rule: string; reply: Reply; reason: string };

const NO_DECISION: ListResult = { action: 'dunno' };

export class RestrictionList {
  readonly stage: Stage;
  readonly entries: readonly ListEntry[];

  constructor(stage: Stage, entries: readonly ListEntry[]) {
    this.stage = stage;
    this.entries = entries;
  }

  evaluate(context: PolicyContext, report: (decision: Decision) => void): ListResult | Promise<ListResult> {
    return this.#from(0, context, report);
  }

  #from(start: number, context: PolicyContext, report: (decision: Decision) => void): ListResult | Promise<ListResult> {
    for (let i = start; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      const verdict = entry.restriction.evaluate(context);
      if (verdict instanceof Promise) {
        return verdict.then((v) => this.#decide(entry, v, report) ?? this.#from(i + 1, context, report));
      }
      const result = this.#decide(entry, verdict, report);
      if (result) return result;
    }
    return NO_DECISION;
  }

  /** The result that ends the list, or undefined to go on. */
  #decide(entry: ListEntry, verdict: Verdict, report: (decision: Decision) => void): ListResult | undefined {
    const rule = entry.restriction.label;
    if (verdict.action === 'dunno') {
      if (verdict.undecided !== undefined)
        report({ stage: this.stage, rule, action: 'undecided', reason: verdict.undecided });
      if (verdict.note !== undefined)
        report({ stage: this.stage, rule, action: 'noted', reason: verdict.note.text, level: verdict.note.level });
      return undefined;
    }
    if (verdict.action === 'permit') {
      report({ stage: this.stage, rule, action: 'permit' });
      return { action: 'permit', rule };
    }
    if (entry.warnOnly) {
      report({ stage: this.stage, rule, action: 'warn', reply: verdict.reply, reason: verdict.reason });
      return undefined;
    }
    const action = verdict.reply.code < 500 ? 'defer' : 'reject';
    report({ stage: this.stage, rule, action, reply: verdict.reply, reason: verdict.reason });
    return { action: 'reject', rule, reply: verdict.reply, reason: verdict.reason };
  }
}
