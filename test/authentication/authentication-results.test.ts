import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  authenticationResultsHeader,
  authservIdOf,
  stripForgedResults,
} from '../../src/authentication/authentication-results.ts';
import type { DmarcResult } from '../../src/authentication/results.ts';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'));

test('the header names our authserv-id and one result per method (RFC 8601 §2.2); pass and none need no comment', () => {
  const header = authenticationResultsHeader('mx.example.com', {
    spf: { result: 'pass', domain: 'example.org', reason: 'pass', identity: 'mailfrom' },
    dkim: [
      {
        result: 'pass',
        domain: 'example.org',
        selector: 's1',
        algorithm: 'rsa-sha256',
        headerB: 'abc/defg',
        reason: 'good signature',
      },
    ],
    arc: { result: 'none', instance: 0, sealers: [], reason: 'no ARC chain' },
    dmarc: { result: 'pass', fromDomain: 'example.org', policy: 'reject', disposition: 'none', reason: 'aligned' },
  });
  assert.equal(
    header,
    'Authentication-Results: mx.example.com;\r\n' +
      '\tspf=pass smtp.mailfrom=example.org;\r\n' +
      '\tdkim=pass header.d=example.org header.s=s1 header.a=rsa-sha256 header.b="abc/defg";\r\n' +
      '\tarc=none;\r\n' +
      '\tdmarc=pass (p=reject dis=none) header.from=example.org\r\n',
  );
});

test('a DKIM pass says what it does not cover (l=, t=y), and header.i names the signing identity (RFC 8601 §2.7.1)', () => {
  const base = { result: 'pass' as const, domain: 'example.org', selector: 's', algorithm: 'rsa-sha256', reason: 'ok' };
  const header = authenticationResultsHeader('mx.example.com', {
    dkim: [
      { ...base, unsignedBodyBytes: 66, identity: 'news@example.org' },
      { ...base, testing: true },
    ],
  });
  assert.equal(
    header,
    'Authentication-Results: mx.example.com;\r\n' +
      '\tdkim=pass (66 body octets unsigned, l=) header.d=example.org header.i=news@example.org header.s=s header.a=rsa-sha256;\r\n' +
      '\tdkim=pass (key in testing mode, t=y) header.d=example.org header.s=s header.a=rsa-sha256\r\n',
  );
});

test('DMARC: polrec.p and, for a subdomain, polrec.domain say which record applied (RFC 9989 §10)', () => {
  const header = authenticationResultsHeader('mx.example.com', {
    dmarc: {
      result: 'fail',
      fromDomain: 'mail.example.org',
      policyDomain: 'example.org',
      policy: 'quarantine',
      p: 'reject',
      sp: 'quarantine',
      disposition: 'quarantine',
      reason: 'no identifier aligned',
    },
  });
  assert.match(
    header,
    /\tdmarc=fail \(p=quarantine dis=quarantine\) header\.from=mail\.example\.org polrec\.p=reject polrec\.domain=example\.org\r\n$/,
  );
});

test('no signature is dkim=none; the null sender is smtp.helo; nothing evaluated is "none"', () => {
  const header = authenticationResultsHeader('mx.example.com', {
    spf: { result: 'softfail', domain: 'helo.example.org', reason: 'x', identity: 'helo' },
    dkim: [],
  });
  assert.match(header, /spf=softfail \(x\) smtp\.helo=helo\.example\.org;\r\n\tdkim=none\r\n$/);
  assert.equal(authenticationResultsHeader('mx.example.com', {}), 'Authentication-Results: mx.example.com; none\r\n');
});

test('domains written in UTF-8 (an EHLO name, a From domain) are A-labels in the header (RFC 6532 §3.7)', () => {
  const header = authenticationResultsHeader('mx.example.com', {
    helo: { result: 'none', domain: 'münchen.example', reason: '' },
    dmarc: { result: 'pass', fromDomain: 'bücher.example', policy: 'reject', disposition: 'none', reason: 'aligned' },
  });
  assert.match(header, /smtp\.helo=xn--mnchen-3ya\.example;/);
  assert.match(header, /header\.from=xn--bcher-kva\.example/);
  assert.ok(/^[\x00-\x7f]*$/.test(header), header);
  // A name with no A-label (an invalid U-label) is written as Received writes it, never raw UTF-8.
  const invalid = authenticationResultsHeader('mx.example.com', {
    helo: { result: 'none', domain: 'xn--ü.example', reason: '' },
  });
  assert.match(invalid, /smtp\.helo="xn--\?\.example"/);
});

test('a login is auth=pass smtp.auth (RFC 8601 §2.7.4); a reason with parentheses stays one comment', () => {
  assert.equal(
    authenticationResultsHeader('mx.example.com', { login: 'alice@example.com' }),
    'Authentication-Results: mx.example.com;\r\n\tauth=pass smtp.auth=alice@example.com\r\n',
  );
  const header = authenticationResultsHeader('mx.example.com', {
    spf: { result: 'fail', domain: 'example.org', reason: 'not (really)\r\nallowed', identity: 'mailfrom' },
  });
  assert.match(header, /spf=fail \(not \\\(really\\\) allowed\) smtp/);
});

test('control characters quoted from DNS or a signature never reach the stored header; it stays 7-bit', () => {
  const header = authenticationResultsHeader('mx.example.com', {
    spf: {
      result: 'permerror',
      domain: 'ctl.example',
      reason: 'bad term a:\u0000\u0007evil\u001b[31m.com (RFC 7208 §4.6, §5) café',
      identity: 'mailfrom',
    },
    dkim: [
      {
        result: 'neutral',
        domain: 'bank.example',
        selector: 'x._domainkey.evil.example\u0000',
        algorithm: 'rsa-sha256',
        reason: 'd= or s= is not a DNS name (RFC 6376 §6.1.1)',
      },
    ],
  });
  assert.doesNotMatch(header, /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\uffff]/, JSON.stringify(header));
  assert.match(
    header,
    /spf=permerror \(bad term a:\?\?evil\?\[31m\.com \\\(RFC 7208 section 4\.6, section 5\\\) caf\?\)/,
  );
  assert.match(header, /header\.s="x\._domainkey\.evil\.example\?"/);
});

test('forged fields with our authserv-id are removed, any case, folded or commented (RFC 8601 §5)', () => {
  const message = crlf(
    [
      'Authentication-Results: MX.example.com; spf=pass smtp.mailfrom=bank.example',
      'Received: from a by b',
      'authentication-results : (forged) mx.example.com;',
      '\tdkim=pass header.d=bank.example',
      'Authentication-Results: other.example.net; spf=fail smtp.mailfrom=bank.example',
      'Authentication-Results: "mx.example.com"; dmarc=pass',
      'Subject: hi',
      '',
      'Authentication-Results: mx.example.com; in the body stays',
      '',
    ].join('\n'),
  );
  const { content, removed } = stripForgedResults(message, 'mx.example.com');
  assert.equal(removed, 3);
  assert.equal(
    content.toString(),
    crlf(
      [
        'Received: from a by b',
        'Authentication-Results: other.example.net; spf=fail smtp.mailfrom=bank.example',
        'Subject: hi',
        '',
        'Authentication-Results: mx.example.com; in the body stays',
        '',
      ].join('\n'),
    ).toString(),
  );
});

test('a message without our fields is returned as the same buffer', () => {
  const message = crlf('Subject: x\n\nbody\n');
  const result = stripForgedResults(message, 'mx.example.com');
  assert.equal(result.removed, 0);
  assert.equal(result.content, message);
  assert.equal(stripForgedResults(crlf('\nAuthentication-Results: mx.example.com; x\n'), 'mx.example.com').removed, 0);
});

test('a forged field is found in any case of its name and with white space before the colon', () => {
  for (const name of ['AUTHENTICATION-RESULTS', 'AuThEnTiCaTiOn-ReSuLtS', 'authentication-results\t', 'x']) {
    const message = crlf(`Subject: hi\n${name}: mx.example.com; spf=pass\n\nbody\n`);
    assert.equal(stripForgedResults(message, 'mx.example.com').removed, name === 'x' ? 0 : 1, name);
  }
  // The first line, and a header section with no empty line after it.
  assert.equal(stripForgedResults(crlf('Authentication-Results: mx.example.com; x\n'), 'mx.example.com').removed, 1);
});

test('authservIdOf reads the first token after comments', () => {
  assert.equal(authservIdOf(' mx.example.com; spf=pass'), 'mx.example.com');
  assert.equal(authservIdOf(' (c) MX.Example.COM;'), 'mx.example.com');
  assert.equal(authservIdOf(' mx.example.com 1; none'), 'mx.example.com'); // RFC 8601 §2.2 authres-version
  assert.equal(authservIdOf(''), '');
});

test('authservIdOf reads comments and quoted-pairs as RFC 5322 §3.2.2 has them, so no forgery hides from the strip', () => {
  assert.equal(authservIdOf(' (a (nested) c) mx.example.com; dkim=pass'), 'mx.example.com');
  assert.equal(authservIdOf(' (a \\) b) mx.example.com; dkim=pass'), 'mx.example.com'); // an escaped parenthesis
  assert.equal(authservIdOf(' "mx.exampl\\e.com"; dkim=pass'), 'mx.example.com');
  assert.equal(authservIdOf('\r\n (folded\r\n comment)\r\n MX.Example.COM.; dkim=pass'), 'mx.example.com');
  assert.equal(authservIdOf(' (never closed mx.example.com; dkim=pass'), '');
  const forged = [
    'Authentication-Results: (x (y) z) mx.example.com; dkim=pass header.d=bank.example',
    'Authentication-Results: "mx.exampl\\e.com"; dmarc=pass header.from=bank.example',
    'Authentication-Results: MX.Example.COM.; spf=pass',
  ];
  const message = crlf(`${forged.join('\n')}\nSubject: hi\n\nbody\n`);
  const { content, removed } = stripForgedResults(message, 'mx.example.com');
  assert.equal(removed, 3);
  assert.equal(content.toString('latin1'), 'Subject: hi\r\n\r\nbody\r\n');
});

test('no line passes 998 octets (RFC 5322 §2.1.1): long values are cut and a long result folded between properties', () => {
  const long = (c: string) => c.repeat(1500);
  const header = authenticationResultsHeader('mx.example.com', {
    dkim: [
      {
        result: 'neutral',
        domain: `${long('d')}.example`,
        identity: `${long('a')}@evil.example`,
        selector: long('s'),
        algorithm: long('"'), // each character escaped when quoted: the worst case
        headerB: long('b'),
        reason: long('r'),
      },
    ],
  });
  const lines = header.split('\r\n');
  for (const line of lines) assert.ok(line.length <= 998, `a line of ${line.length} octets`);
  assert.ok(lines.length > 4, 'the result is folded');
  for (const line of lines.slice(1, -1)) assert.match(line, /^[ \t]/, 'each further line is a continuation');
  // An identity keeps its domain, what readers compare; the local part is cut.
  const i = /header\.i=(\S+)/.exec(header)?.[1] ?? '';
  assert.ok(i.endsWith('@evil.example') && i.length === 320, i);
  // Before: one line of about 7,500 octets.
  assert.ok(header.length < 3000, `${header.length}`);
});

test('property values are 7-bit: domains as A-labels (smtp.mailfrom too), any other non-ASCII as "?"', () => {
  const header = authenticationResultsHeader('mx.example.com', {
    spf: { result: 'pass', domain: 'bücher.example', reason: 'pass', identity: 'mailfrom' },
    dkim: [
      {
        result: 'fail',
        domain: 'bücher.example',
        identity: 'jöe@bücher.example',
        selector: 'sél',
        algorithm: 'rsa-sha256',
        headerB: 'abc+/déf',
        reason: 'bad',
      },
      {
        result: 'fail',
        domain: 'x.example',
        identity: 'öl"(x)@x.example',
        selector: 's',
        algorithm: '',
        reason: 'bad',
      },
    ],
  });
  assert.ok(/^[\x20-\x7e\r\n\t]*$/.test(header), JSON.stringify(header));
  assert.match(header, /spf=pass smtp\.mailfrom=xn--bcher-kva\.example;/);
  assert.match(header, / header\.d=xn--bcher-kva\.example header\.i=j\?e@xn--bcher-kva\.example header\.s=xn--sl-bja /);
  assert.match(header, / header\.b="abc\+\/d\?f"/);
  // A local part that is no dot-atom is quoted on its own, "…"@domain (RFC 8601 §2.3 pvalue).
  assert.match(header, / header\.i="\?l\\"\(x\)"@x\.example header\.s=s\r\n$/);
  assert.match(authenticationResultsHeader('mx.example.com', { login: 'jöe' }), /smtp\.auth="j\?e"/);
});

test('arc= records the client address (RFC 8617 §6 smtp.remote-ip); header.oldest-pass is not known', () => {
  const arc = { result: 'pass' as const, instance: 2, sealers: ['a.example', 'b.example'], reason: 'ok' };
  const v4 = authenticationResultsHeader('mx.example.com', { arc, remoteIp: '192.0.2.7' });
  assert.equal(v4, 'Authentication-Results: mx.example.com;\r\n\tarc=pass smtp.remote-ip=192.0.2.7\r\n');
  const v6 = authenticationResultsHeader('mx.example.com', {
    arc: { ...arc, result: 'none' },
    remoteIp: '2001:db8::1',
  });
  assert.match(v6, /\tarc=none smtp\.remote-ip="2001:db8::1"\r\n$/);
  assert.match(authenticationResultsHeader('mx.example.com', { arc, remoteIp: 'x; dmarc=pass' }), /\tarc=pass\r\n$/);
  assert.doesNotMatch(v4, /oldest-pass/);
});

test('dis= is the disposition applied: none when DMARC is not enforced, or when an override lifted it', () => {
  const dmarc: DmarcResult = {
    result: 'fail',
    fromDomain: 'bank.example',
    policy: 'reject',
    p: 'reject',
    disposition: 'reject',
    reason: 'no identifier aligned',
  };
  const enforced = authenticationResultsHeader('mx.example.com', { dmarc });
  assert.match(enforced, /dmarc=fail \(p=reject dis=reject\) header\.from=bank\.example/);
  const recorded = authenticationResultsHeader('mx.example.com', { dmarc, enforced: false });
  assert.match(recorded, /dmarc=fail \(p=reject dis=none\) header\.from=bank\.example/);
  const overridden = authenticationResultsHeader('mx.example.com', {
    dmarc,
    override: { type: 'local_policy', disposition: 'none' },
  });
  assert.match(overridden, /dmarc=fail \(p=reject dis=none override=local_policy\)/);
});
