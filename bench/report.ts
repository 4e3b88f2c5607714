/**
 * Turns measurements into the printed table, the ratios to the reference servers and the target checks.
 * Targets apply to Postern with its real store; the null store and smtp-sink are there to show how much
 * of the cost is storage and how much the machine and the load generator can do at all.
 */
import type { CpuShares } from './machine.ts';
import type { PgWaits } from './postgres.ts';
import type { ServerKind } from './server-process.ts';

export type ScenarioId =
  | 'reused-1k'
  | 'reused-10k'
  | 'per-connection-1k'
  | 'half-peak'
  | 'idle-1000'
  | 'source-reused'
  | 'source-per-connection';

export type Row = {
  target: ServerKind;
  scenario: ScenarioId;
  label: string;
  messages: number;
  delivered: number;
  perSecond: number | null;
  p50: number | null;
  p99: number | null;
  cpuUsPerMessage: number | null;
  rssMb: number;
  /** CPU used by other processes during the scenario, % of all CPUs: a noise indicator. */
  otherCpuPercent: number;
  failed: boolean;
  note: string;
  /** PostgreSQL kinds only: the PostgreSQL server's CPU (its processes, from /proc) per message delivered. */
  pgCpuUsPerMessage?: number | null;
  /** PostgreSQL kinds only: who used the CPUs during the scenario (bench/machine.ts). */
  cpuShares?: CpuShares;
  /** PostgreSQL kinds only: what the database's active backends waited on during the scenario. */
  pgWaits?: PgWaits;
};

export type TargetCheck = {
  target: string;
  value: number | null;
  unit: string;
  status: 'met' | 'not met' | 'not measured';
  noisy: boolean;
};

/** Other processes using more than this share of the CPUs make a scenario's figures unreliable. */
export const NOISY_PERCENT = 10;

export const TARGET_NAMES: Record<ServerKind, string> = {
  postern: 'postern',
  'postern-discard': 'postern null-store',
  'smtp-sink': 'smtp-sink',
  'smtp-server': 'smtp-server+fsync',
  'node-floor': 'node floor',
  'postern-pg': 'postern-pg',
  'postern-pg-2': 'postern-pg-2',
};

const find = (rows: Row[], target: ServerKind, scenario: ScenarioId) =>
  rows.find((r) => r.target === target && r.scenario === scenario && !r.failed);

export const num = (v: number | null, digits = 0): string =>
  v === null || Number.isNaN(v)
    ? '-'
    : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Table rows and columns, aligned; numbers (the `right` columns) to the right, text to the left. */
export function align(header: string[], body: string[][], right: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export function resultsTable(rows: Row[]): string {
  const header = ['server', 'scenario', 'msgs/s', 'p50 ms', 'p99 ms', 'CPU µs/msg', 'RSS MB', 'status'];
  const body = rows.map((r) => [
    TARGET_NAMES[r.target],
    r.label,
    num(r.perSecond),
    num(r.p50, 2),
    num(r.p99, 2),
    num(r.cpuUsPerMessage),
    num(r.rssMb, 1),
    (r.failed ? 'FAILED' : 'ok') + (r.note ? ` (${r.note})` : ''),
  ]);
  return align(header, body, [2, 3, 4, 5, 6]);
}

export type Ratio = {
  scenario: string;
  postern: number;
  nullStore: number | null;
  smtpSink: number | null;
  smtpServer: number | null;
};

/** Postern's rate over the null store's, smtp-sink's and smtp-server's, for each throughput scenario of this run. */
export function ratios(rows: Row[]): Ratio[] {
  const out: Ratio[] = [];
  for (const r of rows) {
    if (r.target !== 'postern' || r.failed || r.perSecond === null || r.scenario === 'half-peak') continue;
    const over = (t: ServerKind) => {
      const ref = find(rows, t, r.scenario)?.perSecond;
      return ref ? r.perSecond! / ref : null;
    };
    out.push({
      scenario: r.label,
      postern: r.perSecond,
      nullStore: over('postern-discard'),
      smtpSink: over('smtp-sink'),
      smtpServer: over('smtp-server'),
    });
  }
  return out;
}

export function ratiosTable(list: Ratio[]): string {
  const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(0)} %`);
  const body = list.map((r) => [r.scenario, num(r.postern), pct(r.nullStore), pct(r.smtpSink), pct(r.smtpServer)]);
  const header = ['scenario', 'postern msgs/s', 'of null store', 'of smtp-sink', 'of smtp-server+fsync'];
  return align(header, body, [1, 2, 3, 4]);
}

export function targets(rows: Row[]): TargetCheck[] {
  type Pick = (r: Row) => number | null;
  const check = (target: string, scenario: ScenarioId, pick: Pick, unit: string, ok: (v: number) => boolean) => {
    const row = find(rows, 'postern', scenario);
    const value = row ? pick(row) : null;
    const status: TargetCheck['status'] = value === null ? 'not measured' : ok(value) ? 'met' : 'not met';
    return { target, value, unit, status, noisy: (row?.otherCpuPercent ?? 0) > NOISY_PERCENT };
  };
  return [
    check(
      '≥ 4,000 msgs/s, reused connections (1 KB)',
      'reused-1k',
      (r) => r.perSecond,
      'msgs/s',
      (v) => v >= 4000,
    ),
    check(
      '≥ 2,000 msgs/s, one message per connection',
      'per-connection-1k',
      (r) => r.perSecond,
      'msgs/s',
      (v) => v >= 2000,
    ),
    check(
      '≤ 150 µs server CPU per 1 KB message',
      'reused-1k',
      (r) => r.cpuUsPerMessage,
      'µs',
      (v) => v <= 150,
    ),
    check(
      'p99 end-of-data→250 < 25 ms at half peak',
      'half-peak',
      (r) => r.p99,
      'ms',
      (v) => v < 25,
    ),
    check(
      '< 150 MB RSS with 1,000 idle connections',
      'idle-1000',
      (r) => r.rssMb,
      'MB',
      (v) => v < 150,
    ),
  ];
}

export function targetsTable(list: TargetCheck[]): string {
  const body = list.map((t) => [
    t.target,
    t.value === null ? '-' : `${num(t.value, t.unit === 'ms' ? 2 : 0)} ${t.unit}`,
    t.status + (t.noisy ? ' (other load during the run: repeat on a quiet machine)' : ''),
  ]);
  return align(['target (postern, real store)', 'measured', 'status'], body, [1]);
}

export type RelativeCheck = {
  target: string;
  /** Postern's figure over the reference's, from the same run. */
  ratio: number | null;
  /** What the table gives for that ratio. */
  wanted: number;
  status: TargetCheck['status'];
  noisy: boolean;
};

/**
 * The targets as ratios to the Node.js reference of its table, which was measured with
 * smtp-source (20 sessions, 1 KB): 4,000 msgs/s and 150 µs of CPU per message where nodemailer's
 * smtp-server with a synced file per message did ~3,000 msgs/s at ~300 µs. Absolute figures drift with
 * the machine, and not evenly: smtp-sink's cost is nearly all system calls, a Node.js server's mostly
 * JavaScript, so a ratio to a server of the same runtime carries over where one to smtp-sink does not
 * (skew() shows by how much). One message per connection has no such reference: smtp-server's ~190
 * msgs/s there come from a 100 ms greeting delay.
 */
export function relativeTargets(rows: Row[]): RelativeCheck[] {
  const check = (target: string, pick: (r: Row) => number | null, wanted: number, atMost: boolean): RelativeCheck => {
    const ours = find(rows, 'postern', 'source-reused');
    const theirs = find(rows, 'smtp-server', 'source-reused');
    const a = ours ? pick(ours) : null;
    const b = theirs ? pick(theirs) : null;
    const ratio = a !== null && b ? a / b : null;
    const status: TargetCheck['status'] =
      ratio === null ? 'not measured' : (atMost ? ratio <= wanted : ratio >= wanted) ? 'met' : 'not met';
    const noisy = [ours, theirs].some((r) => (r?.otherCpuPercent ?? 0) > NOISY_PERCENT);
    return { target, ratio, wanted, status, noisy };
  };
  return [
    check('≥ 1.33× its rate (4,000 vs ~3,000 msgs/s)', (r) => r.perSecond, 4000 / 3000, false),
    check('≤ 0.5× its CPU per message (150 vs ~300 µs)', (r) => r.cpuUsPerMessage, 150 / 300, true),
  ];
}

/** smtp-server's rate over smtp-sink's with smtp-source -d: ~0.33 in the table (3,000 of ~9,000). */
export function skew(rows: Row[]): number | null {
  const server = find(rows, 'smtp-server', 'source-reused')?.perSecond;
  const sink = find(rows, 'smtp-sink', 'source-reused')?.perSecond;
  return server && sink ? server / sink : null;
}

/** Two decimals, or three where two would print the wanted figure for a ratio on either side of it. */
export function ratioText(ratio: number, wanted: number): string {
  const text = ratio.toFixed(2);
  return text === wanted.toFixed(2) && ratio !== wanted ? ratio.toFixed(3) : text;
}

export function relativeTable(list: RelativeCheck[]): string {
  const body = list.map((t) => [
    t.target,
    t.ratio === null ? '-' : `${ratioText(t.ratio, t.wanted)}×`,
    `${t.wanted.toFixed(2)}×`,
    t.status + (t.noisy ? ' (other load during the run: repeat on a quiet machine)' : ''),
  ]);
  const header = ['target as a ratio to smtp-server+fsync, smtp-source -d', 'measured', 'wanted', 'status'];
  return align(header, body, [1, 2]);
}

export type CpuBreakdown = {
  scenario: string;
  /** Postern with its real store, per message. */
  postern: number;
  /** The bare Node.js responder: socket I/O and loopback TCP, which every Node.js server pays. */
  floor: number | null;
  /** Postern's session, checks and trace headers: the null store over the floor. */
  checks: number | null;
  /** Storing durably: the real store over the null store. */
  store: number | null;
};

/**
 * Postern's CPU per message split by the references of the same run: the Node.js floor, Postern's
 * own work before the store (its null store minus the floor) and the durable store (its real store
 * minus the null store). Single runs differ by 15 % or more, so a part can come out a little off.
 */
export function cpuBreakdown(rows: Row[]): CpuBreakdown[] {
  const out: CpuBreakdown[] = [];
  for (const r of rows) {
    if (r.target !== 'postern' || r.failed || r.cpuUsPerMessage === null) continue;
    const floor = find(rows, 'node-floor', r.scenario)?.cpuUsPerMessage ?? null;
    if (floor === null) continue;
    const nullStore = find(rows, 'postern-discard', r.scenario)?.cpuUsPerMessage ?? null;
    out.push({
      scenario: r.label,
      postern: r.cpuUsPerMessage,
      floor,
      checks: nullStore === null ? null : nullStore - floor,
      store: nullStore === null ? null : r.cpuUsPerMessage - nullStore,
    });
  }
  return out;
}

export function breakdownTable(list: CpuBreakdown[]): string {
  const body = list.map((b) => [b.scenario, num(b.postern), num(b.floor), num(b.checks), num(b.store)]);
  const header = ['scenario', 'postern', 'node floor', 'postern before the store', 'durable store'];
  return align(header, body, [1, 2, 3, 4]);
}
