// A store that fails at the end of data answers the session itself (451, or 452 on a full disk) rather
// than throwing to the listener: the outage is still said once (docs/deployment.md), and its end when a
// message is stored again. A full store at RCPT (greylisting's write) is 452 4.3.1 as at the end of data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreFullError, StoreUnavailableError } from '../../src/store/store.ts';
import { startTestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

async function send(port: number, n: number): Promise<string> {
  const { client } = await SmtpClient.open(port);
  try {
    await client.command('EHLO client.example');
    assert.equal((await client.command('MAIL FROM:<sender@example.net>')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.com>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    return codeOf(await client.command(`From: <sender@example.net>\r\nSubject: m${n}\r\n\r\nhi\r\n.`));
  } finally {
    await client.close();
  }
}

test('a store failing at the end of data is an outage said once, then its end when a message is stored again', async (t) => {
  const server = await startTestServer({ log: { level: 'info' } });
  t.after(() => server.stop());
  const { store } = server;
  const deliver = store.deliver.bind(store);
  let failure: Error | undefined = new StoreUnavailableError('PostgreSQL: connection refused');
  store.deliver = (request) => (failure ? Promise.reject(failure) : deliver(request));

  assert.equal(await send(server.port, 1), '451 4.3.0');
  assert.equal(await send(server.port, 2), '451 4.3.0');
  failure = new StoreFullError('the file system of /srv/mail is full (12.0 KB free): free space there');
  assert.equal(await send(server.port, 3), '452 4.3.1');
  failure = undefined;
  assert.equal(await send(server.port, 4), '250 2.0.0');

  const logs = server.logs();
  const outage = logs.filter((l) => /^store (unavailable|still|answers)/.test(String(l.msg)));
  assert.deepEqual(
    outage.map((l) => [l.level, l.msg]),
    [
      [50, 'store unavailable: PostgreSQL: connection refused'],
      [30, 'store answers again after 0 s and 3 failures'],
    ],
    'said when it starts and when it ends, once each, for three failures',
  );
  assert.equal(outage[0]?.reason, 'PostgreSQL: connection refused');
  assert.equal(typeof outage[0]?.session, 'string', 'the first failure names its session');
  assert.deepEqual(
    logs.filter((l) => /^store failed/.test(String(l.msg))).map((l) => l.code),
    [451, 451, 452],
    "each session's own line stays",
  );
});

test('a full store at RCPT (greylisting) is 452 4.3.1, as at the end of data, and an outage', async (t) => {
  const server = await startTestServer({ log: { level: 'info' }, greylisting: { enabled: true, delaySeconds: 1 } });
  t.after(() => server.stop());
  const { store } = server;
  store.greylist = () => Promise.reject(new StoreFullError('the file system of /srv/mail is full: free space there'));
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  await client.command('EHLO client.example');
  assert.equal((await client.command('MAIL FROM:<sender@example.net>')).code, 250);
  const refused = await client.command('RCPT TO:<alice@example.com>');
  assert.equal(codeOf(refused), '452 4.3.1');
  assert.match(refused.text, /Insufficient system storage/);
  assert.equal(codeOf(await client.command('RCPT TO:<bob@example.com>')), '452 4.3.1');
  const outage = server.logs().filter((l) => /^store (unavailable|still|answers)/.test(String(l.msg)));
  assert.deepEqual(
    outage.map((l) => l.msg),
    ['store unavailable: the file system of /srv/mail is full: free space there'],
  );
});
