// RFC 5321 §4.5.1: mail to postmaster at every domain we serve MUST be accepted. A domain without its
// own postmaster account or alias shares the host's (postmaster@ the host name, the first domain's),
// over a real socket: RCPT, delivery and VRFY; its own alias, once made, wins.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { postmasterFallback, withPostmasterFallback } from '../../src/policy/local-address.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

const NAMES = { hostname: 'mx.example.com', localDomains: new Set(['example.com', 'shop.example', 'news.example']) };

test('postmasterFallback: another local domain postmaster only', () => {
  assert.equal(postmasterFallback('postmaster@shop.example', NAMES), 'postmaster@example.com');
  assert.equal(postmasterFallback('postmaster@example.com', NAMES), undefined, 'the host postmaster itself');
  assert.equal(postmasterFallback('postmaster@elsewhere.test', NAMES), undefined, 'not ours');
  assert.equal(postmasterFallback('postmaster@sub.shop.example', NAMES), undefined, 'below ours is not ours');
  assert.equal(postmasterFallback('abuse@shop.example', NAMES), undefined);
});

test('withPostmasterFallback: its own account first, sync and async look-ups alike', async () => {
  const table = new Map([
    ['postmaster@example.com', { id: 1 }],
    ['postmaster@news.example', { id: 3 }],
  ]);
  const sync = withPostmasterFallback({ findAccount: (a: string) => table.get(a) }, NAMES);
  assert.deepEqual(sync.findAccount('postmaster@shop.example'), { id: 1 });
  assert.deepEqual(sync.findAccount('postmaster@news.example'), { id: 3 });
  assert.equal(sync.findAccount('other@shop.example'), undefined);
  const async = withPostmasterFallback({ findAccount: async (a: string) => table.get(a) }, NAMES);
  assert.deepEqual(await async.findAccount('postmaster@shop.example'), { id: 1 });
  assert.equal(await async.findAccount('postmaster@elsewhere.test'), undefined);
});

let server: TestServer;
before(async () => {
  server = await startTestServer({ domains: ['example.com', 'shop.example', 'news.example'], smtp: { vrfy: 'on' } });
  await server.store.addAlias('postmaster@example.com', 'alice@example.com');
  await server.store.addAlias('postmaster@news.example', 'bob@example.com');
});
after(() => server.stop());

test('postmaster@ a served domain without its own goes to the host postmaster; one with its own keeps it', async () => {
  const { client } = await SmtpClient.open(server.port);
  assert.equal((await client.command('EHLO client.example.net')).code, 250);
  assert.match((await client.command('VRFY postmaster@shop.example')).text, /postmaster@shop\.example/);
  assert.equal(codeOf(await client.command('MAIL FROM:<someone@example.net>')), '250 2.1.0');
  assert.equal(codeOf(await client.command('RCPT TO:<PostMaster@Shop.EXAMPLE>')), '250 2.1.5');
  assert.equal(codeOf(await client.command('RCPT TO:<postmaster@news.example>')), '250 2.1.5');
  // Not one of our domains: still no relay for a stranger.
  assert.equal(codeOf(await client.command('RCPT TO:<postmaster@sub.shop.example>')), '554 5.7.1');
  assert.equal(codeOf(await client.command('RCPT TO:<nobody@shop.example>')), '550 5.1.1');
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal(codeOf(await client.command('From: someone@example.net\r\nSubject: abuse\r\n\r\nhi\r\n.')), '250 2.0.0');
  await client.close();
  assert.match((await server.inbox('alice@example.com')).at(-1)?.toString() ?? '', /Subject: abuse/);
  assert.match((await server.inbox('bob@example.com')).at(-1)?.toString() ?? '', /Subject: abuse/);
});
