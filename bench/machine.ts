/**
 * What the figures were measured on: Node, OS, CPU, the commit under test and how busy the machine was.
 * Benchmarks on a shared 2-core machine are only comparable when it was otherwise idle, so we say so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { CLK_TCK, ROOT } from './server-process.ts';

/** Share of CPU time not idle over one second, from /proc/stat (proc(5)); -1 where unreadable. */
export async function busyPercent(): Promise<number> {
  const sample = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    return { total: f.reduce((a, b) => a + b, 0), idle: (f[3] ?? 0) + (f[4] ?? 0) }; // idle + iowait
  };
  try {
    const a = sample();
    await new Promise((r) => setTimeout(r, 1000));
    const b = sample();
    return Math.round((100 * (b.total - a.total - (b.idle - a.idle))) / Math.max(1, b.total - a.total));
  } catch {
    return -1;
  }
}

/** The commit under test, "+dirty" when src/ has uncommitted changes. */
export function revision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', 'src') ? '+dirty' : '');
  } catch {
    return 'unknown';
  }
}

/** The soft limit on open files, as the shell reports it (children inherit it). */
export function openFiles(): number {
  try {
    return Number(execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || 0;
  } catch {
    return 0;
  }
}

export async function describeMachine() {
  const cpu = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: `${cpu[0]?.model.trim() ?? 'unknown'} × ${cpu.length}`,
    openFiles: openFiles(),
    revision: revision(),
    busyPercent: await busyPercent(),
  };
}

/** CPU seconds used by the whole machine and by this process (with its reaped children, e.g. smtp-source). */
export function cpuSnapshot(): { at: number; machine: number; self: number } {
  try {
    const all = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const busy = all.reduce((a, b) => a + b, 0) - (all[3] ?? 0) - (all[4] ?? 0);
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const self = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return { at: performance.now(), machine: busy / CLK_TCK, self: self / CLK_TCK };
  } catch {
    return { at: performance.now(), machine: 0, self: 0 };
  }
}

/**
 * Other work during a scenario, as a share of all CPUs: machine CPU time minus ours and the server's.
 * Above a few percent the figures of that scenario are not comparable with a quiet run.
 */
export function otherCpuPercent(before: ReturnType<typeof cpuSnapshot>, serverSeconds: number): number {
  const after = cpuSnapshot();
  const wall = (after.at - before.at) / 1000;
  const other = after.machine - before.machine - (after.self - before.self) - serverSeconds;
  return wall > 0 ? Math.max(0, Math.round((100 * other) / (wall * os.cpus().length))) : 0;
}

/** Who used the CPUs during a scenario, in % of all CPUs (100 = every core busy all the time). */
export type CpuShares = { machine: number; nodes: number; postgres: number; loadGenerator: number; other: number };

/**
 * The machine's busy time split between the server's nodes, PostgreSQL, this process (the load generator,
 * with smtp-source as its reaped child) and everything else.
 */
export function cpuShares(before: ReturnType<typeof cpuSnapshot>, nodeSeconds: number, pgSeconds: number): CpuShares {
  const after = cpuSnapshot();
  const capacity = ((after.at - before.at) / 1000) * os.cpus().length;
  const pct = (seconds: number) => (capacity > 0 ? Math.max(0, Math.round((100 * seconds) / capacity)) : 0);
  const machine = after.machine - before.machine;
  const self = after.self - before.self;
  return {
    machine: pct(machine),
    nodes: pct(nodeSeconds),
    postgres: pct(pgSeconds),
    loadGenerator: pct(self),
    other: pct(machine - self - nodeSeconds - pgSeconds),
  };
}
