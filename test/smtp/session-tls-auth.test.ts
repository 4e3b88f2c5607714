// STARTTLS (RFC 3207) and AUTH (RFC 4954) in the sans-I/O session: what is offered when, the
// state reset after STARTTLS, the dropped pipelined input (CVE-2011-0411), and each AUTH path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SessionOptions } from '../../src/smtp/session.ts';
import { acceptAll, Driver } from '../support/session-driver.ts';

const EHLO = 'EHLO client.example.net\r\n';
const mx: Partial<SessionOptions> = { tls: 'starttls' };
const submission: Partial<SessionOptions> = { tls: 'starttls', submission: true, authMechanisms: ['PLAIN', 'LOGIN'] };
const b64 = (text: string) => Buffer.from(text).toString('base64');

function ehloLines(d: Driver): string {
  return d.replies.at(-1) ?? '';
}

test('STARTTLS is offered on a plaintext connection with a certificate, not after TLS, not without one', () => {
  const plain = new Driver(mx);
  plain.send(EHLO);
  assert.match(ehloLines(plain), /250[- ]STARTTLS\r\n/);
  assert.doesNotMatch(ehloLines(plain), /AUTH/, 'an MX listener never offers AUTH');
  assert.deepEqual(plain.send('STARTTLS\r\n'), ['220 2.0.0']);
  plain.send(EHLO);
  assert.doesNotMatch(ehloLines(plain), /STARTTLS/, 'not offered twice');
  assert.deepEqual(plain.send('STARTTLS\r\n'), ['503 5.5.1']);
  const none = new Driver({ tls: 'none' });
  none.send(EHLO);
  assert.doesNotMatch(ehloLines(none), /STARTTLS/);
  // Postfix's 502: TLS is not coming later, as 454 would say (RFC 3207 §4: temporary), on this listener.
  assert.deepEqual(none.send('STARTTLS\r\n'), ['502 5.5.1']);
  assert.deepEqual(none.send('STARTTLS now\r\n'), ['501 5.5.4']);
});

test('after STARTTLS the session forgets the EHLO and drops what was pipelined behind STARTTLS (RFC 3207 §4.2)', () => {
  const d = new Driver(mx);
  d.send(EHLO);
  // The command-injection class: plaintext commands smuggled after STARTTLS must never run.
  assert.deepEqual(d.send('STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<alice@example.com>\r\n'), [
    '220 2.0.0',
  ]);
  assert.deepEqual(d.send('MAIL FROM:<a@example.net>\r\n'), ['503 5.5.1'], 'EHLO is needed again');
  assert.deepEqual(d.send(`${EHLO}MAIL FROM:<a@example.net>\r\n`), ['250', '250 2.1.0']);
  assert.deepEqual(new Driver(mx).send(`${EHLO}MAIL FROM:<a@example.net>\r\nSTARTTLS\r\n`).at(-1), '503 5.5.1');
});

test('forced TLS: MAIL before STARTTLS gets 530 5.7.0; after it, mail flows', () => {
  const d = new Driver({ ...mx, requireTls: true });
  assert.deepEqual(d.send(`${EHLO}MAIL FROM:<a@example.net>\r\n`), ['250', '530 5.7.0']);
  d.send('STARTTLS\r\n');
  assert.deepEqual(d.send(`${EHLO}MAIL FROM:<a@example.net>\r\n`), ['250', '250 2.1.0']);
});

test('STARTTLS whose certificate comes later: decided at each EHLO, STARTTLS and MAIL; forced TLS defers with 454 meanwhile', () => {
  let ready = false;
  const d = new Driver({ ...mx, requireTls: true, tlsReady: () => ready });
  d.send(EHLO);
  assert.doesNotMatch(ehloLines(d), /STARTTLS/);
  assert.deepEqual(d.send('STARTTLS\r\n'), ['454 4.7.0'], 'RFC 3207 §4: not available for a temporary reason');
  assert.deepEqual(d.send('MAIL FROM:<a@example.net>\r\n'), ['454 4.7.0'], 'our set-up problem: deferred, not 530');
  ready = true;
  d.send(EHLO);
  assert.match(ehloLines(d), /250[- ]STARTTLS\r\n/);
  assert.deepEqual(d.send('MAIL FROM:<a@example.net>\r\n'), ['530 5.7.0']);
  assert.deepEqual(d.send('STARTTLS\r\n'), ['220 2.0.0']);
  assert.deepEqual(d.send(`${EHLO}MAIL FROM:<a@example.net>\r\n`), ['250', '250 2.1.0']);
  const noTls = new Driver({ tls: 'none', requireTls: true });
  assert.deepEqual(
    noTls.send(`${EHLO}MAIL FROM:<a@example.net>\r\n`),
    ['250', '454 4.7.0'],
    'no TLS at all: no 530 either',
  );
});

test('submission: AUTH only over TLS, and MAIL only after AUTH (RFC 4954 §4, RFC 6409 §4.3)', () => {
  const d = new Driver(submission);
  d.send(EHLO);
  assert.doesNotMatch(ehloLines(d), /AUTH/, 'never offered in the clear');
  assert.deepEqual(d.send(`AUTH PLAIN ${b64('secret')}\r\n`), ['530 5.7.0']);
  d.send('STARTTLS\r\n');
  d.send(EHLO);
  assert.match(ehloLines(d), /250[- ]AUTH PLAIN LOGIN\r\n/);
  assert.deepEqual(d.send('MAIL FROM:<a@example.net>\r\n'), ['530 5.7.0']);
  assert.deepEqual(d.send(`AUTH PLAIN ${b64('wrong')}\r\n`), ['535 5.7.8']);
  assert.deepEqual(d.send(`AUTH PLAIN ${b64('secret')}\r\n`), ['235 2.7.0']);
  assert.deepEqual(d.send(`AUTH PLAIN ${b64('secret')}\r\n`), ['503 5.5.1'], 'already authenticated');
  assert.deepEqual(d.send('MAIL FROM:<a@example.net> AUTH=<>\r\n'), ['250 2.1.0'], 'the AUTH parameter (RFC 4954 §5)');
  assert.deepEqual(d.send('AUTH PLAIN\r\n'), ['503 5.5.1'], 'not in a transaction');
});

test('submission whose certificate comes later: AUTH gets 454 4.7.0 (TLS not available), not 530 "STARTTLS first"', () => {
  // RFC 3207 §4: before, AUTH answered 530 "Must issue a STARTTLS command first" while STARTTLS itself was
  // refused with 454: a permanent-looking reply sending the client to a command it could not use.
  let ready = false;
  const d = new Driver({ ...submission, tlsReady: () => ready });
  d.send(EHLO);
  assert.doesNotMatch(ehloLines(d), /STARTTLS|AUTH/);
  assert.deepEqual(d.send(`AUTH PLAIN ${b64('secret')}\r\n`), ['454 4.7.0']);
  assert.deepEqual(d.send('STARTTLS\r\n'), ['454 4.7.0']);
  ready = true;
  assert.deepEqual(d.send(`AUTH PLAIN ${b64('secret')}\r\n`), ['530 5.7.0'], 'now STARTTLS is the way');
});

test('MAIL AUTH=: the xtext is decoded onto the envelope; anything not xtext gets 501 5.5.4 (RFC 4954 §5, RFC 3461 §4)', () => {
  const authors: (string | undefined)[] = [];
  const d = new Driver({ ...submission, tls: 'implicit' }, (effect) => {
    if (effect.type === 'check' && effect.stage === 'mail') authors.push(effect.envelope.authAuthor);
    return acceptAll(effect);
  });
  d.send(EHLO);
  d.send(`AUTH PLAIN ${b64('secret')}\r\n`);
  assert.deepEqual(d.send('MAIL FROM:<a@example.net> AUTH=b+2Bsales@example.net\r\n'), ['250 2.1.0']);
  assert.deepEqual(d.send('RSET\r\nMAIL FROM:<a@example.net> AUTH=<>\r\n'), ['250 2.0.0', '250 2.1.0']);
  assert.deepEqual(d.send('RSET\r\nMAIL FROM:<a@example.net> AUTH=j+C3+B8rn@example.net\r\n'), [
    '250 2.0.0',
    '250 2.1.0',
  ]);
  assert.deepEqual(d.send('RSET\r\nMAIL FROM:<a@example.net>\r\n'), ['250 2.0.0', '250 2.1.0']);
  assert.deepEqual(authors, ['b+sales@example.net', '<>', 'jørn@example.net', undefined]);
  for (const bad of ['a+2@example.net', 'a=b@example.net', 'a+ZZ@example.net', '']) {
    assert.deepEqual(d.send(`RSET\r\nMAIL FROM:<a@example.net> AUTH=${bad}\r\n`), ['250 2.0.0', '501 5.5.4'], bad);
  }
});

test('AUTH exchanges: challenge and response, cancel, bad base64, unknown mechanism, server data before 235', () => {
  const d = new Driver({ ...submission, tls: 'implicit' });
  d.send(EHLO);
  assert.deepEqual(d.send('AUTH PLAIN\r\n'), ['334']);
  assert.deepEqual(d.send(`${b64('secret')}\r\n`), ['235 2.7.0']);
  const cancel = new Driver({ ...submission, tls: 'implicit' });
  cancel.send(EHLO);
  cancel.send('AUTH LOGIN\r\n');
  assert.deepEqual(cancel.send('*\r\n'), ['501 5.0.0']);
  cancel.send('AUTH LOGIN\r\n');
  assert.deepEqual(cancel.send('not base64!\r\n'), ['501 5.5.2']);
  assert.deepEqual(cancel.send('AUTH CRAM-MD5\r\n'), ['504 5.5.4']);
  assert.deepEqual(cancel.send('AUTH PLAIN !!!\r\n'), ['501 5.5.2']);

  const scramLike = new Driver({ ...submission, tls: 'implicit' }, (effect) =>
    effect.type === 'auth'
      ? { action: 'success', username: 'user', data: Buffer.from('v=server-signature') }
      : { action: 'continue' },
  );
  scramLike.send(EHLO);
  assert.deepEqual(scramLike.send('AUTH PLAIN =\r\n'), ['334'], 'the server final data as a challenge');
  assert.equal(scramLike.replies.at(-1), `334 ${b64('v=server-signature')}\r\n`);
  assert.deepEqual(scramLike.send('\r\n'), ['235 2.7.0'], 'an empty response, then success');
});

test('an over-long SASL response: 500 5.5.6 (RFC 4954 §4), and none of the rest of it is read as a command', () => {
  const d = new Driver({ ...submission, tls: 'implicit' });
  d.send(EHLO);
  assert.deepEqual(d.send('AUTH PLAIN\r\n'), ['334']);
  // 13 KB of response, then, still on the same line, what would be a command.
  assert.deepEqual(d.send('A'.repeat(13_000)), ['500 5.5.6']);
  assert.deepEqual(d.send('QUIT\r\n'), [], 'the tail of the response, skipped');
  assert.deepEqual(d.send('NOOP\r\n'), ['250 2.0.0'], 'the next line is a command again');
});

test('an over-long SASL response that arrives whole with its line end: 500 5.5.6 too, not the command limit reply', () => {
  const d = new Driver({ ...submission, tls: 'implicit' });
  d.send(EHLO);
  assert.deepEqual(d.send('AUTH LOGIN\r\n'), ['334']);
  assert.deepEqual(d.send(`${'A'.repeat(13_000)}\r\n`), ['500 5.5.6']);
  assert.deepEqual(d.send('NOOP\r\n'), ['250 2.0.0'], 'the next line is a command again');
});

test('AUTH with an initial response that is not base64: TLS, state and an unknown mechanism are said first (RFC 4954 §4: 504)', () => {
  const secure = new Driver({ ...submission, tls: 'implicit' });
  secure.send(EHLO);
  assert.deepEqual(secure.send('AUTH DIGEST-MD5 abc\r\n'), ['504 5.5.4'], 'unsupported whatever its response');
  assert.deepEqual(secure.send('AUTH PLAIN abc\r\n'), ['501 5.5.2'], 'a supported one: the response is refused');
  const clear = new Driver({ ...submission, tls: 'starttls' });
  clear.send(EHLO);
  assert.deepEqual(
    clear.send('AUTH PLAIN !!!\r\n'),
    ['530 5.7.0'],
    'in the clear: STARTTLS first, not a decoding error',
  );
});
