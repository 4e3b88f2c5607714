/**
 * The real `postern` command as a child process: config files in a temp dir, `bin/postern` runs,
 * and `serve` started on 127.0.0.1 port 0 with the bound port read from its startup log line.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { tempDir } from './server.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const POSTERN = path.join(ROOT, 'bin/postern');
export const MAIN = path.join(ROOT, 'bin/postern.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/postern with the arguments; the password (or anything) goes to its stdin. */
export function postern(args: string[], options: { stdin?: string | Buffer; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(POSTERN, args, { cwd: options.cwd ?? ROOT, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.stdin ?? '');
  });
}

/** A temp dir with postern.yaml (data in ./data, SMTP on 127.0.0.1:0); removed by cleanup(). */
export function configDir(extra: Record<string, unknown> = {}): { root: string; file: string; cleanup(): void } {
  const root = tempDir('postern-cli-');
  const file = path.join(root, 'postern.yaml');
  const config = {
    hostname: 'mx.example.com',
    domains: ['example.com'],
    dataDir: './data',
    listen: { smtp: '127.0.0.1:0', submission: '127.0.0.1:0', submissions: '127.0.0.1:0' },
    log: { level: 'info' },
    dnsCheckIntervalMinutes: 0, // no self-probe of the test zone's (non-loopback) addresses
    // The run's loopback DNS server (test/support/global-setup.ts): a real resolver is never asked.
    dns: { servers: [sharedTestDns()], timeoutMs: 500, tries: 1 },
    // example.net and example.org senders are TLD swaps of example.com: phishing scoring would tag them.
    filter: { phishing: { enabled: false } },
    ...extra,
  };
  fs.writeFileSync(file, stringify(config));
  return { root, file, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

function sharedTestDns(): string {
  const server = process.env.POSTERN_TEST_DNS;
  if (!server)
    throw new Error('no test DNS server: run with --test-global-setup=test/support/global-setup.ts (npm test does)');
  return server;
}

export async function addUser(file: string, address: string): Promise<void> {
  const r = await postern(['user', 'add', address, '--password-stdin', '--config', file], {
    stdin: 'correct horse battery\n',
  });
  if (r.code !== 0) throw new Error(`user add ${address} failed (${r.code}): ${r.stderr}`);
}

export interface ChildServer {
  child: ChildProcess;
  port: number;
  /** Everything the server wrote so far. */
  output(): string;
  /** Sends the signal and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `node bin/postern.mjs serve --config FILE` and waits (at most 15 s) for it to listen. With
 * `shell`, runs that shell command first and then execs `bin/postern serve` (same pid), as an admin's shell would;
 * with `prefix`, runs under that command (nsenter …).
 */
export async function spawnServer(
  file: string,
  options: { shell?: string; prefix?: string[] } = {},
): Promise<ChildServer> {
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const [first, ...rest] = [...(options.prefix ?? []), process.execPath, MAIN, 'serve', '--config', file];
  const child =
    options.shell === undefined
      ? spawn(first!, rest, { stdio })
      : spawn('sh', ['-c', `${options.shell}; exec "$0" serve --config "$1"`, POSTERN, file], { stdio });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error('the server did not log its SMTP port within 15 s (log.level must be info or lower)')),
      15_000,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${out}`));
    };
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"smtp":"127\.0\.0\.1:(\d+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('exit', (code) => fail(new Error(`the server exited during startup (code ${code})`)));
  });
  return {
    child,
    port,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
