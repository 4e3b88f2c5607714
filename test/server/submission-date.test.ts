// The Date field submission adds (RFC 6409 §8.2) in the server's local time with its offset, as RFC
// 5322 §3.3 asks ("SHOULD express local time") and Postfix writes it; not always +0000.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readMessage } from '../../src/authentication/dkim/message.ts';
import { dateTime, withSubmissionFields } from '../../src/server/submission-fields.ts';

const INSTANT = new Date('2026-11-30T00:02:03Z');

test('date-time: the wall clock at the given offset, with that offset', () => {
  assert.equal(dateTime(INSTANT, 60), 'Mon, 30 Nov 2026 01:02:03 +0100');
  assert.equal(dateTime(INSTANT, 0), 'Mon, 30 Nov 2026 00:02:03 +0000');
  // West of UTC the day before; a half-hour zone keeps its minutes.
  assert.equal(dateTime(INSTANT, -(3 * 60 + 30)), 'Sun, 29 Nov 2026 20:32:03 -0330');
  assert.equal(dateTime(INSTANT, 5 * 60 + 45), 'Mon, 30 Nov 2026 05:47:03 +0545');
  assert.equal(dateTime(new Date('2027-01-01T03:04:05Z'), 0), 'Fri, 01 Jan 2027 03:04:05 +0000');
});

test('a submitted message without Date gets one in the server time zone (TZ), not +0000', () => {
  const module = fileURLToPath(new URL('../../src/server/submission-fields.ts', import.meta.url));
  const dkim = fileURLToPath(new URL('../../src/authentication/dkim/message.ts', import.meta.url));
  const script = `
    const { withSubmissionFields } = await import(${JSON.stringify(module)});
    const { readMessage } = await import(${JSON.stringify(dkim)});
    const content = Buffer.from('From: a@example.com\\r\\n\\r\\nx\\r\\n');
    const out = withSubmissionFields(content, readMessage(content).fields, 'mx.example.com', new Date(${INSTANT.getTime()}));
    process.stdout.write(/^Date: (.*)\\r$/m.exec(out.toString())[1]);`;
  const run = (tz: string) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, TZ: tz },
      encoding: 'utf8',
      timeout: 20_000,
    });
  assert.equal(run('Europe/Berlin'), 'Mon, 30 Nov 2026 01:02:03 +0100');
  assert.equal(run('America/New_York'), 'Sun, 29 Nov 2026 19:02:03 -0500');
  assert.equal(run('UTC'), 'Mon, 30 Nov 2026 00:02:03 +0000');
  // In this process too: the offset of the moment, whatever TZ the tests run under.
  const content = Buffer.from('From: a@example.com\r\n\r\nx\r\n');
  const here = withSubmissionFields(content, readMessage(content).fields, 'mx.example.com', INSTANT).toString();
  assert.ok(here.includes(`\r\nDate: ${dateTime(INSTANT)}\r\n`), here);
});

test('an empty Date or Message-ID counts as missing: replaced, not kept beside ours (RFC 5322 §3.6.1, §3.6.4; RFC 6409 §8)', () => {
  const content = Buffer.from('Message-ID:\r\nFrom: a@example.com\r\nDate:  \r\n \r\nSubject: s\r\n\r\nDate:\r\n');
  const out = withSubmissionFields(content, readMessage(content).fields, 'mx.example.com', INSTANT).toString();
  const header = out.slice(0, out.indexOf('\r\n\r\n') + 2);
  assert.equal(header.match(/^Date:/gim)?.length, 1, out);
  assert.equal(header.match(/^Message-ID:/gim)?.length, 1, out);
  assert.ok(header.includes(`Date: ${dateTime(INSTANT)}\r\n`), header);
  assert.match(header, /^Message-ID: <[0-9a-z]+\.[0-9a-f]{16}@mx\.example\.com>\r\n/m);
  assert.ok(out.endsWith('From: a@example.com\r\nSubject: s\r\n\r\nDate:\r\n'), 'the rest, body included, as it was');
  // A field with a value is the client's, whatever it says.
  const kept = Buffer.from('Date: yesterday\r\nMessage-ID: x\r\n\r\nbody\r\n');
  assert.equal(
    withSubmissionFields(kept, readMessage(kept).fields, 'mx.example.com', INSTANT).toString(),
    kept.toString(),
  );
});
