// SMTP smuggling (CVE-2023-51764 class): every fake end-of-data sequence from the shared conformance
// list, in both bareLineEndings modes, against the real server over TCP. One DATA is at most one message.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Driver } from '../support/session-driver.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

const FILE = new URL('../../../shared/conformance/smtp-smuggling/eod-sequences.yaml', import.meta.url);

interface Sequence {
  id: string;
  seq: string;
}

function loadSequences(): Sequence[] {
  if (!fs.existsSync(FILE)) {
    throw new Error(
      `the smuggling conformance file is missing: ${FILE.pathname} (it lives in /work/shared/conformance)`,
    );
  }
  const doc = parseYaml(fs.readFileSync(FILE, 'utf8')) as { sequences?: Sequence[] };
  const list = doc.sequences;
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${FILE.pathname}: no "sequences" list`);
  for (const s of list) {
    if (typeof s.id !== 'string' || typeof s.seq !== 'string')
      throw new Error(`${FILE.pathname}: bad entry ${JSON.stringify(s)}`);
  }
  return list;
}

let sequences: Sequence[] = [];
let loadError: Error | undefined;
try {
  sequences = loadSequences();
} catch (err) {
  loadError = err as Error;
}

test('the conformance file loads', () => {
  if (loadError) assert.fail(loadError.message);
});

const SMUGGLED =
  'MAIL FROM:<smuggled@example.net>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n' +
  'From: smuggled@example.net\r\nTo: bob@example.com\r\nSubject: smuggled\r\n\r\nsmuggled body';

function payload(s: Sequence): string {
  const first = `From: a@example.net\r\nTo: alice@example.com\r\nSubject: first ${s.id}\r\n\r\nfirst body`;
  return `${first}${s.seq}${SMUGGLED}\r\n.\r\nQUIT\r\n`;
}

/** Sequences with a bare CR or LF are refused in reject mode; the rest (NUL) are plain content. */
const hasBareLineEnding = (seq: string) => /\r(?!\n)|(?<!\r)\n/.test(seq);

const modes = ['reject', 'normalize'] as const;
const servers = new Map<string, TestServer>();
let passed = 0;

before(async () => {
  for (const mode of modes) servers.set(mode, await startTestServer({ smtp: { bareLineEndings: mode } }));
});
after(async () => {
  for (const server of servers.values()) await server.stop();
});

for (const mode of modes) {
  for (const s of sequences) {
    test(`${mode}: ${s.id} ${JSON.stringify(s.seq)}`, async (t) => {
      const server = servers.get(mode)!;
      const aliceBefore = (await server.inbox('alice@example.com')).length;
      const { client } = await SmtpClient.open(server.port);
      t.after(() => client.close());
      for (const [line, want] of [
        ['EHLO client.example.net', 250],
        ['MAIL FROM:<a@example.net>', 250],
        ['RCPT TO:<alice@example.com>', 250],
        ['DATA', 354],
      ] as const) {
        assert.equal((await client.command(line)).code, want, line);
      }
      client.send(payload(s));
      const codes = (await client.readUntilClosed()).map(codeOf);
      const refused = mode === 'reject' && hasBareLineEnding(s.seq);
      assert.deepEqual(codes, [refused ? '550 5.6.11' : '250 2.0.0', '221 2.0.0']);

      const alice = await server.inbox('alice@example.com');
      assert.deepEqual(await server.inbox('bob@example.com'), [], 'the smuggled message never reaches bob');
      assert.equal(alice.length - aliceBefore, refused ? 0 : 1, 'at most one message');
      if (!refused) {
        const stored = alice.at(-1)!.toString('latin1');
        assert.match(stored, new RegExp(`Subject: first ${s.id}`));
        assert.ok(stored.includes('MAIL FROM:<smuggled@example.net>'), 'the smuggled commands are content');
      }
      passed++;
    });
  }
}

test('sans-I/O: every sequence split at every byte gives the same single outcome', () => {
  for (const mode of modes) {
    for (const s of sequences) {
      const wire = `EHLO a.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n${payload(s)}`;
      const whole = new Driver({ bareLineEndings: mode });
      whole.send(wire);
      const split = new Driver({ bareLineEndings: mode });
      for (const byte of Buffer.from(wire, 'latin1')) split.send(Buffer.from([byte]));
      assert.deepEqual(split.codes, whole.codes, `${mode} ${s.id}`);
      assert.deepEqual(split.messages, whole.messages, `${mode} ${s.id}`);
      assert.ok(whole.messages.length <= 1, `${mode} ${s.id}: at most one message`);
      assert.equal(whole.codes.filter((c) => c === '354').length, 1, `${mode} ${s.id}: one DATA`);
    }
  }
});

test('pass count', (t) => {
  const total = sequences.length * modes.length;
  const line = `smtp-smuggling: ${passed}/${total} cases passed`;
  t.diagnostic(line);
  console.log(line);
  assert.ok(total > 0, 'no cases ran');
  assert.equal(passed, total);
});
