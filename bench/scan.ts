/**
 * `postern scan` batch mode on 10 KB messages (issue 8: ≥ 500 messages/s). Builds 1,000 messages of
 * about 10 KB from the labelled corpus and the SpamAssassin ham (each padded with ham text to size),
 * runs the real CLI over the directory, and reports its rate; then scans the same set in-process for
 * the latency percentiles and memory.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.ts';
import { scanMessage, scanSettings } from '../src/filter/phishing/scan.ts';
import { CORPUS_DIR, loadSamples } from './phishing-eval.ts';

const MESSAGES = 1000;
const SIZE = 10 * 1024;
const TARGET = 500;
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A message grown to `SIZE` octets by appending plain ham text to its first text line run. */
function padded(content: Buffer, filler: string): Buffer {
  if (content.length >= SIZE) return content.subarray(0, SIZE);
  const text = content.toString('latin1');
  const split = text.indexOf('\r\n\r\n') >= 0 ? text.indexOf('\r\n\r\n') + 4 : text.indexOf('\n\n') + 2;
  const multipart = /^content-type:\s*multipart\//im.test(text.slice(0, split));
  const need = SIZE - content.length;
  let pad = '';
  while (pad.length < need) pad += filler;
  pad = pad.slice(0, need);
  // Multipart bodies get the padding in the preamble, where every reader skips it; others at the end.
  const out = multipart ? text.slice(0, split) + pad + text.slice(split) : text + pad;
  return Buffer.from(out, 'latin1');
}

const samples = await loadSamples();
const corpus = samples.filter((s) => s.source === 'corpus');
const ham = samples.filter((s) => s.source !== 'corpus');
const filler = ham
  .slice(0, 50)
  .map((s) =>
    s.content
      .toString('latin1')
      .split(/\r?\n\r?\n/)
      .slice(1)
      .join('\n'),
  )
  .join('\n')
  .replace(/\r?\n/g, '\r\n');
// SCAN_BENCH_DIR keeps the messages there for profiling the CLI by hand.
const keep = process.env.SCAN_BENCH_DIR;
const dir = keep ?? (await mkdtemp(path.join(os.tmpdir(), 'postern-scan-bench-')));
if (keep) await mkdir(keep, { recursive: true });
const batch: Buffer[] = [];
for (let i = 0; i < MESSAGES; i++) {
  // One in five from our own corpus (phishing and hard ham), the rest SpamAssassin ham.
  const source = i % 5 === 0 ? corpus[(i / 5) % corpus.length]! : ham[(i * 7) % ham.length]!;
  const message = padded(source.content, filler);
  batch.push(message);
  await writeFile(path.join(dir, `${String(i).padStart(5, '0')}.eml`), message);
}
const octets = batch.reduce((n, b) => n + b.length, 0);

function runCli(): Promise<{ seconds: number; lines: number; rate: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      path.join(root, 'node_modules/.bin/node'),
      [path.join(root, 'bin/postern.mjs'), 'scan', '--json', '--config', path.join(CORPUS_DIR, 'postern.yaml'), dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let lines = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 10) lines++;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const rate = Number(/(\d+) messages\/s/.exec(stderr)?.[1] ?? Number.NaN);
      if (code === 0 && lines === MESSAGES) resolve({ seconds: (performance.now() - started) / 1000, lines, rate });
      else reject(new Error(`postern scan exited ${code} with ${lines} results: ${stderr}`));
    });
  });
}

// Three runs of the real CLI; single runs on this machine differ by ±15 %, so the median is reported.
const runs = [await runCli(), await runCli(), await runCli()];
const median = <T>(xs: T[], key: (x: T) => number) => xs.map(key).sort((a, b) => a - b)[1]!;
const cliRate = median(runs, (r) => r.rate);
const cliWhole = median(runs, (r) => MESSAGES / r.seconds);

const { config } = loadConfig(path.join(CORPUS_DIR, 'postern.yaml'), {});
const settings = scanSettings({
  filter: config.filter,
  localDomains: config.domains,
  authservId: config.authentication.authservId ?? config.hostname,
});
for (const m of batch.slice(0, 100)) await scanMessage(m, settings); // warm-up
const latencies: number[] = [];
const inProcessStart = performance.now();
for (const m of batch) {
  const t = performance.now();
  await scanMessage(m, settings);
  latencies.push(performance.now() - t);
}
const inProcessSeconds = (performance.now() - inProcessStart) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2);
if (!keep) await rm(dir, { recursive: true, force: true });

process.stdout.write(
  [
    `postern scan batch mode: ${MESSAGES} messages, ${Math.round(octets / MESSAGES)} octets on average (${os.availableParallelism()} CPUs)`,
    `  CLI batch rate (its own count, from the first message to the last): ${runs.map((r) => r.rate).join(', ')} messages/s; median ${cliRate}`,
    `  CLI whole run, start-up included: ${runs.map((r) => r.seconds.toFixed(2)).join(', ')} s; median ${Math.round(cliWhole)} messages/s`,
    `  in-process, one thread, warm: ${Math.round(MESSAGES / inProcessSeconds)} messages/s; latency p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`,
    `  memory: RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB, heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MB`,
    `  target ≥ ${TARGET} messages/s in batch mode: ${cliRate >= TARGET ? 'met' : 'MISSED'}`,
  ].join('\n') + '\n',
);
