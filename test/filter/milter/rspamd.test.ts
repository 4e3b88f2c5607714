/**
 * MilterClient against a real milter: Debian's rspamd, its proxy worker in milter mode (self_scan) on a
 * loopback port, started once for the file by test/support/rspamd.ts (a cold start builds Hyperscan
 * databases for ~20 s). rspamd asks for no reply before eom (SMFIP_NR_* for every step), so each verdict
 * and change below comes at eom. Two force_actions rules, keyed on a test header, give soft reject and
 * add header without depending on scores; GTUBE gives reject.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  applyModifications,
  filterMessage,
  MilterClient,
  MilterUnavailableError,
  type MilterVerdict,
  type Modification,
  sessionMacros,
} from '../../../src/filter/milter/index.ts';
import { acquireTestDns } from '../../support/dns.ts';
import { type RunningRspamd, startRspamd } from '../../support/rspamd.ts';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

const RULES = {
  // Headers rspamd adds or replaces (rspamd.com/doc/modules/milter_headers.html).
  'local.d/milter_headers.conf':
    'use = ["x-spamd-result", "x-rspamd-queue-id", "authentication-results", "x-spam-status", "remove-spam-flag"];\n',
  // Header regexps (rspamd.com/doc/modules/regexp.html), read by the force_actions rules.
  'local.d/regexp.conf': [
    `POSTERN_TEST_SOFT { re = 'X-Postern-Test=/^soft-reject$/H'; score = 0.0; description = "Postern test"; }`,
    `POSTERN_TEST_ADD { re = 'X-Postern-Test=/^add-header$/H'; score = 0.0; description = "Postern test"; }`,
    '',
  ].join('\n'),
  'local.d/force_actions.conf': [
    'rules {',
    '  POSTERN_SOFT { action = "soft reject"; expression = "POSTERN_TEST_SOFT"; message = "Try again later (Postern test)"; }',
    '  POSTERN_ADD { action = "add header"; expression = "POSTERN_TEST_ADD"; }',
    '}',
    '',
  ].join('\n'),
};

/** A message from a sender whose domain the test DNS knows, with a forged X-Spamd-Result and X-Spam to replace. */
function message(extra: string[], body: string): Buffer {
  return Buffer.from(
    [
      'From: Joe <joe@example.net>',
      'To: alice@example.com',
      'Subject: Through rspamd',
      // Now: a fixed date turns old with the calendar, and rspamd's DATE_IN_PAST then changes its reply.
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      'Message-ID: <rspamd-milter-test@example.net>',
      'X-Spamd-Result: forged',
      'X-Spam: Yes',
      ...extra,
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

let dns: Awaited<ReturnType<typeof acquireTestDns>> | undefined;
let rspamd: RunningRspamd;

before(async () => {
  dns = await acquireTestDns();
  rspamd = await startRspamd({ dns: dns.server, files: RULES });
});

after(async () => {
  await rspamd?.stop();
  await dns?.release();
});

const macros = sessionMacros({
  hostname: 'mx.example.com',
  clientAddress: '192.0.2.30',
  clientName: 'client.example',
  queueId: 'POSTERN1',
});

/** Connect and helo from client.example [192.0.2.30], as the SMTP session will. */
async function open(spec = rspamd.spec): Promise<MilterClient> {
  const client = await MilterClient.open({ socket: spec, timeouts: { replyMs: 10_000 } });
  assert.deepEqual(
    await client.connect({ hostname: 'client.example', address: '192.0.2.30', port: 40000 }, macros.connect),
    { action: 'continue' },
  );
  assert.deepEqual(await client.helo('client.example', macros.helo), { action: 'continue' });
  return client;
}

function send(client: MilterClient, content: Buffer) {
  return filterMessage(client, {
    from: 'joe@example.net',
    recipients: ['alice@example.com'],
    content,
    macros: { mail: macros.mail, eom: macros.eom },
  });
}

async function run(content: Buffer) {
  const client = await open();
  try {
    const outcome = await send(client, content);
    await client.quit();
    return outcome;
  } finally {
    client.destroy();
  }
}

/** rspamd sends its changes in Lua table order, which varies: compare them as a sorted set. */
function kinds(mods: Modification[]): string[] {
  return mods.map((m) => `${m.type} ${'name' in m ? m.name : ''} ${'index' in m ? m.index : ''}`.trim()).sort();
}

function find(mods: Modification[], type: Modification['type'], name: string) {
  const m = mods.find((x) => x.type === type && 'name' in x && x.name === name);
  assert.ok(m && 'value' in m, `${type} ${name} in ${JSON.stringify(mods)}`);
  return m;
}

test('an ordinary message: accept, forged rspamd headers removed, its own added, Authentication-Results inserted', async (t) => {
  t.diagnostic(`rspamd started in ${rspamd.startMs} ms`);
  const content = message([], 'Hello Alice.');
  const outcome = await run(content);
  const { modifications: mods } = outcome;
  assert.deepEqual(outcome.verdict, { action: 'accept' }, rspamd.output());
  assert.deepEqual(kinds(mods), [
    'addheader X-Rspamd-Queue-Id',
    'addheader X-Spam-Status',
    'addheader X-Spamd-Result',
    'chgheader X-Spam 1',
    'chgheader X-Spamd-Result 1',
    'insheader Authentication-Results 1',
  ]);
  // The forged ones go: chgheader with an empty value deletes (smfi_chgheader).
  assert.equal(find(mods, 'chgheader', 'X-Spamd-Result').value, '');
  assert.equal(find(mods, 'chgheader', 'X-Spam').value, '');
  // The `i` macro at mail and eom, `j` as the authserv-id; SPF and DMARC asked the loopback test DNS.
  assert.equal(find(mods, 'addheader', 'X-Rspamd-Queue-Id').value, ' POSTERN1');
  // RFC 8601 §2.2: authserv-id, then the results, whose order rspamd does not keep.
  const [authserv, ...results] = find(mods, 'insheader', 'Authentication-Results').value.split(';\r\n\t');
  assert.equal(authserv, ' mx.example.com');
  assert.deepEqual(results.sort(), [
    'dkim=none',
    'dmarc=none',
    'spf=none (mx.example.com: domain of joe@example.net has no SPF policy when checking 192.0.2.30)' +
      ' smtp.mailfrom=joe@example.net',
  ]);
  const result = find(mods, 'addheader', 'X-Spamd-Result').value;
  assert.match(result, /^ default: False \[-?\d+\.\d\d \/ 15\.00\];\r\n\t/);
  assert.match(result, /\tR_SPF_NA\(0\.00\)\[no SPF record\]/);
  assert.match(find(mods, 'addheader', 'X-Spam-Status').value, /^ No, score=-?\d+\.\d\d$/);

  const applied = applyModifications(content, mods).toString();
  const names = applied
    .split('\r\n\r\n')[0]
    ?.split('\r\n')
    .filter((l) => /^\S/.test(l))
    .map((l) => l.slice(0, l.indexOf(':')));
  // Index 1 counts the MTA's own Received: field, which milters are not shown (Postfix milter8.c,
  // milter8_header); `content` has none, so the field lands after From.
  assert.deepEqual(names, [
    'From',
    'Authentication-Results',
    'To',
    'Subject',
    'Date',
    'Message-ID',
    ...mods.flatMap((m) => (m.type === 'addheader' ? [m.name] : [])),
  ]);
  assert.ok(!applied.includes('forged'));
  assert.doesNotMatch(applied, /^X-Spam:/m);
  assert.ok(applied.endsWith('\r\n\r\nHello Alice.\r\n'));
});

test('GTUBE: reject with 554 5.7.1 and the reason; the connection then takes the next message', async () => {
  const client = await open();
  try {
    const rejected = await send(client, message([], GTUBE));
    const verdict: MilterVerdict = {
      action: 'reject',
      reply: { code: 554, enhanced: '5.7.1', lines: ['Gtube pattern'] },
    };
    assert.deepEqual(rejected, { verdict, modifications: [] }, rspamd.output());
    // No stray packet after SMFIR_REPLYCODE: the next message on the same connection gets its own verdict.
    const next = await send(client, message([], 'Hello again.'));
    assert.deepEqual(next.verdict, { action: 'accept' });
    assert.equal(find(next.modifications, 'addheader', 'X-Rspamd-Queue-Id').value, ' POSTERN1');
    await client.quit();
  } finally {
    client.destroy();
  }
});

test('soft reject (force_actions): tempfail with 451 4.7.1 and the rule message, after header changes', async () => {
  const outcome = await run(message(['X-Postern-Test: soft-reject'], 'Hello.'));
  assert.deepEqual(
    outcome.verdict,
    { action: 'tempfail', reply: { code: 451, enhanced: '4.7.1', lines: ['Try again later (Postern test)'] } },
    rspamd.output(),
  );
  // rspamd sends its milter_headers changes before SMFIR_REPLYCODE; they are moot once the message is refused.
  assert.equal(
    find(outcome.modifications, 'addheader', 'X-Rspamd-Pre-Result').value,
    ' action=soft reject;\r\n\tmodule=force_actions;\r\n\tTry again later (Postern test)',
  );
});

test('add header (force_actions): accept, with X-Spam: Yes set through chgheader', async () => {
  const content = message(['X-Postern-Test: add-header'], 'Hello.');
  const outcome = await run(content);
  assert.deepEqual(outcome.verdict, { action: 'accept' }, rspamd.output());
  const spam = outcome.modifications.filter((m) => 'name' in m && m.name === 'X-Spam');
  // milter_headers' remove-spam-flag deletes the forged X-Spam; then the proxy deletes each X-Spam it saw
  // (last first) and sets its spam_header with chgheader at index 1, which adds the field when none is
  // left (smfi_chgheader; rspamd src/libserver/milter.c, METRIC_ACTION_ADD_HEADER).
  assert.deepEqual(spam, [
    { type: 'chgheader', index: 1, name: 'X-Spam', value: '' },
    { type: 'chgheader', index: 1, name: 'X-Spam', value: '' },
    { type: 'chgheader', index: 1, name: 'X-Spam', value: ' Yes' },
  ]);
  assert.equal(find(outcome.modifications, 'addheader', 'X-Spam-Status').value, ' Yes, score=0.00');
  const applied = applyModifications(content, outcome.modifications).toString();
  assert.equal(applied.match(/^X-Spam:.*$/gm)?.join('|'), 'X-Spam: Yes');
  assert.match(applied, /^X-Spam-Status: Yes, score=0\.00\r$/m);
  assert.match(applied, /\r\nX-Spam: Yes\r\n\r\nHello\.\r\n$/);
});

test('rspamd stopped: MilterUnavailableError mid-conversation and on the next open', async () => {
  const own = await startRspamd({ dns: (dns as { server: string }).server });
  let client: MilterClient | undefined;
  try {
    client = await open(own.spec);
    await own.stop();
    await assert.rejects(send(client, message([], 'Hello.')), MilterUnavailableError);
    await assert.rejects(MilterClient.open({ socket: own.spec }), (err) => {
      assert.ok(err instanceof MilterUnavailableError);
      assert.equal(err.stage, 'open');
      assert.equal(err.code, 'MILTER_UNAVAILABLE');
      return true;
    });
  } finally {
    client?.destroy();
    await own.stop();
  }
});
