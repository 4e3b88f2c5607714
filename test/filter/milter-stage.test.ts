// One message through one configured milter (runMilter) against a scripted milter on loopback: what
// the stage makes of a replacement body, of verdicts the protocol does not allow at a step, and of
// the client's name. The SMTP path around it is test/server/content-filter.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMilter } from '../../src/filter/milter-stage.ts';
import { type Answer, fakeMilter } from '../support/fake-milter.ts';
import { CONTENT, ENVELOPE, milterConfig, PEER, SITE } from '../support/milter-stage.ts';

test('a replacement body up to smtp.maxMessageSize is used; a larger one makes the milter unavailable', async (t) => {
  let eom: Answer[] = [];
  const milter = await fakeMilter(0, (p) => (p.code === 'E' ? [...eom, ['c']] : ['c']));
  t.after(() => milter.close());
  const config = milterConfig(milter.spec);
  const site = { ...SITE, maxMessageSize: 200_000 };
  const request = { envelope: ENVELOPE, peer: PEER, content: CONTENT };
  const chunk = Buffer.from(`${'A'.repeat(98)}\r\n`.repeat(500)); // 50,000 octets in lines of 98 (RFC 5322 §2.1.1)
  eom = [
    ['b', chunk],
    ['b', chunk],
    ['b', Buffer.from('\r\n')],
  ];
  const taken = await runMilter(config, request, site);
  assert.equal(taken.kind, 'continue');
  assert.ok(
    taken.kind === 'continue' &&
      taken.content.equals(Buffer.concat([Buffer.from('Subject: x\r\n\r\n'), chunk, chunk, Buffer.from('\r\n')])),
  );
  eom = Array(5).fill(['b', chunk]); // 250,000 octets
  const over = await runMilter(config, request, site);
  assert.equal(over.kind, 'unavailable');
  assert.match(over.kind === 'unavailable' ? over.error.message : '', /replacement body over 200000 octets/);
});

test('the connect step names the client by its verified name when there is one, else by its address in brackets', async (t) => {
  const milter = await fakeMilter(0, () => ['c']);
  t.after(() => milter.close());
  const config = milterConfig(milter.spec);
  await runMilter(
    config,
    { envelope: ENVELOPE, peer: PEER, content: CONTENT, clientName: 'mail.client.example' },
    SITE,
  );
  await runMilter(config, { envelope: ENVELOPE, peer: PEER, content: CONTENT }, SITE);
  const hosts = milter.received
    .filter((p) => p.code === 'C')
    .map((p) => p.data.subarray(0, p.data.indexOf(0)).toString());
  assert.deepEqual(hosts, ['mail.client.example', '[192.0.2.7]']);
  const macros = milter.received.filter((p) => p.code === 'D' && p.data[0] === 0x43).map((p) => p.data.toString());
  assert.ok(macros[0]?.includes('\0_\0mail.client.example [192.0.2.7]\0'), macros[0]);
  assert.ok(macros[0]?.includes('\0{client_name}\0mail.client.example\0'), macros[0]);
  assert.ok(macros[1]?.includes('\0_\0unknown [192.0.2.7]\0'), macros[1]);
  assert.ok(macros[1]?.includes('\0{client_name}\0unknown\0'), macros[1]);
});

test('DISCARD at connect or HELO is passed over with a warning (Postfix milter8.c); at the message it discards', async (t) => {
  let discardAt = '';
  const milter = await fakeMilter(0, (p) => (p.code === discardAt ? ['d'] : ['c']));
  t.after(() => milter.close());
  const config = milterConfig(milter.spec);
  const request = { envelope: ENVELOPE, peer: PEER, content: CONTENT };
  for (const [at, step] of [
    ['C', 'connect'],
    ['H', 'helo'],
  ]) {
    discardAt = at as string;
    const outcome = await runMilter(config, request, SITE);
    assert.equal(outcome.kind, 'continue');
    assert.deepEqual(outcome.warnings, [`DISCARD action is not allowed for connect or helo: ignored at ${step}`]);
  }
  discardAt = 'E';
  const outcome = await runMilter(config, request, SITE);
  assert.equal(outcome.kind, 'discard');
  assert.equal(outcome.warnings, undefined);
});

test("protocol flags the milter asked for that we did not offer reach the outcome's warnings (and the log)", async (t) => {
  const milter = await fakeMilter(0x800 | 0x10000000, () => ['c']); // SMFIP_RCPT_REJ, SMFIP_MDS_256K
  t.after(() => milter.close());
  const outcome = await runMilter(
    milterConfig(milter.spec),
    { envelope: ENVELOPE, peer: PEER, content: CONTENT },
    SITE,
  );
  assert.equal(outcome.kind, 'continue');
  assert.deepEqual(outcome.warnings, ['milter asked for protocol flags 0x10000800 we did not offer: ignored']);
});
