/**
 * Sends each case of cases.ts through a real `postern serve` (phishing, header/body checks and sender
 * authentication on, DNS on a loopback test server) and measures, per message: end-of-data-to-reply
 * time, server CPU, peak RSS over the idle baseline, and the worst NOOP round trip of a second session
 * (the event-loop stall others see).
 *   node bench/adversarial/drive.ts (npm run bench:adversarial) [case-name-substring ...]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SmtpConnection } from '../connection.ts';
import { ACCOUNT, ServerProcess, stopAll } from '../server-process.ts';
import { cases, startSenderDns } from './cases.ts';

const only = process.argv.slice(2);
const dns = await startSenderDns();
const dnsPort = Number(dns.server.slice(dns.server.lastIndexOf(':') + 1));
const dir = await mkdtemp(path.join(os.tmpdir(), 'dos-rules-'));
const rules = {
  header: path.join(dir, 'header_checks'),
  body: path.join(dir, 'body_checks'),
};
await writeFile(
  rules.header,
  [
    '/^Subject:.*\\b(lottery|winner)\\b/ REJECT No lotteries',
    '/^Content-Type:.*name=.*\\.(exe|scr)/ REJECT Executables',
    '/^(From|Reply-To):.*@(.*\\.)*(bad|evil)\\.example/ REJECT bad',
    '/^X-Mailer: BadBulk/ HOLD',
    '/^Received:.*\\[(10|192\\.168)\\./ WARN private',
  ].join('\n'),
);
await writeFile(
  rules.body,
  ['/(bitcoin|btc) wallet/ WARN btc', '/^.*(viagra|cialis).*$/ REJECT spam', '/<a[^>]*href=[^>]*\\.ru/ WARN ru'].join(
    '\n',
  ),
);

const server = await ServerProcess.start('postern', dnsPort, {
  config: {
    log: { level: 'info' },
    filter: {
      phishing: { enabled: true },
      headerChecks: rules.header,
      mimeHeaderChecks: rules.header,
      bodyChecks: rules.body,
    },
    smtp: { maxConnections: 100, maxCommandsBeforeMail: 1000000 },
  },
});
const pid = server.child.pid as number;

function rssKb(): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

function stuff(m: Buffer): Buffer {
  // dot-stuffing: a line starting with "." gets another (RFC 5321 §4.5.2)
  const s = m.toString('latin1').replace(/(^|\r\n)\./g, '$1..');
  return Buffer.from(`${s}${s.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
}

async function session(): Promise<SmtpConnection> {
  const c = await SmtpConnection.connect(server.port);
  await c.reply();
  c.write('EHLO client.sender.example\r\n');
  await c.reply();
  return c;
}

type Row = {
  name: string;
  size: number;
  replyMs: number;
  cpuMs: number;
  rssMb: number;
  stallMs: number;
  reply: string;
};
const rows: Row[] = [];
const probe = await session();
probe.write('MAIL FROM:<probe@sender.example>\r\n');
await probe.reply();
let probing = false;
let worst = 0;
async function probeLoop() {
  while (probing) {
    const t = performance.now();
    probe.write('NOOP\r\n');
    await probe.reply();
    worst = Math.max(worst, performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
}

process.on('uncaughtException', (e) => {
  console.log('ERR', e, server.output.slice(-2000));
  process.exit(1);
});
// warm-up: JIT, lazy imports, DNS caches
for (let i = 0; i < 3; i++) await send(cases[0]!.build(), 'warm');

async function send(content: Buffer, name: string): Promise<Row> {
  const c = await session();
  c.write(`MAIL FROM:<bob@sender.example> SIZE=${content.length}\r\n`);
  const mail = await c.reply();
  if (mail.code !== 250) throw new Error(`MAIL: ${mail.code} ${mail.text}`);
  c.write(`RCPT TO:<${ACCOUNT}>\r\n`);
  await c.reply();
  c.write('DATA\r\n');
  await c.reply();
  const data = stuff(content);
  const baseRss = rssKb();
  let peak = baseRss;
  const poll = setInterval(() => {
    peak = Math.max(peak, rssKb());
  }, 10);
  worst = 0;
  probing = true;
  const loop = probeLoop();
  const before = server.usage().cpuSeconds;
  // write all but the end, let the server read it, then time from the final dot
  c.write(data.subarray(0, data.length - 3));
  await new Promise((r) => setTimeout(r, Math.min(3000, 50 + data.length / 20_000)));
  const cpuRead = server.usage().cpuSeconds;
  const t = performance.now();
  worst = 0;
  c.write(data.subarray(data.length - 3));
  const r = await c.reply();
  const replyMs = performance.now() - t;
  await new Promise((res) => setTimeout(res, 30));
  const after = server.usage().cpuSeconds;
  probing = false;
  await loop;
  clearInterval(poll);
  c.write('QUIT\r\n');
  const row = {
    name,
    size: content.length,
    replyMs: Math.round(replyMs),
    cpuMs: Math.round((after - cpuRead) * 1000),
    readCpuMs: Math.round((cpuRead - before) * 1000),
    rssMb: Math.round((peak - baseRss) / 1024),
    stallMs: Math.round(worst),
    reply: `${r.code} ${r.text.slice(0, 60)}`,
  };
  return row;
}

try {
  for (const k of cases) {
    if (only.length && !only.some((o) => k.name.includes(o))) continue;
    const content = k.build();
    const row = await send(content, k.name);
    rows.push(row);
    console.log(JSON.stringify(row));
    if (!server.alive) {
      console.log('SERVER DIED', server.output);
      break;
    }
  }
} finally {
  probe.write('QUIT\r\n');
  await stopAll();
  await dns.close?.();
}
console.log(server.output.slice(-3000));
process.exit(0);
