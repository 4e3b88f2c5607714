// What `postern serve` says about the outbound queue, which nothing delivers yet: a message relayed
// for another domain is logged as waiting there (its one line, the same fields), and each start with
// jobs waiting warns once, with their number. An empty queue says nothing.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { outboundJob } from '../../src/store/outbound-job.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { addUser, configDir, spawnServer } from '../support/child-server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

/** The first log line `find` picks, once the server has written it (5 s at most). */
async function lineOf(output: () => string, find: (line: Line) => boolean): Promise<Line> {
  await waitFor(() => lines(output()).some(find), 5000);
  return lines(output()).find(find)!;
}

type Line = { level: number; msg: string; [field: string]: unknown };

function lines(output: string): Line[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line);
}

const WAITING = /messages? for other domains waits? in the outbound queue; outbound delivery is not implemented yet/;

test('serve: a relayed message is logged as waiting for delivery that does not exist yet; the next start warns', async (t) => {
  const d = configDir({ mynetworks: ['127.0.0.1/32'] });
  t.after(() => d.cleanup());
  await addUser(d.file, 'alice@example.com');
  await addUser(d.file, 'postmaster@example.com');
  const first = await spawnServer(d.file);
  t.after(() => first.stop('SIGKILL'));
  await new Promise((resolve) => setTimeout(resolve, 300)); // the start warnings follow the start line
  assert.doesNotMatch(first.output(), WAITING, 'an empty queue: no warning');
  const { client } = await SmtpClient.open(first.port);
  assert.equal((await client.command('EHLO client.example.com')).code, 250);
  assert.equal(codeOf(await client.command('MAIL FROM:<alice@example.com>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<someone@remote.example>')), '250 2.1.5');
  assert.equal(codeOf(await client.command('RCPT TO:<alice@example.com>')), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal(codeOf(await client.command('From: alice@example.com\r\nSubject: out\r\n\r\nhi\r\n.')), '250 2.0.0');
  await client.close();
  const logged = await lineOf(first.output, (l) => l.queued !== undefined);
  assert.equal(
    logged.msg,
    'message stored; the copy for other domains waits in the outbound queue: outbound delivery is not implemented yet, so nothing sends it (postern queue list)',
  );
  // The fields the line had.
  assert.deepEqual(logged.to, ['someone@remote.example', 'alice@example.com']);
  assert.equal(logged.from, 'alice@example.com');
  assert.equal(typeof logged.stored, 'number');
  assert.equal(typeof logged.queued, 'number');
  assert.equal(typeof logged.id, 'string');
  assert.equal(
    lines(first.output()).filter((l) => l.id === logged.id && l.level >= 30).length,
    1,
    'one line for the message, not one more',
  );
  assert.equal(await first.stop(), 0);

  // A second job, queued as `quarantine release --remote` would.
  const store = await openSqliteStore({ dataDir: path.join(d.root, 'data') });
  await store.enqueueJob(
    outboundJob({
      id: 'quarantine-1',
      mailFrom: '',
      recipients: ['x@remote.example'],
      content: Buffer.from('Subject: x\r\n\r\nx\r\n'),
      receivedAt: new Date(),
      body: '7BIT',
      smtputf8: false,
    }),
  );
  await store.close();
  const second = await spawnServer(d.file);
  t.after(() => second.stop('SIGKILL'));
  const warning = await lineOf(second.output, (l) => WAITING.test(l.msg));
  assert.equal(warning.level, 40, 'a warning');
  assert.equal(warning.queued, 2);
  assert.match(
    warning.msg,
    /^2 messages for other domains wait in the outbound queue; outbound delivery is not implemented yet, and nothing sends them or bounces them: see postern queue list/,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(lines(second.output()).filter((l) => WAITING.test(l.msg)).length, 1, 'said once');
  assert.equal(await second.stop(), 0);
});
