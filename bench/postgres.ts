/**
 * The PostgreSQL side of the benchmark: the server it talks to (POSTERN_BENCH_PG_URL, a local one only),
 * one fresh database per server start, dropped at its end, and the CPU time the PostgreSQL processes use,
 * read from /proc like the server's own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { CLK_TCK } from './server-process.ts';

export const PG_URL = process.env.POSTERN_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export type PgInfo = { url: string; version: string; fsync: string; walSyncMethod: string };

/** The URL without its password, for output. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** The URL of another database on the same server. */
export function databaseUrl(name: string, base = PG_URL): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Only a server on this machine: the load stays on 127.0.0.1, and PostgreSQL's CPU is read from this
 * machine's /proc. A Unix socket directory (percent-encoded host) counts as local.
 */
function localHost(url: string): boolean {
  const u = new URL(url);
  const host = decodeURIComponent(u.hostname);
  const socket = u.searchParams.get('host');
  if (socket) return socket.startsWith('/');
  return ['127.0.0.1', 'localhost', '[::1]'].includes(host) || host.startsWith('/');
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    query_timeout: 30_000,
    application_name: 'postern bench',
  });
  client.on('error', () => undefined); // a dropped connection rejects the pending query instead
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The server's version and durability settings, or why it cannot be used. */
export async function probePostgres(): Promise<PgInfo | { error: string }> {
  try {
    const where = 'POSTERN_BENCH_PG_URL must name a server on 127.0.0.1';
    if (!localHost(PG_URL)) return { error: `${redact(PG_URL)} is not on this machine (${where})` };
    return await withClient(PG_URL, async (c) => {
      const show = async (name: string) => String((await c.query(`SHOW ${name}`)).rows[0]?.[name] ?? '?');
      return {
        url: redact(PG_URL),
        version: (await show('server_version')).split(' ')[0] ?? '?',
        fsync: await show('fsync'),
        walSyncMethod: await show('wal_sync_method'),
      };
    });
  } catch (e) {
    return { error: `PostgreSQL at ${redact(PG_URL)} unreachable: ${(e as Error).message}` };
  }
}

/** Databases this run created and has not dropped yet. */
const created = new Set<string>();

/** A fresh, empty database; its name says which benchmark process made it. */
export async function createDatabase(): Promise<string> {
  const name = `postern_bench_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  created.add(name); // before CREATE: an interrupted run still tries to drop it
  await withClient(PG_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  return name;
}

/** Drops the database, ending any session still in it (PostgreSQL 13+). */
export async function dropDatabase(name: string): Promise<void> {
  if (!/^postern_bench_\w+$/.test(name)) throw new Error(`refusing to drop ${name}`);
  await withClient(PG_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  created.delete(name);
}

/** For an interrupted run: drop what is left. Errors are reported, not thrown. */
export async function dropCreated(): Promise<string[]> {
  const problems: string[] = [];
  for (const name of [...created]) {
    await dropDatabase(name).catch((e: Error) => problems.push(`could not drop database ${name}: ${e.message}`));
  }
  return problems;
}

/** Per process, utime+stime in seconds. */
export type CpuSample = Map<number, number>;

/**
 * The PostgreSQL processes (/proc/<pid>/comm is "postgres"): the postmaster, its background processes
 * (WAL writer, checkpointer, ...) and client backends, except backends of other databases, whose work is
 * not ours. A backend's title is "postgres: [cluster: ]user database host(port) activity" (or [local]).
 */
export function samplePgCpu(database: string): CpuSample {
  const out: CpuSample = new Map();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const backend = /\s\S+\(\d+\)(\s|$)|\s\[local\](\s|$)/.test(title);
      if (backend && !title.includes(` ${database} `)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
      out.set(Number(pid), (Number(f[11]) + Number(f[12])) / CLK_TCK);
    } catch {} // exited meanwhile, or not readable
  }
  return out;
}

/**
 * CPU seconds between two samples, per process: a backend that started in between counts from zero, one
 * that exited in between counts nothing (its last moments are lost, not its whole history subtracted).
 */
export function pgCpuSeconds(before: CpuSample, after: CpuSample): number {
  let sum = 0;
  for (const [pid, seconds] of after) sum += Math.max(0, seconds - (before.get(pid) ?? 0));
  return sum;
}

/**
 * What the active backends of the database were doing, in % of samples: waiting on a heavyweight lock
 * (a row another transaction holds), on the WAL flush of a commit, running (no wait event), or other.
 */
export type PgWaits = {
  /** Backend observations: active backends summed over the sampling rounds. */
  samples: number;
  lock: number;
  walFlush: number;
  running: number;
  other: number;
};

const WAL_FLUSH = new Set(['WALSync', 'WALWrite']); // IO/WALSync, IO/WALWrite, LWLock/WALWrite

/**
 * Samples pg_stat_activity every `everyMs` until `stop()` (at most 3,000 samples), from a session in the
 * base database so that its own backend is not counted as ours.
 */
export function sampleWaits(database: string, everyMs = 100): { stop: () => Promise<PgWaits> } {
  const counts = { lock: 0, walFlush: 0, running: 0, other: 0 };
  let stopped = false;
  const loop = withClient(PG_URL, async (c) => {
    const sql = "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE datname = $1 AND state = 'active'";
    for (let i = 0; i < 3000 && !stopped; i++) {
      for (const r of (await c.query(sql, [database])).rows as {
        wait_event_type: string | null;
        wait_event: string | null;
      }[]) {
        if (r.wait_event_type === 'Lock') counts.lock++;
        else if (WAL_FLUSH.has(r.wait_event ?? '')) counts.walFlush++;
        else if (!r.wait_event) counts.running++;
        else counts.other++;
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }).catch(() => undefined); // no samples: reported as 0 samples
  return {
    stop: async () => {
      stopped = true;
      await loop;
      const samples = counts.lock + counts.walFlush + counts.running + counts.other;
      const pct = (n: number) => (samples ? Math.round((100 * n) / samples) : 0);
      return {
        samples,
        lock: pct(counts.lock),
        walFlush: pct(counts.walFlush),
        running: pct(counts.running),
        other: pct(counts.other),
      };
    },
  };
}
