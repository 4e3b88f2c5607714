/**
 * A data directory whose file system fills up, on a real tmpfs of 1 MiB (test/support/small-file-system.ts):
 * SMTP says "mail system full" (452 4.3.1) rather than a generic store failure, keeps every message it
 * acknowledged, and takes mail again once space is freed; the CLI says the file system is full rather
 * than "disk I/O error", and serve names the PID file it could not write.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { configDir, MAIN, spawnServer } from '../support/child-server.ts';
import { SmallFileSystem } from '../support/small-file-system.ts';
import { SmtpClient } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

const ADDRESS = 'alice@example.com';

/** A 40 KB message body in lines of 76 octets, different each time (no compression makes it smaller). */
function message(n: number): string {
  const line = `${String(n).padStart(4, '0')}${'x'.repeat(70)}\r\n`;
  return `From: <bob@example.org>\r\nTo: <${ADDRESS}>\r\nSubject: m${n}\r\n\r\n${line.repeat(540)}`;
}

async function start(t: test.TestContext) {
  const config = configDir({ smtp: { maxMessageSize: 65536 } });
  t.after(() => config.cleanup());
  const small = await SmallFileSystem.open(t, path.join(config.root, 'small'), 1024);
  if (!small) return undefined;
  const dataDir = path.join(small.dir, 'data');
  const postern = (args: string[], stdin?: string) =>
    small.run(process.execPath, [MAIN, ...args, '--config', config.file], stdin);
  // configDir's dataDir is ./data beside the config: moved onto the small file system.
  writeFileSync(config.file, readFileSync(config.file, 'utf8').replace('dataDir: ./data', `dataDir: ${dataDir}`));
  const added = await postern(['user', 'add', ADDRESS, '--password-stdin'], 'correct horse battery\n');
  assert.equal(added.code, 0, added.stderr);
  return { small, dataDir, file: config.file, postern };
}

async function listed(postern: (args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>) {
  const result = await postern(['mail', 'list', ADDRESS, '--json']);
  assert.equal(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { subject: string }[]).map((m) => m.subject);
}

test('a full file system: 452 4.3.1 at the end of data and at the next MAIL FROM, nothing acknowledged lost, mail again once space is freed', async (t) => {
  const setup = await start(t);
  if (!setup) return;
  const { small, file, postern } = setup;
  const server = await spawnServer(file, { prefix: small.enter });
  t.after(() => server.stop('SIGKILL'));
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  assert.equal((await client.command('EHLO client.example.net')).code, 250);

  const send = async (n: number, beforeEnd?: () => Promise<void>) => {
    const mail = await client.command('MAIL FROM:<bob@example.org>');
    if (mail.code !== 250) return mail;
    assert.equal((await client.command(`RCPT TO:<${ADDRESS}>`)).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    client.send(message(n));
    await beforeEnd?.();
    return client.command('.', 15_000);
  };

  assert.equal((await send(1)).code, 250);
  // The file system fills while the message is on its way: MAIL FROM's free-space check had passed.
  const full = await send(2, () => small.fill());
  assert.equal(`${full.code} ${full.enhanced}`, '452 4.3.1', full.text);
  assert.match(full.text, /Insufficient system storage/);
  // Asked again at once, not a second later: the failed write told the free-space check.
  const next = await client.command('MAIL FROM:<bob@example.org>');
  assert.equal(`${next.code} ${next.enhanced}`, '452 4.3.1', next.text);
  assert.equal((await client.command('RSET')).code, 250);

  const log = server.output();
  assert.match(
    log,
    /"reason":"write transaction failed: database or disk is full: the file system of [^"]+\/data is full \((?:\d+ bytes|\d+\.\d KB) free\): free space there","code":452,"enhanced":"4\.3\.1","msg":"store failed; answered 452"/,
  );

  await small.remove();
  // Within the free-space check's second, MAIL FROM is accepted again and the message stored.
  let again = await send(3);
  for (let tries = 0; again.code === 452 && tries < 30; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    again = await send(3);
  }
  assert.equal(again.code, 250, again.text);
  // A tmpfs of 1 MiB never has a megabyte free: under one the amount is in KB, not "0.0 MB".
  assert.match(server.output(), /has [\d.]+ KB free again: MAIL FROM is accepted/);
  // The full disk at the end of data is an outage, said once, and over with the next message stored.
  assert.match(server.output(), /"msg":"store unavailable: write transaction failed: database or disk is full/);
  // Written as the 250 goes out: it may reach the pipe from the child a moment after the reply.
  await waitFor(() => /"msg":"store answers again after \d+ s and 1 failures"/.test(server.output()));
  assert.deepEqual(await listed(postern), ['m1', 'm3'], 'what got 250 is there, what got 452 is not');
});

test('on a full file system the CLI says so, not "disk I/O error", and serve names the PID file it cannot write', async (t) => {
  const setup = await start(t);
  if (!setup) return;
  const { small, dataDir, postern } = setup;
  // Closed cleanly: no -shm file is left, which any reader of a WAL database must make first.
  await small.fill();

  for (const args of [
    ['mail', 'list', ADDRESS],
    ['user', 'list'],
  ]) {
    const result = await postern(args);
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}`);
    // Under a megabyte free in KB or bytes: it said "0.0 MB free".
    assert.match(
      result.stderr,
      new RegExp(
        `^postern: cannot read the SQLite store ${dataDir}/postern\\.sqlite: disk I/O error: ` +
          `the file system of ${dataDir} is full \\((\\d+ bytes|\\d+\\.\\d KB) free\\): free space there\\n$`,
      ),
      args.join(' '),
    );
  }
  const serve = await postern(['serve']);
  assert.equal(serve.code, 1, serve.stdout);
  // Node's own text was "ENOSPC: no space left on device, write", naming no file.
  assert.equal(
    serve.stderr,
    `postern: cannot write the PID file ${dataDir}/postern.pid: the file system is full (ENOSPC): free space there\n`,
  );

  await small.remove();
  assert.deepEqual(await listed(postern), [], 'the store reads again once space is freed');
});
