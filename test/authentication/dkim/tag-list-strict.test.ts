/**
 * RFC 6376 §3.2 tag-lists read strictly, against dkimpy (Debian python3-dkim) on the same messages and the
 * same loopback DNS server: a DKIM-Signature with a repeated tag, without v= (or another REQUIRED tag),
 * with v= other than 1 or with a tag name in the wrong case, and a key record with a repeated tag or a p=
 * spelt P=, are permerror here and fail in dkimpy. An l= past the end of the body is permerror too
 * (§3.5); dkimpy passes it when the hash covers the body there is, the one case where we part. A t=, x= or
 * l= that is not 1*12 (l=: 1*76) digits (§3.5) fails in both. What passes for good reasons (folded white
 * space, tag order, a trailing ";", unknown tags) still passes.
 *
 * The signatures are made here with node:crypto over c=simple/simple, so each case carries exactly the
 * tag-list it names, signed: a failure is the tag-list's, never the cryptography's. The control case
 * shows dkimpy and Postern agree that the signer is right.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { DkimSignatureResult } from '../../../src/authentication/dkim/dkim-result.ts';
import { verifyDkim } from '../../../src/authentication/dkim/verify-dkim.ts';
import type { Resolver } from '../../../src/dns/resolver.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';

/** dkimpy lives in the system Python (python3-dkim); a pyenv python3 earlier on PATH would not have it. */
const PYTHON = '/usr/bin/python3';

const HEADER = [
  'From: Joe SixPack <joe@example.com>',
  'To: Suzie Q <suzie@example.net>',
  'Subject: Is dinner ready?',
  'Date: Sat, 01 Mar 2025 12:00:00 +0000',
].join('\r\n');
/** Ends in one CRLF, so the simple canonicalized body (RFC 6376 §3.4.3) is the body as it is. */
const BODY = 'Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const P = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const RECORDS: Record<string, string> = {
  rsa: `v=DKIM1; k=rsa; p=${P}`,
  // §3.2: "the entire tag-list is invalid"; §6.1.2: PERMFAIL (key syntax error)
  keydup: `v=DKIM1; k=rsa; p=${P}; p=${P}`,
  // §3.2: tag names are case-sensitive, so this record has no p= at all
  keyupperp: `v=DKIM1; k=rsa; P=${P}`,
  // V= and K= are unknown tags, ignored (§3.6.1); v= is optional and k= defaults to rsa: a usable key
  keyupperv: `V=DKIM1; K=rsa; p=${P}`,
};

let dns: TestDnsServer;
let resolver: Resolver;

before(async () => {
  if (!existsSync('/usr/lib/python3/dist-packages/dkim')) {
    throw new Error('not installed: dkimpy (apt-get install python3-dkim)');
  }
  const records = Object.fromEntries(
    Object.entries(RECORDS).map(([selector, txt]) => [`${selector}._domainkey.example.com`, { TXT: [txt] }]),
  );
  dns = await startTestDnsServer({ records });
  resolver = createResolver({ servers: [dns.server], timeoutMs: 500, tries: 1, cacheTtlMs: 0 });
});
after(() => dns?.close());

/** Stand for the body hash and the signature in a tag-list as written. */
const BH = '<bh>';
const B = '<b>';
const STANDARD = `v=1; a=rsa-sha256; c=simple/simple; d=example.com; s=rsa; h=from:to:subject; bh=${BH}; b=${B}`;

interface Signing {
  /** The body the message carries. */
  body?: string;
  /** The body the body hash is taken over (the body by default). */
  signedBody?: string;
  /** The header fields hashed, in order (RFC 6376 §5.4.2); From, To, Subject, as h= says by default. */
  fields?: string[];
}

/** A message signed over `tags` exactly as written (c=simple/simple: RFC 6376 §3.4.1, §3.4.3, §3.7). */
function signed(tags: string, { body = BODY, signedBody = body, fields = ['From', 'To', 'Subject'] }: Signing = {}) {
  const bh = createHash('sha256').update(signedBody, 'latin1').digest('base64');
  const field = `DKIM-Signature: ${tags.replace(BH, bh)}`;
  const lines = HEADER.split('\r\n');
  const hashed = fields.map((name) => lines.find((line) => line.startsWith(`${name}:`)) as string);
  // §3.7: the signature field itself is hashed last, its b= value empty and without its CRLF
  const input = `${hashed.map((f) => `${f}\r\n`).join('')}${field.replace(B, '')}`;
  const b = sign('sha256', Buffer.from(input, 'latin1'), rsa.privateKey).toString('base64');
  return `${field.replace(B, b)}\r\n${HEADER}\r\n\r\n${body}`;
}

/**
 * dkimpy's verdict on the (topmost) signature, its keys asked of the same loopback DNS server. dkimpy logs
 * an error's text only (a DuplicateTag says just the tag's name), so the exceptions behind it are named too.
 */
const DKIMPY = `
import json, logging, sys
import dkim, dns.resolver
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ['127.0.0.1']
resolver.port = int(sys.argv[1])
def dnsfunc(name, timeout=5):
    try:
        answer = resolver.resolve(name.decode('ascii'), 'TXT', lifetime=timeout)
    except dns.resolver.NXDOMAIN:
        return None
    return b''.join(answer[0].strings)
errors = []
class Capture(logging.Handler):
    def emit(self, record):
        names, exc = [], sys.exc_info()[1]
        while exc is not None:
            names.append(type(exc).__name__)
            exc = exc.__context__
        errors.append(' <- '.join(names + [record.getMessage()]))
logger = logging.getLogger('dkimpy')
logger.addHandler(Capture())
logger.setLevel(logging.ERROR)
ok = dkim.verify(sys.stdin.buffer.read(), logger=logger, dnsfunc=dnsfunc)
print(json.dumps({'pass': bool(ok), 'error': '; '.join(errors)}))
`;

function dkimpy(message: string): Promise<{ pass: boolean; error: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', DKIMPY, String(dns.port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(Buffer.concat(out).toString()));
      else reject(new Error(`dkimpy exited ${code}: ${Buffer.concat(err).toString()}`));
    });
    child.stdin.end(Buffer.from(message, 'latin1'));
  });
}

async function postern(message: string): Promise<DkimSignatureResult> {
  const { signatures } = await verifyDkim(Buffer.from(message, 'latin1'), { resolver });
  assert.equal(signatures.length, 1, JSON.stringify(signatures));
  return signatures[0] as DkimSignatureResult;
}

interface Case {
  name: string;
  message: string;
  /** dkimpy's verdict: a pass, or the words of its error. */
  dkimpy: true | RegExp;
  /** Postern's: a pass, or the result and the words of the reason. */
  postern: true | [DkimSignatureResult['result'], RegExp];
}

const cases: Case[] = [
  { name: 'control: the signer is right', message: signed(STANDARD), dkimpy: true, postern: true },
  // RFC 6376 §3.2: "Tags with duplicate names MUST NOT occur within a single tag-list; if a tag name does
  // occur more than once, the entire tag-list is invalid."
  {
    name: 'a repeated tag, same value (d= twice)',
    message: signed(STANDARD.replace('d=example.com;', 'd=example.com; d=example.com;')),
    dkimpy: /^MessageFormatError <- DuplicateTag <- b'd'$/,
    postern: ['permerror', /the tag d= occurs more than once.*RFC 6376 §3\.2/],
  },
  {
    // read leniently (the last h= wins) this passed; a verifier taking the first would check other fields
    name: 'a repeated tag, another value (h= twice: which one was signed?)',
    message: signed(STANDARD.replace('h=from:to:subject;', 'h=from; h=from:to:subject;')),
    dkimpy: /^MessageFormatError <- DuplicateTag <- b'h'$/,
    postern: ['permerror', /the tag h= occurs more than once/],
  },
  // §6.1.1: "If any tag listed as "required" in Section 3.5 is omitted ... PERMFAIL (signature missing
  // required tag)"
  {
    name: 'no v=',
    message: signed(STANDARD.replace('v=1; ', '')),
    dkimpy: /^ValidationError <- missing b'v'=$/,
    postern: ['permerror', /missing required tag v= .*RFC 6376 §6\.1\.1/],
  },
  {
    // signed over the fields mailauth's lenient reading took for a missing h= (From, Subject, Date, To
    // here), which passed
    name: 'no h=',
    message: signed(STANDARD.replace('h=from:to:subject; ', ''), { fields: ['From', 'Subject', 'Date', 'To'] }),
    dkimpy: /^ValidationError <- missing b'h'=$/,
    postern: ['permerror', /missing required tag h=/],
  },
  {
    name: 'no bh=',
    message: signed(STANDARD.replace(`bh=${BH}; `, '')),
    dkimpy: /^ValidationError <- missing b'bh'=$/,
    postern: ['permerror', /missing required tag bh=/],
  },
  // §3.5 v=: "MUST have the value "1""; §6.1.1: PERMFAIL (incompatible version)
  {
    name: 'v=2',
    message: signed(STANDARD.replace('v=1;', 'v=2;')),
    dkimpy: /^ValidationError <- v= value is not 1/,
    postern: ['permerror', /^v=2 is not v=1: incompatible version \(RFC 6376 §3\.5, §6\.1\.1\)$/],
  },
  // §3.2: "Tags MUST be interpreted in a case-sensitive manner": V= is another tag, and v= is missing
  {
    name: 'V=1 for v=1',
    message: signed(STANDARD.replace('v=1;', 'V=1;')),
    dkimpy: /^ValidationError <- missing b'v'=$/,
    postern: ['permerror', /missing required tag v= \(V= is not v=: tag names are case-sensitive, RFC 6376 §3\.2\)/],
  },
  {
    name: 'D= for d=',
    message: signed(STANDARD.replace('d=example.com', 'D=example.com')),
    dkimpy: /^ValidationError <- missing b'd'=$/,
    postern: ['permerror', /missing required tag d= \(D= is not d=/],
  },
  // §3.5 l=: "This value MUST NOT be larger than the actual number of octets in the canonicalized message
  // body." dkimpy only truncates to l= (body[:l]), so over a body shorter than l= it passes what the signer
  // hashed; Postern refuses the signature's claim.
  {
    name: 'l= past the end of the body, the hash over the whole body',
    message: signed(`${STANDARD}; l=${BODY.length + 10}`),
    dkimpy: true,
    postern: [
      'permerror',
      new RegExp(`l=${BODY.length + 10} is larger than the canonicalized body \\(${BODY.length} octets\\)`),
    ],
  },
  {
    name: 'l= of the body as signed, the body cut short on the way',
    message: signed(`${STANDARD}; l=${BODY.length}`, { body: BODY.slice(0, 10), signedBody: BODY }),
    dkimpy: /^ValidationError <- body hash mismatch/,
    // the 10 octets left end without CRLF; simple canonicalization adds one (§3.4.3)
    postern: [
      'permerror',
      new RegExp(`^l=${BODY.length} is larger than the canonicalized body \\(12 octets\\) \\(RFC 6376 §3\\.5\\)$`),
    ],
  },
  // §3.5: sig-t-tag and sig-x-tag = 1*12DIGIT, sig-l-tag = 1*76DIGIT; §6.1.1: a value that does not match
  // its grammar is PERMFAIL. Read leniently (as mailauth, a number or nothing) each of these passed.
  {
    name: 't=abc',
    message: signed(`${STANDARD}; t=abc`),
    dkimpy: /^ValidationError <- t= value is not a decimal integer \(b'abc'\)$/,
    postern: ['permerror', /^t=abc is not 1\*12DIGIT: signature syntax error \(RFC 6376 §3\.5, §6\.1\.1\)$/],
  },
  {
    name: 'x=12a',
    message: signed(`${STANDARD}; t=1700000000; x=12a`),
    dkimpy: /^ValidationError <- x= value is not a decimal integer \(b'12a'\)$/,
    postern: ['permerror', /^x=12a is not 1\*12DIGIT/],
  },
  {
    name: 't= of thirteen digits',
    message: signed(`${STANDARD}; t=1700000000000`),
    dkimpy: /^ValidationError <- t= value is in the future/,
    postern: ['permerror', /^t=1700000000000 is not 1\*12DIGIT/],
  },
  {
    name: 'l=1x',
    message: signed(`${STANDARD}; l=1x`),
    dkimpy: /^ValidationError <- l= value is not a decimal integer \(b'1x'\)$/,
    postern: ['permerror', /^l=1x is not 1\*76DIGIT/],
  },
  {
    name: 'l=-1',
    message: signed(`${STANDARD}; l=-1`),
    dkimpy: /^ValidationError <- l= value is not a decimal integer \(b'-1'\)$/,
    postern: ['permerror', /^l=-1 is not 1\*76DIGIT/],
  },
  {
    name: 't= and x= as RFC 6376 writes them',
    message: signed(`${STANDARD}; t=1700000000; x=4000000000`),
    dkimpy: true,
    postern: true,
  },
  // Key records (§3.6.1) are tag-lists too (§3.2)
  {
    name: 'key record with a repeated tag (p= twice)',
    message: signed(STANDARD.replace('s=rsa', 's=keydup')),
    dkimpy: /^KeyFormatError <- DuplicateTag <- b'p'$/,
    postern: [
      'permerror',
      /^unusable key record at keydup\._domainkey\.example\.com: key syntax error: the tag p= occurs more than once \(RFC 6376 §3\.2, §6\.1\.2\)$/,
    ],
  },
  {
    name: 'key record with P= for p=',
    message: signed(STANDARD.replace('s=rsa', 's=keyupperp')),
    dkimpy: /^KeyFormatError <- KeyError <- incomplete RSA public key/,
    postern: ['permerror', /keyupperp\._domainkey\.example\.com.*no p= \(P= is not p=: tag names are case-sensitive/],
  },
  {
    name: 'key record with V= and K=, unknown tags, and a p=',
    message: signed(STANDARD.replace('s=rsa', 's=keyupperv')),
    dkimpy: true,
    postern: true,
  },
  // Not weakened: what RFC 6376 §3.2 allows
  {
    name: 'folded white space around tags and values',
    message: signed(
      `v = 1 ;\r\n\ta=rsa-sha256;\r\n c = simple/simple; d=example.com; s=rsa;\r\n\th=from : to :\r\n subject; bh=${BH}; b=${B}`,
    ),
    dkimpy: true,
    postern: true,
  },
  { name: 'a trailing ";"', message: signed(`${STANDARD};`), dkimpy: true, postern: true },
  {
    name: 'tags in another order, v= not first',
    message: signed(`s=rsa; b=${B}; d=example.com; h=from:to:subject; bh=${BH}; c=simple/simple; a=rsa-sha256; v=1`),
    dkimpy: true,
    postern: true,
  },
  {
    // B= is not b= (§3.2): it is hashed as it stands, only b='s value is left out (§3.7)
    name: 'an unknown B= tag after b=',
    message: signed(`${STANDARD}; B=AAAA`),
    dkimpy: true,
    postern: true,
  },
  {
    name: 'an unknown tag, in upper case too',
    message: signed(`${STANDARD}; zz=ignored; Foo=bar`),
    dkimpy: true,
    postern: true,
  },
];

for (const c of cases) {
  test(`strict tag-list: ${c.name}`, async () => {
    const py = await dkimpy(c.message);
    if (c.dkimpy === true) assert.ok(py.pass, `dkimpy: ${py.error}`);
    else {
      assert.equal(py.pass, false, 'dkimpy passed it');
      assert.match(py.error, c.dkimpy);
    }
    const got = await postern(c.message);
    if (c.postern === true) assert.equal(got.result, 'pass', got.reason);
    else {
      assert.equal(got.result, c.postern[0], got.reason);
      assert.match(got.reason, c.postern[1]);
    }
  });
}
