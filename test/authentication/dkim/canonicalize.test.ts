/** DKIM canonicalization (RFC 6376 §3.4) and the message reading under it, against the RFC and mailauth. */

import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  bodyHash,
  type CanonicalBody,
  headerHashInput,
  relaxedBody,
  relaxedField,
  simpleBody,
  withoutSignature,
} from '../../../src/authentication/dkim/canonicalize.ts';
import { readMessage, withCrlf } from '../../../src/authentication/dkim/message.ts';

const text = (body: CanonicalBody) => Buffer.concat(body.parts).toString('latin1');
const bytes = (s: string) => Buffer.from(s, 'latin1');

/** mailauth's streaming body hashers (lib/dkim/body), the reference the verifier replaced. */
const { dkimBody } = createRequire(import.meta.url)('mailauth/lib/dkim/body/index.js') as {
  dkimBody(
    canon: string,
    algorithm: string,
    limit: number | false,
  ): {
    update(chunk: Buffer): void;
    digest(encoding: 'base64'): string;
  };
};

// RFC 6376 §3.4.6, written out octet by octet
const EXAMPLE = 'A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n';

test('RFC 6376 §3.4.6 example, relaxed: "a:X", "b:Y Z"; body " C", "D E"', () => {
  const { fields, body } = readMessage(bytes(EXAMPLE));
  assert.deepEqual(
    fields.map((f) => relaxedField(f.line)),
    ['a:X', 'b:Y Z'],
  );
  assert.equal(text(relaxedBody(withCrlf(body))), ' C\r\nD E\r\n');
});

test('RFC 6376 §3.4.6 example, simple: the fields as they are; the body without its empty lines at the end', () => {
  const { fields, body } = readMessage(bytes(EXAMPLE));
  assert.deepEqual(
    fields.map((f) => f.line),
    ['A: X', 'B : Y\t\r\n\tZ  '],
  );
  assert.equal(text(simpleBody(withCrlf(body))), ' C \r\nD \t E\r\n');
});

test('header hash input: h= fields with CRLF, then the signature field with b= emptied and no CRLF (§3.7)', () => {
  const { fields } = readMessage(
    bytes('From: a@example.com\r\nDKIM-Signature: v=1; h=from;\r\n b=abc\r\n def\r\n\r\n'),
  );
  const [from, sig] = fields as [(typeof fields)[0], (typeof fields)[0]];
  assert.equal(
    headerHashInput('relaxed', [from], sig).toString(),
    'from:a@example.com\r\ndkim-signature:v=1; h=from; b=',
  );
  assert.equal(
    headerHashInput('simple', [from], sig).toString(),
    'From: a@example.com\r\nDKIM-Signature: v=1; h=from;\r\n b=',
  );
});

test('b= emptied is the tag itself, not a "b=" inside another value nor a B= tag (§3.7, §3.2)', () => {
  assert.equal(withoutSignature('DKIM-Signature: z=x|b=y; b=sig; bh=h'), 'DKIM-Signature: z=x|b=y; b=; bh=h');
  // tag names are case-sensitive (RFC 6376 §3.2): B= is an unknown tag, hashed as it stands
  assert.equal(withoutSignature('DKIM-Signature: b=one; a=x;\r\n\tB =two'), 'DKIM-Signature: b=; a=x;\r\n\tB =two');
  assert.equal(withoutSignature('DKIM-Signature: a=x;\r\n\t b =one'), 'DKIM-Signature: a=x;\r\n\t b =');
});

test('relaxed field: the name lowercased (ASCII only) and trimmed, white space around the colon and at the end gone', () => {
  assert.equal(relaxedField('SUBJECT \t:\t  Hello   World \t'), 'subject:Hello World');
  assert.equal(relaxedField('X-\xc4: \xc4'), 'x-\xc4:\xc4'); // latin1 chars (UTF-8 octets) keep their case
  assert.equal(relaxedField('Subject\r\n : folded\r\n\tagain'), 'subject:folded again');
});

test('relaxed body: empty stays empty; simple: empty is one CRLF (§3.4.3, §3.4.4)', () => {
  for (const body of ['', '\r\n', '\r\n\r\n', ' \t\r\n  \r\n', '   ']) {
    assert.equal(text(relaxedBody(bytes(body))), '', JSON.stringify(body));
  }
  assert.equal(text(simpleBody(bytes(''))), '\r\n');
  assert.equal(text(simpleBody(bytes('\r\n\r\n'))), '\r\n');
  assert.equal(text(simpleBody(bytes(' \r\n'))), ' \r\n'); // a line of white space is not empty in simple
});

test('a body without a final CRLF gets one; a bare CR is content, not a line end', () => {
  assert.equal(text(relaxedBody(bytes('last  line \t'))), 'last line\r\n');
  assert.equal(text(simpleBody(bytes('last line '))), 'last line \r\n');
  assert.equal(text(relaxedBody(bytes('a \r\r\nb\r \r\n'))), 'a \r\r\nb\r\r\n');
  assert.equal(text(simpleBody(bytes('a\r\r\n\r\n'))), 'a\r\r\n');
});

test('a bare LF is read as CRLF, in the header section and in the body', () => {
  const { fields, body } = readMessage(bytes('From: a@example.com\nSubject: x\n folded\n\nbody\nline\r\n\n'));
  assert.deepEqual(
    fields.map((f) => f.line),
    ['From: a@example.com', 'Subject: x\r\n folded'],
  );
  assert.equal(withCrlf(body).toString(), 'body\r\nline\r\n\r\n');
  assert.deepEqual(readMessage(bytes('\nFrom: a@example.com\n')).fields, []); // empty header section
});

test('fields: continuation lines and a fold before the colon are read as mailauth reads them', () => {
  const { fields } = readMessage(bytes('Subject\r\n : x\r\nnot a field\r\n more\r\nFrom: a\r\n\r\n'));
  assert.deepEqual(
    fields.map((f) => [f.key, f.line]),
    [
      ['subject', 'Subject\r\n : x\r\nnot a field\r\n more'],
      ['from', 'From: a'],
    ],
  );
});

test('l= counts octets of the canonicalized body, the final CRLF included (§3.4.5)', () => {
  const body = relaxedBody(bytes('ab  c\r\n'));
  assert.equal(body.length, 6); // "ab c\r\n"
  const mailauth = (limit: number) => {
    const h = dkimBody('relaxed', 'sha256', limit);
    h.update(bytes('ab  c\r\n'));
    return h.digest('base64');
  };
  for (const limit of [0, 1, 3, 4, 5, 6, 100]) {
    const got = bodyHash(body, 'sha256', limit);
    assert.equal(got.hash, mailauth(limit), `l=${limit}`);
    assert.deepEqual([got.hashed, got.total], [Math.min(limit, 6), 6]);
  }
});

test("random bodies: relaxed and simple body hashes equal mailauth's and a plain reading of §3.4.4", () => {
  const alphabet = ['a', 'b', ' ', ' ', '\t', '\r\n', '\r\n', '\r'];
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const reference = (s: string) => {
    const t = s
      .replace(/[ \t]+(?=\r\n|$)/g, '')
      .replace(/[ \t]+/g, ' ')
      .replace(/(\r\n)+$/, '');
    return t === '' ? '' : `${t}\r\n`;
  };
  for (let n = 0; n < 3000; n++) {
    let s = '';
    const length = Math.floor(random() * 40);
    for (let i = 0; i < length; i++) s += alphabet[Math.floor(random() * alphabet.length)];
    const input = bytes(s);
    assert.equal(text(relaxedBody(input)), reference(s), JSON.stringify(s));
    for (const canon of ['relaxed', 'simple'] as const) {
      const h = dkimBody(canon, 'sha256', false);
      h.update(input);
      const ours = bodyHash(canon === 'relaxed' ? relaxedBody(input) : simpleBody(input), 'sha256', undefined);
      assert.equal(ours.hash, h.digest('base64'), `${canon} ${JSON.stringify(s)}`);
    }
  }
});
