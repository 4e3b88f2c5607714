/**
 * "PostgreSQL: one node vs two nodes": the rate of Postern on SQLite, on PostgreSQL with one node and with
 * two nodes sharing the database, the two-node gain, and what bounded the two-node run. The goal
 * is ≥ 1.6× with two nodes "when the database is not the bottleneck"; the verdict says whether that
 * condition held, from the CPU shares and the PostgreSQL wait events measured during the run.
 */
import type { CpuShares } from './machine.ts';
import type { PgWaits } from './postgres.ts';
import { align, num, type Row } from './report.ts';

/** The two-node goal, and the machine share above which the cores count as saturated. */
export const GOAL = 1.6;
export const SATURATED_PERCENT = 90;

export type PgComparison = {
  scenario: string;
  sqlite: number | null;
  oneNode: number | null;
  twoNodes: number | null;
  /** Two nodes' rate over one node's. */
  gain: number | null;
  nodeCpuUs: { one: number | null; two: number | null };
  pgCpuUs: { one: number | null; two: number | null };
  /** What bounded the two-node run (the one-node run where there is no two-node row). */
  bottleneck: string;
  basedOn: 'postern-pg-2' | 'postern-pg';
  shares: CpuShares | null;
  waits: PgWaits | null;
};

/**
 * Simple on purpose. Cores ≥ 90 % busy: CPU, whoever uses it. Otherwise the sessions wait on something:
 * PostgreSQL when its active backends were most often waiting on a lock (every bench message goes to one
 * mailbox, whose row each delivery batch locks until its commit) or when its processes used at least half
 * of the busy CPU time; else the commit itself, the WAL flush (fsync) the 250 waits for.
 */
export function bottleneck(s: CpuShares, w: PgWaits | undefined, cores: number): string {
  const cpu = `nodes ${s.nodes} %, PostgreSQL ${s.postgres} %, load generator ${s.loadGenerator} %, other ${s.other} %`;
  const waits = w?.samples
    ? `; PostgreSQL backends: lock wait ${w.lock} %, WAL flush ${w.walFlush} %, running ${w.running} %, other ${w.other} %`
    : '';
  const shares = `(CPU shares: ${cpu}${waits})`;
  if (s.machine >= SATURATED_PERCENT)
    return `CPU: the machine's ${cores} cores are saturated, ${s.machine} % busy ${shares}`;
  if (w?.samples && w.lock >= Math.max(w.walFlush, w.running, w.other))
    return `PostgreSQL row locks: cores ${s.machine} % busy, the backends mostly wait on mailbox row locks (a mailbox is locked by a batch until it commits: deliveries to the same mailboxes queue) ${shares}`;
  if (s.machine > 0 && s.postgres * 2 >= s.machine)
    return `PostgreSQL CPU: cores ${s.machine} % busy, ${Math.round((100 * s.postgres) / s.machine)} % of it PostgreSQL ${shares}`;
  return `commit latency (fsync): cores only ${s.machine} % busy, sessions wait on their batch's WAL flush ${shares}`;
}

export function pgComparisons(rows: Row[], cores: number): PgComparison[] {
  const ok = (target: Row['target'], scenario: Row['scenario']) =>
    rows.find((r) => r.target === target && r.scenario === scenario && !r.failed && r.perSecond !== null);
  const out: PgComparison[] = [];
  for (const one of rows) {
    if (one.target !== 'postern-pg' && one.target !== 'postern-pg-2') continue;
    if (out.some((c) => c.scenario === one.label) || one.perSecond === null) continue;
    const a = ok('postern-pg', one.scenario);
    const b = ok('postern-pg-2', one.scenario);
    const basis = b ?? a;
    out.push({
      scenario: one.label,
      sqlite: ok('postern', one.scenario)?.perSecond ?? null,
      oneNode: a?.perSecond ?? null,
      twoNodes: b?.perSecond ?? null,
      gain: a?.perSecond && b?.perSecond ? b.perSecond / a.perSecond : null,
      nodeCpuUs: { one: a?.cpuUsPerMessage ?? null, two: b?.cpuUsPerMessage ?? null },
      pgCpuUs: { one: a?.pgCpuUsPerMessage ?? null, two: b?.pgCpuUsPerMessage ?? null },
      bottleneck: basis?.cpuShares ? bottleneck(basis.cpuShares, basis.pgWaits, cores) : 'not measured',
      basedOn: b ? 'postern-pg-2' : 'postern-pg',
      shares: basis?.cpuShares ?? null,
      waits: basis?.pgWaits ?? null,
    });
  }
  return out;
}

export function pgTable(list: PgComparison[]): string {
  const pair = (p: { one: number | null; two: number | null }) => `${num(p.one)} / ${num(p.two)}`;
  const body = list.map((c) => [
    c.scenario,
    num(c.sqlite),
    num(c.oneNode),
    num(c.twoNodes),
    c.gain === null ? '-' : `${c.gain.toFixed(2)}×`,
    pair(c.nodeCpuUs),
    pair(c.pgCpuUs),
  ]);
  const header = [
    'scenario',
    'SQLite msgs/s',
    'pg 1 node',
    'pg 2 nodes',
    '2 nodes / 1',
    'node CPU µs/msg (1 / 2)',
    'PG CPU µs/msg (1 / 2)',
  ];
  const verdicts = list.map((c) => {
    const gain =
      c.gain === null
        ? ''
        : ` two nodes ${c.gain.toFixed(2)}× one (goal ≥ ${GOAL}× when the database is not the bottleneck);`;
    const run = c.basedOn === 'postern-pg-2' ? 'two-node run' : 'one-node run (no two-node row)';
    return `- ${c.scenario}:${gain} bottleneck of the ${run}: ${c.bottleneck}`;
  });
  return `${align(header, body, [1, 2, 3, 4, 5, 6])}\n\n${verdicts.join('\n')}`;
}
