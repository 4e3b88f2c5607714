/**
 * A message whose content rules cost seconds of matching does not hold up the other sessions: the
 * matching yields to the event loop every MATCH_SLICE of work (src/filter/content-rules/inspect.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_TEST_ZONE } from '../support/dns.ts';
import { filteringServer, sendingDomain } from '../support/filtering-server.ts';
import { tempDir } from '../support/server.ts';
import { codeOf } from '../support/smtp-client.ts';
import { sendToAlice } from '../support/transaction.ts';

/**
 * Another process that opens a connection every 10 ms and times its greeting, until its stdin ends;
 * then it prints the delays (ms), one a line. In this process it could not see a blocked event loop:
 * its connections would wait for the same loop as the server.
 */
function greetingProbe(port: number): { stop(): Promise<number[]> } {
  const script = `
        const delays = [];
    let running = true;
    process.stdin.on('end', () => { running = false; }).resume();
    while (running) {
      delays.push(await new Promise((resolve, reject) => {
        const start = performance.now();
        const socket = net.connect(${port}, '127.0.0.1');
        socket.once('data', () => { resolve(performance.now() - start); socket.end('QUIT\\r\\n'); });
        socket.on('error', reject);
      }));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(delays.join('\\n'));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    async stop() {
      child.stdin.end();
      await exited;
      return out.trim().split('\n').map(Number);
    },
  };
}

test("another session's greeting is served promptly while a worst-case message is matched", async (t) => {
  const dir = tempDir();
  const bodyChecks = path.join(dir, 'body_checks');
  // 8 rules without literal text, slow ones (RE2 ~130 ms per million characters here), over all the
  // body body_checks reads: about 8 million characters, a second or more of matching; the last rule
  // matches the last line read, so the whole budget's worth runs.
  const slow = Array.from({ length: 8 }, (_, i) => `/[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{${i + 4}}/ WARN card ${i}`);
  fs.writeFileSync(bodyChecks, `${slow.join('\n')}\n/^the end [0-9]+$/ REJECT matched to the end\n`);
  const server = await filteringServer(
    t,
    { records: { ...DEFAULT_TEST_ZONE.records, ...sendingDomain('partner.example') } },
    { filter: { bodyChecks, phishing: { enabled: false } } },
  );
  const line = 'a'.repeat(996);
  let message =
    'From: <bob@partner.example>\r\nTo: <alice@example.com>\r\nSubject: x\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: multipart/mixed; boundary=XX\r\n\r\n';
  for (let p = 0; p < 19; p++) {
    const last = p === 18 ? 'the end 1' : line; // within the part's 51,200 octets, and the message's
    message += `--XX\r\nContent-Type: text/plain\r\n\r\n${`${line}\r\n`.repeat(51)}${last}\r\n`;
  }
  message += '--XX--\r\n';

  const probe = greetingProbe(server.port);
  await new Promise((resolve) => setTimeout(resolve, 200)); // the probe's node has started
  const started = performance.now();
  const reply = await sendToAlice(server, 'bob@partner.example', message);
  const delays = await probe.stop();
  const took = performance.now() - started;
  assert.equal(codeOf(reply), '550 5.7.1', reply.text);
  assert.match(reply.text, /matched to the end/);
  const worst = Math.max(...delays);
  assert.ok(delays.length >= 5, `${delays.length} greetings in ${took.toFixed(0)} ms`);
  // Without the yields a greeting waited for all the matching, half a second or more here, nearly all the
  // message's time; with them a few slices. Relative to the message's time, so that a loaded machine,
  // slower at both, does not fail it.
  const bound = Math.max(250, took / 3);
  assert.ok(worst < bound, `a greeting waited ${worst.toFixed(0)} ms while the message took ${took.toFixed(0)} ms`);
});
