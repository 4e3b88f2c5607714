/**
 * The real OpenDKIM milter (Debian `opendkim`) on an ephemeral loopback port, for interop tests that need a
 * milter peer: the DKIM tests (it signs) and the milter client's tests. A missing binary fails the test
 * with the package to install.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, waitForPort } from './ports.ts';

export const OPENDKIM = '/usr/sbin/opendkim';

export interface RunningMilter {
  port: number;
  /** The milter socket as Postfix and our client spell it: `inet:PORT@127.0.0.1`. */
  spec: string;
  milter: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts OpenDKIM with `lines` of opendkim.conf(5) (plus the socket and foreground settings) in `dir`. */
export async function startOpendkim(dir: string, name: string, lines: string[]): Promise<RunningMilter> {
  if (!existsSync(OPENDKIM)) throw new Error(`not installed: ${OPENDKIM} (apt-get install opendkim)`);
  const port = await freePort();
  const conf = path.join(dir, `${name}.conf`);
  await writeFile(
    conf,
    [
      ...lines,
      `Socket inet:${port}@127.0.0.1`,
      // The key is 0600, but its ancestor /tmp is world-writable, which OpenDKIM's safe-key check refuses.
      'RequireSafeKeys no',
      'Background no',
      'Syslog no',
      `PidFile ${path.join(dir, `${name}.pid`)}`,
      '',
    ].join('\n'),
  );
  const milter = spawn(OPENDKIM, ['-f', '-x', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  milter.stdout?.on('data', (d) => (output += d));
  milter.stderr?.on('data', (d) => (output += d));
  const stop = async () => {
    if (milter.exitCode !== null || milter.signalCode !== null) return;
    const exited = new Promise((r) => milter.once('exit', r));
    milter.kill('SIGKILL'); // SIGTERM makes OpenDKIM wait 5 s for its threads; nothing of it needs keeping
    await exited;
  };
  try {
    await waitForPort(port, 10_000, 'opendkim');
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}: ${output}`);
  }
  return { port, spec: `inet:${port}@127.0.0.1`, milter, output: () => output, stop };
}
