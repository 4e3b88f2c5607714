/**
 * Postfix's smtp-source as a second, independent load generator: if our own generator were the
 * bottleneck, smtp-source against the same server would show it. smtp-source(1): -s sessions in
 * parallel, -m messages in all, -l payload octets (headers extra), -d reuses the connection for the next
 * message (without it, one message per connection); it sends no pipelined commands.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ACCOUNT } from './server-process.ts';

export const SMTP_SOURCE = '/usr/sbin/smtp-source';
export const haveSmtpSource = (): boolean => existsSync(SMTP_SOURCE);

export type SourceOptions = {
  port: number;
  reused: boolean;
  sessions: number;
  messages: number;
  size: number;
  timeCapMs: number;
};

export type SourceResult = {
  command: string;
  elapsedMs: number;
  perSecond: number;
  exit: string;
  output: string;
  failed: boolean;
};

export function runSmtpSource(o: SourceOptions): Promise<SourceResult> {
  const args = ['-s', String(o.sessions), '-m', String(o.messages), '-l', String(o.size)];
  if (o.reused) args.push('-d');
  // -M: a fixed HELO name, so smtp-source needs no lookup of its own host name.
  args.push('-M', 'client.example', '-f', ACCOUNT, '-t', ACCOUNT, `127.0.0.1:${o.port}`);
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(SMTP_SOURCE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-2000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // Bounded like our own generator: killed at the time cap.
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeCapMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const elapsedMs = performance.now() - start;
      // smtp-source stops at the first unexpected reply (no -A), so a clean exit means all were accepted.
      const ok = code === 0 && signal === null;
      resolve({
        command: ['smtp-source', ...args].join(' '),
        elapsedMs,
        perSecond: ok ? (o.messages * 1000) / elapsedMs : 0,
        exit: signal ?? String(code),
        output: output.trim(),
        failed: !ok,
      });
    });
  });
}
