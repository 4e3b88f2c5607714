/**
 * The server under test as a child process: Postern (real store, --discard-mail, or a node on PostgreSQL,
 * grouped by bench/pg-server.ts), Postfix's smtp-sink, or nodemailer's smtp-server storing each message
 * in a synced file (bench/reference-server.ts).
 * CPU time and RSS come from /proc, for the process and any children it runs, so the figures are the
 * server's own and not the load generator's, which shares the machine.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ACCOUNT, addBenchAccounts } from './accounts.ts';
import { capCpu } from './cpu-cap.ts';
import type { PgWaits } from './postgres.ts';

export type ServerKind =
  | 'postern'
  | 'postern-discard'
  | 'smtp-sink'
  | 'smtp-server'
  | 'node-floor'
  | 'postern-pg'
  | 'postern-pg-2';
export type Usage = { cpuSeconds: number; rssMb: number };

/** What a scenario needs of the server under test: one process, or several nodes (bench/pg-server.ts). */
export interface Server {
  readonly kind: ServerKind;
  /** The first node's port, for the generators that take one. */
  readonly port: number;
  /** Every node's port; the load generator spreads its sessions over them. */
  readonly ports: number[];
  readonly alive: boolean;
  usage(): Usage;
  stop(): Promise<void>;
  /** Starts watching the database server, where the server under test has one of its own (PostgreSQL). */
  databaseProbe?(): DatabaseProbe;
}

/** The database server's CPU seconds since the probe started, and (stopping it) what its backends waited on. */
export type DatabaseProbe = { cpuSeconds(): number; waits(): Promise<PgWaits> };

/** How to start a Postern node: the store section of its config, and whether to create the account. */
export type NodeOptions = {
  store?: Record<string, unknown>;
  addUser?: boolean;
  mailboxes?: number;
  /** A CPU quota for the node, in cores (bench/cpu-cap.ts). */
  cpuCap?: number;
  /** More configuration keys, merged over the benchmark's (e.g. `authentication`). */
  config?: Record<string, unknown>;
};

export const ROOT = path.resolve(import.meta.dirname, '..');
export const POSTERN_MAIN = path.join(ROOT, 'bin/postern.mjs');
/** The checkout's `postern` command, as an admin runs the server: it adds the Node.js flags (bin/postern). */
export const POSTERN_COMMAND = path.join(ROOT, 'bin/postern');
export const SMTP_SINK = '/usr/sbin/smtp-sink';
export const REFERENCE_SERVER = path.join(ROOT, 'bench/reference-server.ts');
export const NODE_FLOOR_SERVER = path.join(ROOT, 'bench/node-floor-server.ts');
export { ACCOUNT } from './accounts.ts';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A free loopback port: bind port 0, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The process and its descendants, via /proc/<pid>/task/<tid>/children. */
function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && out.length < 1000; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch {} // the process exited meanwhile
  }
  return out;
}

/** utime+stime (+ reaped children's cutime+cstime), proc(5) fields 14-17, in seconds. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Resolves with the greeting once a connection gets "220", or rejects after `ms`. */
function greeting(port: number, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no greeting'));
    }, ms);
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      text += d;
      if (!text.includes('\r\n')) return;
      clearTimeout(timer);
      s.end('QUIT\r\n');
      if (text.startsWith('220')) resolve(text.split('\r\n')[0] ?? '');
      else reject(new Error(`greeting: ${text.trim()}`));
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The telling line of a failed command's output: the first error line, else the last line. */
export function gist(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return (lines.find((l) => /error|fatal/i.test(l)) ?? lines.at(-1) ?? '').slice(0, 300);
}

const running = new Set<{ stop(): Promise<void> }>();

/** Registers something `stopAll` must stop on an interrupted run; `untrack` when it stopped. */
export const track = (s: { stop(): Promise<void> }): void => void running.add(s);
export const untrack = (s: { stop(): Promise<void> }): void => void running.delete(s);

export class ServerProcess implements Server {
  readonly kind: ServerKind;
  readonly port: number;
  readonly child: ChildProcess;
  readonly #dir: string | undefined;
  #release: (() => void) | undefined;
  #output = '';
  #exited: Promise<void>;

  private constructor(kind: ServerKind, port: number, child: ChildProcess, dir: string | undefined) {
    this.kind = kind;
    this.port = port;
    this.child = child;
    this.#dir = dir;
    // Keep the last few KB of output for error reports; reading also keeps the pipes from filling up.
    const keep = (d: Buffer) => {
      this.#output = (this.#output + d.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    running.add(this);
  }

  static async start(kind: ServerKind, dnsPort: number, node: NodeOptions = {}): Promise<ServerProcess> {
    const port = await freePort();
    if (kind === 'smtp-sink') {
      // -m: up to 2000 simultaneous connections (default 256, too few for the idle scenario); -u is
      // required when run as root. 1024 is the listen backlog.
      const user = process.getuid?.() === 0 ? ['-u', 'root'] : [];
      const child = spawn(SMTP_SINK, [...user, '-m', '2000', `127.0.0.1:${port}`, '1024'], { stdio: 'pipe' });
      return await new ServerProcess(kind, port, child, undefined).ready();
    }
    if (kind === 'node-floor') {
      const child = spawn(process.execPath, [NODE_FLOOR_SERVER, String(port)], { cwd: ROOT, stdio: 'pipe' });
      return await new ServerProcess(kind, port, child, undefined).ready();
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-bench-'));
    if (kind === 'smtp-server') {
      const child = spawn(process.execPath, [REFERENCE_SERVER, String(port), dir], { cwd: ROOT, stdio: 'pipe' });
      return await new ServerProcess(kind, port, child, dir).ready();
    }
    const config = path.join(dir, 'postern.yaml');
    const settings = {
      hostname: 'bench.example.com',
      domains: ['example.com'],
      dataDir: path.join(dir, 'data'),
      listen: { smtp: `127.0.0.1:${port}`, submission: null, submissions: null },
      dns: { servers: [`127.0.0.1:${dnsPort}`] }, // the loopback stub: no lookup leaves the machine
      log: { level: 'warn' },
      dnsCheckIntervalMinutes: 0, // the benchmark measures SMTP only
      // Its messages come from outside with our own domain in From: phishing scoring would tag and
      // rewrite every one. Content filtering has its own benchmark (bench/scan.ts, docs/benchmarks.md).
      filter: { phishing: { enabled: false } },
      smtp: { maxConnections: 2000 },
      // Every session comes from 127.0.0.1: the per-client limit would refuse the 1,000 idle connections.
      limits: { maxConnectionsPerClient: 0 },
      ...(node.store ? { store: node.store } : {}),
      ...node.config,
    };
    await writeFile(config, stringify(settings));
    try {
      // The account once per database: nodes sharing one (PostgreSQL) skip it after the first.
      const add = [POSTERN_MAIN, 'user', 'add', ACCOUNT, '--password-stdin', '--config', config];
      if (node.addUser !== false) {
        execFileSync(process.execPath, add, {
          cwd: ROOT,
          input: 'bench-password-not-secret\n', // Postern wants 8+ characters
          timeout: 60_000,
          stdio: ['pipe', 'ignore', 'pipe'],
        });
        await addBenchAccounts(config, node.mailboxes ?? 1);
      }
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`user add failed: ${gist(String((e as { stderr?: Buffer }).stderr ?? e))}`);
    }
    const args = ['serve', '--config', config, ...(kind === 'postern-discard' ? ['--discard-mail'] : [])];
    // The shell script execs Node in its own process, so the child's pid is the server's.
    const child = spawn(POSTERN_COMMAND, args, { cwd: ROOT, stdio: 'pipe' });
    const server = new ServerProcess(kind, port, child, dir);
    if (node.cpuCap && child.pid) server.#release = capCpu(child.pid, node.cpuCap);
    return await server.ready();
  }

  /** Polls for a 220 greeting for up to 30 s; fails early if the process exits. */
  async ready(): Promise<ServerProcess> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        await this.stop();
        throw new Error(`exited (${this.child.exitCode ?? this.child.signalCode}): ${gist(this.#output)}`);
      }
      try {
        await greeting(this.port, 2000);
        return this;
      } catch (e) {
        if (Date.now() > deadline) {
          await this.stop();
          throw new Error(`not ready after 30 s (${(e as Error).message}): ${gist(this.#output)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  usage(): Usage {
    const pids = this.child.pid ? tree(this.child.pid) : [];
    const cpu = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const rss = pids.reduce((sum, pid) => sum + rssKb(pid), 0);
    return { cpuSeconds: cpu, rssMb: rss / 1024 };
  }

  get ports(): number[] {
    return [this.port];
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get output(): string {
    return this.#output;
  }

  /** SIGTERM, SIGKILL after 15 s (Postern's default shutdown grace is 10 s), then the temp dir goes. */
  async stop(): Promise<void> {
    running.delete(this);
    if (this.alive) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.#exited;
      clearTimeout(timer);
    }
    this.#release?.();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}

/** For an interrupted benchmark: stop whatever is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

export const haveSmtpSink = (): boolean => existsSync(SMTP_SINK);
export const havePostern = (): boolean => existsSync(POSTERN_MAIN);
/** smtp-server is a development dependency: absent from an installed package. */
export const haveReferenceServer = (): boolean => existsSync(path.join(ROOT, 'node_modules/smtp-server'));
