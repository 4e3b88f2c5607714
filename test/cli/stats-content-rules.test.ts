// `postern stats` counts what the header and body rules did, per table, rule (file:line) and action:
// real rule files run on real messages by the filter stage, counted into the real store, then read
// by bin/postern as an admin runs it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseContentRuleCounters } from '../../src/cli/commands/stats.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ContentFilter } from '../../src/filter/content-filter.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { Envelope, Peer } from '../../src/smtp/envelope.ts';
import { openStore } from '../../src/store/open.ts';
import { addUser, configDir, postern, spawnServer } from '../support/child-server.ts';
import { testPeer } from '../support/peer.ts';
import { SmtpClient } from '../support/smtp-client.ts';

const PEER: Peer = testPeer();

function envelope(id: string): Envelope {
  return {
    id,
    greeting: 'EHLO',
    helo: 'client.example',
    mailFrom: { address: 'sender@example.net', localPart: 'sender', domain: 'example.net' },
    declaredSize: undefined,
    body: '7BIT',
    smtputf8: false,
    recipients: [],
  } as unknown as Envelope;
}

const message = (subject: string, body: string) =>
  Buffer.from(`From: <sender@example.net>\r\nTo: <alice@example.com>\r\nSubject: ${subject}\r\n\r\n${body}\r\n`);

interface Row {
  check: string;
  rule: string;
  action: string;
  count: number;
}

test('postern stats: content rule actions counted per table, rule and action, the unlogged ones too', async (t) => {
  const d = configDir();
  t.after(() => d.cleanup());
  // A path with a colon: the rule's name is file:line, and the counter's name must still split.
  const headerFile = path.join(d.root, 'header:checks');
  const bodyFile = path.join(d.root, 'body_checks');
  fs.writeFileSync(
    headerFile,
    [
      '# line 1 is a comment',
      '/^Subject: .*casino/ REJECT no gambling',
      '/^Subject: .*invoice/ HOLD',
      '/^Subject: .*newsletter/ WARN bulk',
      '/^Subject: .*report/ PREPEND X-Report: yes',
      '/^Subject: .*forward (.*)/ REDIRECT $1',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(bodyFile, '/^unsubscribe/ WARN bulk body\n/^drop me/ DISCARD\n');
  const config = parse(fs.readFileSync(d.file, 'utf8'));
  config.filter = { ...config.filter, headerChecks: headerFile, bodyChecks: bodyFile };
  fs.writeFileSync(d.file, stringify(config));

  const before = await postern(['stats', '--config', d.file]);
  assert.equal(before.code, 0, before.stderr);
  assert.match(before.stdout, /^no content rule has acted yet$/m);

  const { config: loaded } = loadConfig(d.file);
  const store = await openStore(loaded);
  let closed = false;
  t.after(() => (closed ? undefined : store.close()));
  const filter = await ContentFilter.create({
    config: loaded.filter,
    localDomains: loaded.domains,
    hostname: loaded.hostname,
    logger: createLogger('silent'),
    counters: store,
  });
  const outcomes: string[] = [];
  const send = async (id: string, subject: string, body: string) => {
    const outcome = await filter.filter({
      envelope: envelope(id),
      peer: PEER,
      content: message(subject, body),
      external: true,
    });
    outcomes.push(outcome.action);
  };
  await send('M1', 'casino night', 'hello');
  await send('M2', 'Casino bonus', 'hello'); // case-insensitive by default (regexp_table(5) "i")
  await send('M3', 'your invoice', 'hello');
  // 30 body lines, past the log's 10 per table and message: each one is counted all the same.
  await send('M4', 'weekly newsletter', Array.from({ length: 30 }, () => 'unsubscribe here').join('\r\n'));
  await send('M5', 'monthly report', 'drop me');
  await send('M6', 'please forward not an address', 'hello'); // $1 is no mailbox: "redirect ignored"
  await send('M7', 'nothing to see', 'hello');
  assert.deepEqual(outcomes, ['reply', 'reply', 'quarantine', 'deliver', 'discard', 'deliver', 'deliver']);
  await filter.stop(); // the counts are stored on the way out
  await store.close();
  closed = true;

  const json = await postern(['stats', '--json', '--config', d.file]);
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout) as { restrictions: unknown[]; contentRules: Row[] };
  assert.deepEqual(out.restrictions, []);
  const rule = (file: string, line: number) => `${file}:${line}`;
  assert.deepEqual(out.contentRules, [
    { check: 'header_checks', rule: rule(headerFile, 2), action: 'reject', count: 2 },
    { check: 'header_checks', rule: rule(headerFile, 3), action: 'hold', count: 1 },
    { check: 'header_checks', rule: rule(headerFile, 4), action: 'warn', count: 1 },
    { check: 'header_checks', rule: rule(headerFile, 5), action: 'prepend', count: 1 },
    { check: 'header_checks', rule: rule(headerFile, 6), action: 'redirect ignored', count: 1 },
    { check: 'body_checks', rule: rule(bodyFile, 1), action: 'warn', count: 30 },
    { check: 'body_checks', rule: rule(bodyFile, 2), action: 'discard', count: 1 },
  ]);

  const text = await postern(['stats', '--config', d.file]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^no restriction has rejected, deferred, warned or been skipped yet\n\ncheck /);
  const escaped = headerFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(text.stdout, new RegExp(`^header_checks +${escaped}:2 +reject +2$`, 'm'));
  assert.match(text.stdout, /^body_checks +\S+body_checks:1 +warn +30$/m);
});

test('a content counter name splits at its first and last colon: the file may hold colons', () => {
  assert.deepEqual(
    parseContentRuleCounters({
      'content-rule:body_checks:/etc/postern/body:2:discard': 1,
      'content-rule:header_checks:C:\\rules\\header:7:redirect ignored': 4,
      'content-rule:header_checks:/etc/postern/header:3:warn': 9,
      'content-rule:broken': 5,
    }),
    [
      { check: 'header_checks', rule: '/etc/postern/header:3', action: 'warn', count: 9 },
      { check: 'header_checks', rule: 'C:\\rules\\header:7', action: 'redirect ignored', count: 4 },
      { check: 'body_checks', rule: '/etc/postern/body:2', action: 'discard', count: 1 },
    ],
  );
});

test('served: the actions of header_checks on mail over SMTP reach postern stats', async (t) => {
  const d = configDir();
  t.after(() => d.cleanup());
  const headerFile = path.join(d.root, 'header_checks');
  fs.writeFileSync(headerFile, '/^Subject: .*casino/ REJECT no gambling\n/^Subject: .*newsletter/ WARN bulk\n');
  const config = parse(fs.readFileSync(d.file, 'utf8'));
  config.filter = { ...config.filter, headerChecks: headerFile };
  fs.writeFileSync(d.file, stringify(config));
  await addUser(d.file, 'alice@example.com');
  const server = await spawnServer(d.file);
  t.after(() => server.stop('SIGKILL'));
  const { client } = await SmtpClient.open(server.port);
  assert.equal((await client.command('EHLO c.example.net')).code, 250);
  const mail = [
    ['casino', 550],
    ['casino again', 550],
    ['newsletter', 250],
  ] as const;
  for (const [subject, code] of mail) {
    assert.equal((await client.command('MAIL FROM:<sender@example.net>')).code, 250);
    assert.equal((await client.command('RCPT TO:<alice@example.com>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    const reply = await client.command(`From: <sender@example.net>\r\nSubject: ${subject}\r\n\r\nhi\r\n.`);
    assert.equal(reply.code, code, subject);
  }
  await client.close();
  assert.equal(await server.stop('SIGTERM'), 0); // the counts are stored on the way out
  const stats = await postern(['stats', '--json', '--config', d.file]);
  assert.equal(stats.code, 0, stats.stderr);
  assert.deepEqual((JSON.parse(stats.stdout) as { contentRules: Row[] }).contentRules, [
    { check: 'header_checks', rule: `${headerFile}:1`, action: 'reject', count: 2 },
    { check: 'header_checks', rule: `${headerFile}:2`, action: 'warn', count: 1 },
  ]);
});
