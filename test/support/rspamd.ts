/**
 * A private rspamd (Debian `rspamd`) for interop tests: the stock /etc/rspamd/rspamd.conf with our own
 * LOCAL_CONFDIR in a temp dir, running only the proxy worker in milter mode with self_scan on an ephemeral
 * loopback port (rspamd.com/doc/workers/rspamd_proxy.html "Milter support"). The system service and its
 * /var/lib/rspamd are not touched. Nothing leaves loopback: DNS goes to the given test server, the checks
 * that need rspamd.com's servers or remote maps are off, and no Redis is configured (Bayes and the
 * Redis-backed modules log that they cannot start, which is fine here). A missing binary fails the test
 * with the package to install.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports.ts';

export const RSPAMD = '/usr/bin/rspamd';

/** Modules that fetch maps from maps.rspamd.com or ask rspamd.com's fuzzy servers and DNS lists. */
const NETWORK_MODULES = ['fuzzy_check', 'rbl', 'whitelist', 'phishing', 'multimap', 'mid', 'asn', 'emails'];

export interface RunningRspamd {
  port: number;
  /** The milter socket as Postfix and our client spell it: `inet:PORT@127.0.0.1`. */
  spec: string;
  /** From spawn to the milter port accepting connections. */
  startMs: number;
  rspamd: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface RspamdOptions {
  /** `127.0.0.1:PORT` of a loopback DNS server (test/support/dns.ts). */
  dns: string;
  /** More files for LOCAL_CONFDIR, by path under it: `local.d/force_actions.conf` → its text. */
  files?: Record<string, string>;
}

/** Starts rspamd in the foreground; its config, pid, sockets and databases live in a temp dir. */
export async function startRspamd(options: RspamdOptions): Promise<RunningRspamd> {
  if (!existsSync(RSPAMD)) {
    throw new Error(`not installed: ${RSPAMD} (run .ci/run, or apt-get install rspamd)`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'postern-rspamd-'));
  const port = await freePort();
  const files: Record<string, string> = {
    'override.d/worker-proxy.inc': [
      `bind_socket = "127.0.0.1:${port}";`,
      'milter = yes;',
      'timeout = 120s;',
      // Scan in the proxy process itself: no normal worker to forward to.
      'upstream "local" { default = yes; self_scan = yes; }',
      'count = 1;',
      '',
    ].join('\n'),
    'override.d/worker-normal.inc': 'enabled = false;\n',
    'override.d/worker-controller.inc': 'enabled = false;\n',
    'local.d/options.inc': [
      // The stock list less fuzzy_check, which asks fuzzy1.rspamd.com.
      'filters = "chartable,dkim,regexp";',
      `dns { nameserver = ["${options.dns}"]; timeout = 1s; retransmits = 1; }`,
      // Compiled Hyperscan databases take rspamd ~20 s to build and are the same each run: keep them.
      `hs_cache_dir = "${await hyperscanCache()}";`,
      '',
    ].join('\n'),
    'local.d/logging.inc': 'type = "console";\nlevel = "info";\n',
    ...Object.fromEntries(NETWORK_MODULES.map((m) => [`local.d/${m}.conf`, 'enabled = false;\n'])),
    ...options.files,
  };
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  // The config dir is built in; --var moves everything rspamd.conf reads or writes besides it.
  const vars = ['LOCAL_CONFDIR', 'DBDIR', 'RUNDIR', 'LOGDIR'].map((v) => `--var=${v}=${dir}`);
  // rspamd will not run its workers as root without a user to switch to, or -i.
  const root = process.getuid?.() === 0 ? ['-i'] : [];
  const started = Date.now();
  const rspamd = spawn(RSPAMD, ['-f', ...root, ...vars, '-c', '/etc/rspamd/rspamd.conf'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so a stuck worker can be killed with the main process
  });
  let output = '';
  rspamd.stdout?.on('data', (d) => (output += d));
  rspamd.stderr?.on('data', (d) => (output += d));
  const exited = new Promise((r) => rspamd.once('exit', r));
  const stop = async () => {
    if (rspamd.exitCode === null && rspamd.signalCode === null && rspamd.pid !== undefined) {
      rspamd.kill('SIGTERM'); // the main process stops its workers
      const timer = setTimeout(() => process.kill(-(rspamd.pid as number), 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 90_000, 'rspamd', () => rspamd.exitCode !== null || rspamd.signalCode !== null);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}: ${output}`);
  }
  return { port, spec: `inet:${port}@127.0.0.1`, startMs: Date.now() - started, rspamd, output: () => output, stop };
}

let cache: string | undefined;

/** One Hyperscan cache per rspamd version, shared by test runs (rspamd writes each file anew, then renames). */
async function hyperscanCache(): Promise<string> {
  if (!cache) {
    const version = /version (\S+)/.exec(execFileSync(RSPAMD, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'x';
    cache = path.join(tmpdir(), `postern-rspamd-${version}-hs-cache`);
    await mkdir(cache, { recursive: true, mode: 0o700 });
  }
  return cache;
}
