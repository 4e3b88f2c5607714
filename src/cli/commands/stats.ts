/**
 * `postern stats [--json]`: what the restrictions decided, per stage and rule, and what the content
 * rules (header_checks, body_checks, …) did, per table, rule and action, as counted by every node
 * into the store (a running server adds its counts every few seconds).
 */

import { usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

const PREFIX = 'restriction:';
/** As src/filter/content-filter.ts counts them: `content-rule:<check>:<file:line>:<action>`. */
const CONTENT_RULE_PREFIX = 'content-rule:';

export interface RuleCount {
  stage: string;
  rule: string;
  action: string;
  count: number;
}

/** One content rule's actions of one kind; `rule` is `file:line`, as the log names it. */
export interface ContentRuleCount {
  check: string;
  rule: string;
  action: string;
  count: number;
}

export async function statsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { json: { type: 'boolean' } }, 'stats');
  if (positionals.length > 0) throw usageError(`stats: unexpected argument "${positionals[0]}"`);
  const { config } = configFrom(values);
  const [counters, contentCounters] = await withStore(config, (store) =>
    Promise.all([store.readCounters(PREFIX), store.readCounters(CONTENT_RULE_PREFIX)]),
  );
  const rows = parseCounters(counters);
  const contentRows = parseContentRuleCounters(contentCounters);
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify({ restrictions: rows, contentRules: contentRows }, null, 2)}\n`);
    return 0;
  }
  const sections: string[] = [];
  if (rows.length === 0) {
    sections.push('no restriction has rejected, deferred, warned or been skipped yet');
  } else {
    const header = ['stage', 'rule', 'action', 'count'];
    sections.push(
      table(
        header,
        9,
        rows.map((r) => [r.stage, r.rule, r.action, String(r.count)]),
      ),
    );
  }
  if (contentRows.length === 0) {
    sections.push('no content rule has acted yet');
  } else {
    const header = ['check', 'rule', 'action', 'count'];
    const width = Math.max(...contentRows.map((r) => r.check.length));
    sections.push(
      table(
        header,
        width,
        contentRows.map((r) => [r.check, r.rule, r.action, String(r.count)]),
      ),
    );
  }
  process.stdout.write(`${sections.join('\n\n')}\n`);
  return 0;
}

/** Columns padded to their longest cell (the first at least `first` wide), the count right-aligned. */
function table(header: string[], first: number, cells: string[][]): string {
  const width = (i: number, least: number) => Math.max(least, ...cells.map((c) => (c[i] ?? '').length));
  // 'undecided' and 'redirect ignored' are longer than 'reject'.
  const widths = [width(0, first), width(1, 4), width(2, 6)];
  const line = (c: string[]) =>
    `${(c[0] ?? '').padEnd(widths[0]!)} ${(c[1] ?? '').padEnd(widths[1]!)} ${(c[2] ?? '').padEnd(widths[2]!)} ${(c[3] ?? '').padStart(8)}`;
  return [header, ...cells].map(line).join('\n');
}

/** `<prefix><first>:<middle>:<last>`, the middle of which may itself hold colons. */
function splitCounter(name: string, prefix: string): [string, string, string] | undefined {
  const rest = name.slice(prefix.length);
  const first = rest.indexOf(':');
  const last = rest.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return [rest.slice(0, first), rest.slice(first + 1, last), rest.slice(last + 1)];
}

/** `restriction:<stage>:<rule label>:<action>`; a rule label may itself hold colons (a zone=127.0.0.2 filter has none, an IPv6 key may). */
export function parseCounters(counters: Readonly<Record<string, number>>): RuleCount[] {
  const rows: RuleCount[] = [];
  for (const [name, count] of Object.entries(counters)) {
    const parts = splitCounter(name, PREFIX);
    if (!parts) continue;
    const [stage, rule, action] = parts;
    rows.push({ stage, rule, action, count });
  }
  const order = ['client', 'helo', 'sender', 'relay', 'recipient', 'data'];
  return rows.sort(
    (a, b) => order.indexOf(a.stage) - order.indexOf(b.stage) || b.count - a.count || a.rule.localeCompare(b.rule),
  );
}

/**
 * `content-rule:<check>:<file>:<line>:<action>`; the file may hold colons, the check and the action
 * (`reject`, `redirect ignored`, …) do not. Tables in the order a message meets them.
 */
export function parseContentRuleCounters(counters: Readonly<Record<string, number>>): ContentRuleCount[] {
  const rows: ContentRuleCount[] = [];
  for (const [name, count] of Object.entries(counters)) {
    const parts = splitCounter(name, CONTENT_RULE_PREFIX);
    if (!parts) continue;
    const [check, rule, action] = parts;
    rows.push({ check, rule, action, count });
  }
  const order = ['header_checks', 'mime_header_checks', 'nested_header_checks', 'body_checks'];
  return rows.sort(
    (a, b) =>
      order.indexOf(a.check) - order.indexOf(b.check) ||
      b.count - a.count ||
      a.rule.localeCompare(b.rule) ||
      a.action.localeCompare(b.action),
  );
}
