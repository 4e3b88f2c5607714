/**
 * `--node-cpu F`: each Postern node process may use at most F of one core (a cgroup v1 CPU quota).
 * On one small machine, nodes, PostgreSQL and the load generator share the same cores, so a second
 * node competes with the first instead of adding a machine. Capping every node emulates nodes on
 * machines of their own, each with F cores, while the database and the load keep the rest: the
 * one-versus-two-nodes comparison then shows whether the database limits scaling.
 */
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const CPU_CGROUP = '/sys/fs/cgroup/cpu';
const PERIOD_US = 100_000;
let counter = 0;

/** Moves the process (all its threads, and any it starts later) into a capped cgroup. */
export function capCpu(pid: number, cores: number): () => void {
  const dir = path.join(CPU_CGROUP, `postern-bench-${process.pid}-${++counter}`);
  try {
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
    writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(Math.round(cores * PERIOD_US)));
    writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  } catch (e) {
    throw new Error(
      `--node-cpu needs a writable cgroup v1 CPU controller at ${CPU_CGROUP} (run as root): ${(e as Error).message}`,
    );
  }
  // The group can go once the process has exited (a group with members cannot be removed).
  return () => {
    try {
      rmdirSync(dir);
    } catch {}
  };
}
