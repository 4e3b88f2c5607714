/**
 * `postern stats [--json]`: what the restrictions decided, per stage and rule, as counted by every
 * node into the store (a running server adds its counts every few seconds).
 */

import { usageError } from '../errors.ts';
import { configFrom, parseCommandLine } from './options.ts';
import { withStore } from './store.ts';

const PREFIX = 'restriction:';

export interface RuleCount {
  stage: string;
  rule: string;
  action: string;
  count: number;
}

export async function statsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { json: { type: 'boolean' } }, 'stats');
  if (positionals.length > 0) throw usageError(`stats: unexpected argument "${positionals[0]}"`);
  const { config } = configFrom(values);
  const counters = await withStore(config, (store) => store.readCounters(PREFIX));
  const rows = parseCounters(counters);
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify({ restrictions: rows }, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('no restriction has rejected, deferred, warned or been skipped yet\n');
    return 0;
  }
  const width = Math.max(...rows.map((r) => r.rule.length), 4);
  const actionWidth = Math.max(...rows.map((r) => r.action.length), 6); // 'undecided' is longer than 'reject'
  const lines = [`${'stage'.padEnd(9)} ${'rule'.padEnd(width)} ${'action'.padEnd(actionWidth)} ${'count'.padStart(8)}`];
  for (const r of rows) {
    lines.push(
      `${r.stage.padEnd(9)} ${r.rule.padEnd(width)} ${r.action.padEnd(actionWidth)} ${String(r.count).padStart(8)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** `restriction:<stage>:<rule label>:<action>`; a rule label may itself hold colons (a zone=127.0.0.2 filter has none, an IPv6 key may). */
export function parseCounters(counters: Readonly<Record<string, number>>): RuleCount[] {
  const rows: RuleCount[] = [];
  for (const [name, count] of Object.entries(counters)) {
    const rest = name.slice(PREFIX.length);
    const first = rest.indexOf(':');
    const last = rest.lastIndexOf(':');
    if (first < 0 || last <= first) continue;
    rows.push({ stage: rest.slice(0, first), rule: rest.slice(first + 1, last), action: rest.slice(last + 1), count });
  }
  const order = ['client', 'helo', 'sender', 'relay', 'recipient', 'data'];
  return rows.sort(
    (a, b) => order.indexOf(a.stage) - order.indexOf(b.stage) || b.count - a.count || a.rule.localeCompare(b.rule),
  );
}
