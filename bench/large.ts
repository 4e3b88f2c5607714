/**
 * Memory under a flood of large messages: N clients each send one message of S octets at once, and
 * the server's peak RSS is sampled while they do. Without a bound on the content all sessions hold
 * (smtp.maxContentInMemory), the peak grew with N; with it, the messages past the bound get
 * 452 4.3.1 and are retried by real senders.
 *
 * Usage: node bench/large.ts [--clients N] [--size OCTETS] [--limit OCTETS]
 *   --limit sets smtp.maxContentInMemory (unset: the server's default, a sixteenth of the memory).
 * Loopback only; one message per client, so the run is bounded.
 */

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startDnsStub } from './dns-stub.ts';
import { ACCOUNT, ServerProcess } from './server-process.ts';

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    size: { type: 'string', default: '20000000' },
    limit: { type: 'string' },
  },
});
const clients = Number(opts.clients);
const size = Number(opts.size);
const limit = opts.limit === undefined ? undefined : Number(opts.limit);
if (!Number.isInteger(clients) || clients < 1 || clients > 500) fail('--clients must be 1 to 500');
if (!Number.isInteger(size) || size < 1024 || size > 25 * 1024 * 1024) fail('--size must be 1 KB to 25 MB');
if (limit !== undefined && (!Number.isInteger(limit) || limit < size)) fail('--limit must be at least --size');

function fail(message: string): never {
  console.error(`bench/large.ts: ${message}`);
  process.exit(2);
}

const line = `${'x'.repeat(76)}\r\n`;
const message = Buffer.from(
  `From: <${ACCOUNT}>\r\nTo: <${ACCOUNT}>\r\nSubject: large\r\n\r\n${line.repeat(Math.floor(size / line.length))}.\r\n`,
  'latin1',
);

/** One client, one message: the final reply's code ("250", "452"), or the error. */
function send(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(new Error('no answer in 120 s')), 120_000);
    let pending = '';
    let step = 0;
    const next = [
      'EHLO large.example.net\r\n',
      `MAIL FROM:<${ACCOUNT}>\r\n`,
      `RCPT TO:<${ACCOUNT}>\r\n`,
      'DATA\r\n',
      message,
    ];
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      pending += data;
      for (let end = pending.indexOf('\r\n'); end >= 0; end = pending.indexOf('\r\n')) {
        const reply = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (reply[3] === '-') continue;
        const code = reply.slice(0, 3);
        const expected = step === 0 ? '220' : step === 4 ? '354' : '250';
        if (step < next.length && code === expected) {
          socket.write(next[step++] as string | Buffer);
          continue;
        }
        clearTimeout(timer);
        socket.end('QUIT\r\n');
        resolve(step === next.length ? code : `${code} before the content`);
        return;
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      resolve(`error: ${error.message}`);
    });
  });
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

const dns = await startDnsStub();
const server = await ServerProcess.start('postern', dns.port, {
  config: limit === undefined ? {} : { smtp: { maxContentInMemory: limit } },
});
try {
  const pid = server.child.pid as number;
  const idle = rssMb(pid);
  let peak = idle;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 20);
  const started = performance.now();
  const outcomes = await Promise.all(Array.from({ length: clients }, () => send(server.port)));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  const mb = (n: number) => (n / 2 ** 20).toFixed(0);
  console.log(
    `postern: ${clients} clients × ${mb(message.length)} MB at once, smtp.maxContentInMemory ${limit === undefined ? 'default' : `${mb(limit)} MB`}`,
  );
  console.log(`  replies: ${[...counts].map(([code, n]) => `${n} × ${code}`).join(', ')}  (${seconds.toFixed(1)} s)`);
  console.log(`  RSS: idle ${idle.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`);
} finally {
  await server.stop();
  await dns.close();
}
