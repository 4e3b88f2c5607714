// Sender authentication over SMTP, end to end: the real server, a real DNS server on loopback
// serving SPF, DKIM and DMARC records, messages signed and sealed with mailauth. Every verdict is
// read back from what the client was answered and what the store holds.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { sealMessage } from 'mailauth/lib/arc/index.js';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { relaxedBody, relaxedField } from '../../src/authentication/dkim/canonicalize.ts';
import { startTestDnsServer, type TestZone } from '../../src/dns/test-server.ts';
import { DEFAULT_TEST_ZONE } from '../support/dns.ts';
import { startTestServer, type TestOverrides, type TestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';
import { aliceMailbox, sendToAlice } from '../support/transaction.ts';

type Context = { after(fn: () => unknown): void };

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PRIVATE = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const RSA_PUBLIC = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const KEY_RECORD = `v=DKIM1; k=rsa; p=${RSA_PUBLIC}`;
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ATTACKER_PUBLIC = attacker.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

/** A sending domain that exists (reject_unknown_sender_domain) with the given SPF and DMARC records. */
function domain(name: string, spf: string | undefined, dmarc: string | undefined): TestZone['records'] {
  return {
    [name]: { MX: [{ priority: 10, exchange: `mx.${name}` }], A: ['192.0.2.50'], ...(spf ? { TXT: [spf] } : {}) },
    [`mx.${name}`]: { A: ['192.0.2.50'] },
    ...(dmarc ? { [`_dmarc.${name}`]: { TXT: [dmarc] } } : {}),
    [`sel._domainkey.${name}`]: { TXT: [KEY_RECORD] },
  };
}

const ZONE: TestZone = {
  records: {
    ...DEFAULT_TEST_ZONE.records,
    ...domain('pass.example', 'v=spf1 ip4:127.0.0.0/8 -all', 'v=DMARC1; p=reject'),
    ...domain('hardfail.example', 'v=spf1 -all', undefined),
    ...domain('soft.example', 'v=spf1 ~all', undefined),
    ...domain('nospf.example', undefined, undefined),
    ...domain('slow.example', undefined, undefined),
    ...domain('reject.example', 'v=spf1 -all', 'v=DMARC1; p=reject'),
    ...domain('quarantine.example', 'v=spf1 -all', 'v=DMARC1; p=quarantine'),
    ...domain('monitor.example', 'v=spf1 -all', 'v=DMARC1; p=none; rua=mailto:d@monitor.example'),
    ...domain('dmarcslow.example', 'v=spf1 -all', undefined),
    ...domain('forwarder.example', 'v=spf1 ip4:127.0.0.0/8 -all', undefined),
    ...domain('list.example', 'v=spf1 ip4:127.0.0.0/8 -all', undefined),
    ...domain('slowlist.example', 'v=spf1 ip4:127.0.0.0/8 -all', undefined),
    ...domain('keyslow.example', 'v=spf1 -all', 'v=DMARC1; p=none'),
    ...domain('keyslowreject.example', 'v=spf1 -all', 'v=DMARC1; p=reject'),
    ...domain('evil.example', 'v=spf1 ip4:127.0.0.0/8 -all', undefined),
    'x._domainkey.evil.example': { TXT: [`v=DKIM1; k=rsa; p=${ATTACKER_PUBLIC}`] },
  },
  timeout: [
    'slow.example/TXT',
    '_dmarc.dmarcslow.example',
    'sel._domainkey.keyslow.example',
    'sel._domainkey.keyslowreject.example',
    'sel._domainkey.slowlist.example',
  ],
};

async function serverWith(t: Context, overrides: TestOverrides = {}): Promise<TestServer> {
  const dns = await startTestDnsServer(ZONE);
  t.after(() => dns.close());
  const server = await startTestServer({ dns: { servers: [dns.server], timeoutMs: 300, tries: 1 }, ...overrides });
  t.after(() => server.stop());
  return server;
}

function message(from: string, body = 'Hello.\r\n', extra = ''): string {
  return (
    `${extra}From: Sender <${from}>\r\nTo: <alice@example.com>\r\nSubject: test\r\n` +
    `Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${Math.random()}@x>\r\n\r\n${body}`
  );
}

async function signed(domainName: string, content: string): Promise<string> {
  const { signatures } = await dkimSign(content, {
    signingDomain: domainName,
    selector: 'sel',
    privateKey: RSA_PRIVATE,
    // mailauth signs only what signatureData lists
    signatureData: [{ signingDomain: domainName, selector: 'sel', privateKey: RSA_PRIVATE }],
  });
  return signatures + content;
}

/** One transaction; returns the final reply (the first failing one, or the answer to the data). */

function resultsHeader(stored: string): string {
  const match = /^Authentication-Results: mx\.example\.com;[\s\S]*?(?=\r\n[^\t ])/m.exec(stored);
  assert.ok(match, `an Authentication-Results header in:\n${stored.slice(0, 600)}`);
  return match[0].replace(/\r\n\t/g, ' ');
}

test('SPF pass, fail, softfail, none and temperror are recorded; by default only DMARC acts', async (t) => {
  const server = await serverWith(t);
  const cases: [string, RegExp][] = [
    ['a@pass.example', /spf=pass .*smtp\.mailfrom=pass\.example/],
    ['a@hardfail.example', /spf=fail .*smtp\.mailfrom=hardfail\.example/],
    ['a@soft.example', /spf=softfail /],
    ['a@nospf.example', /spf=none /],
    ['a@slow.example', /spf=temperror /],
  ];
  for (const [from] of cases) {
    const answer = await sendToAlice(server, from, message(from));
    assert.equal(answer.code, 250, `${from}: ${answer.text}`);
  }
  const inbox = await aliceMailbox(server, 'INBOX');
  assert.equal(inbox.length, cases.length);
  for (const [i, [from, expected]] of cases.entries()) assert.match(resultsHeader(inbox[i]!), expected, from);
  assert.ok(!inbox.some((m) => /^Received-SPF:/im.test(m)), 'no Received-SPF unless spf.onFail: mark');
});

test('spf.onFail: mark writes the SPF result in a Received-SPF field above our Received (RFC 7208 §9.1); DMARC still decides', async (t) => {
  const server = await serverWith(t, { authentication: { spf: { onFail: 'mark' } } });
  assert.equal((await sendToAlice(server, 'a@hardfail.example', message('a@hardfail.example'))).code, 250);
  assert.equal((await sendToAlice(server, 'a@pass.example', message('a@pass.example'))).code, 250);
  const refused = await sendToAlice(server, 'a@reject.example', message('a@reject.example'));
  assert.equal(codeOf(refused), '550 5.7.1', 'a DMARC p=reject fail is refused as before');
  const [failed, passed] = await aliceMailbox(server, 'INBOX');
  const header = (m: string) => m.slice(0, m.indexOf('\r\n\r\n'));
  assert.match(
    header(failed!),
    /^Return-Path: <a@hardfail\.example>\r\nReceived-SPF: fail \(mx\.example\.com: domain of a@hardfail\.example does not designate 127\.0\.0\.1 as permitted sender\)\r\n\tclient-ip=127\.0\.0\.1;\r\n\tenvelope-from="a@hardfail\.example";\r\n\thelo=client\.example;\r\n\treceiver=mx\.example\.com;\r\n\tidentity=mailfrom;\r\n\tmechanism=-all;\r\nReceived: /,
  );
  assert.match(resultsHeader(failed!), /spf=fail /, 'Authentication-Results records it too');
  assert.match(
    header(passed!),
    /\r\nReceived-SPF: pass \(mx\.example\.com: domain of a@pass\.example designates 127\.0\.0\.1 as permitted sender\)/,
  );
});

test('spf.onFail: reject refuses a hard fail at MAIL FROM with 550 5.7.23 and defers a temperror', async (t) => {
  const server = await serverWith(t, { authentication: { spf: { onFail: 'reject' } } });
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  await client.command('EHLO client.example');
  const refused = await client.command('MAIL FROM:<a@hardfail.example>');
  assert.equal(codeOf(refused), '550 5.7.23');
  assert.match(refused.text, /SPF fail/);
  assert.equal(codeOf(await client.command('MAIL FROM:<a@slow.example>')), '451 4.7.24');
  assert.equal((await client.command('MAIL FROM:<a@soft.example>')).code, 250, 'a softfail is never refused');
});

test('DKIM: a good signature passes; a changed body or header fails; a missing key is permerror', async (t) => {
  const server = await serverWith(t);
  const good = await signed('nospf.example', message('a@nospf.example'));
  const brokenBody = (await signed('nospf.example', message('a@nospf.example'))).replace('Hello.', 'Hello!');
  const brokenHeader = (await signed('nospf.example', message('a@nospf.example'))).replace(
    'Subject: test',
    'Subject: changed',
  );
  const noKey = (await signed('nospf.example', message('a@nospf.example'))).replace('s=sel', 's=gone');
  for (const content of [good, brokenBody, brokenHeader, noKey]) {
    assert.equal((await sendToAlice(server, 'a@nospf.example', content)).code, 250);
  }
  const headers = (await aliceMailbox(server, 'INBOX')).map(resultsHeader);
  assert.match(headers[0]!, /dkim=pass .*header\.d=nospf\.example header\.s=sel/);
  assert.match(headers[1]!, /dkim=fail .*body/i);
  assert.match(headers[2]!, /dkim=fail /);
  assert.match(headers[3]!, /dkim=(permerror|fail) .*header\.s=gone/);
});

test('DMARC p=reject without alignment: 550 5.7.1 with the reason, nothing stored; the log explains each check', async (t) => {
  const server = await serverWith(t, { log: { level: 'info' } });
  const answer = await sendToAlice(server, 'a@reject.example', message('ceo@reject.example'));
  assert.equal(codeOf(answer), '550 5.7.1');
  assert.match(answer.text, /DMARC policy of reject\.example says reject/);
  assert.deepEqual(await aliceMailbox(server, 'INBOX'), []);
  const refused = server.logs().find((l) => String(l.msg).startsWith('authentication: reject'));
  assert.ok(refused, 'the refusal is logged');
  const checks = refused.checks as string[];
  assert.ok(
    checks.some((c) => /^spf=fail: reject\.example: /.test(c)),
    checks.join(' | '),
  );
  assert.ok(
    checks.some((c) => c === 'dkim=none: no DKIM signature'),
    checks.join(' | '),
  );
  assert.ok(
    checks.some((c) => c.startsWith('dmarc=fail: ')),
    checks.join(' | '),
  );
});

test('DMARC p=reject but an aligned DKIM signature: accepted, dmarc=pass', async (t) => {
  const server = await serverWith(t);
  const content = await signed('reject.example', message('ceo@reject.example'));
  const answer = await sendToAlice(server, 'bounce@reject.example', content);
  assert.equal(answer.code, 250, answer.text);
  assert.match(resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!), /dmarc=pass .*header\.from=reject\.example/);
});

test('DMARC p=reject with aligned SPF: accepted; SPF pass on another domain is not aligned', async (t) => {
  const server = await serverWith(t);
  assert.equal((await sendToAlice(server, 'a@pass.example', message('b@pass.example'))).code, 250);
  // SPF passes for forwarder.example, but the author is reject.example: no alignment (RFC 7489 §3.1.2).
  assert.equal(codeOf(await sendToAlice(server, 'a@forwarder.example', message('ceo@reject.example'))), '550 5.7.1');
});

test('DMARC p=quarantine: delivered to Junk (\\Junk, $Junk), not to the INBOX', async (t) => {
  const server = await serverWith(t);
  assert.equal((await sendToAlice(server, 'a@quarantine.example', message('x@quarantine.example'))).code, 250);
  assert.deepEqual(await aliceMailbox(server, 'INBOX'), []);
  const junk = await aliceMailbox(server, 'Junk');
  assert.equal(junk.length, 1);
  assert.match(resultsHeader(junk[0]!), /dmarc=fail \(p=quarantine dis=quarantine\)/);
  const account = await server.store.resolveAddress('alice@example.com');
  const box = await server.store.getMailbox(account!.id, 'Junk');
  assert.equal(box?.specialUse, '\\Junk');
  const [stored] = await server.store.listMessages(box!.id);
  assert.ok(stored?.flags.includes('$Junk'), `flags: ${stored?.flags}`);
});

test('DMARC p=none: a fail is delivered to the INBOX and recorded', async (t) => {
  const server = await serverWith(t);
  assert.equal((await sendToAlice(server, 'a@monitor.example', message('x@monitor.example'))).code, 250);
  assert.match(resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!), /dmarc=fail \(p=none dis=none\)/);
});

test('a DMARC record lookup that times out: 451 4.7.0, the client retries', async (t) => {
  const server = await serverWith(t);
  assert.equal(codeOf(await sendToAlice(server, 'a@dmarcslow.example', message('x@dmarcslow.example'))), '451 4.7.0');
  // Signed by the From domain itself: DMARC passes under any record, so nothing to wait for.
  const own = await sendToAlice(
    server,
    'a@dmarcslow.example',
    await signed('dmarcslow.example', message('x@dmarcslow.example')),
  );
  assert.equal(own.code, 250, own.text);
  assert.match(resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!), /dmarc=temperror/);
});

test('dmarc.enforce: false only records a p=reject fail', async (t) => {
  const server = await serverWith(t, { authentication: { dmarc: { enforce: false } } });
  assert.equal((await sendToAlice(server, 'a@reject.example', message('ceo@reject.example'))).code, 250);
  // dis= is the disposition applied: nothing was done (as Google writes dis=NONE when it does not act).
  assert.match(resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!), /dmarc=fail \(p=reject dis=none\)/);
});

/** reject.example's signed message, as a mailing list changes it (subject tag, footer) and ARC-seals it. */
async function forwardedThroughList(list = 'list.example'): Promise<string> {
  const original = await signed('reject.example', message('ceo@reject.example', 'Quarterly figures.\r\n'));
  const changed = original.replace('Subject: test', 'Subject: [list] test') + '-- \r\nThe list footer\r\n';
  const seal = await sealMessage(changed, {
    signingDomain: list,
    selector: 'sel',
    privateKey: RSA_PRIVATE,
    cv: 'none',
    authResults:
      'mx.list.example; dkim=pass header.d=reject.example; spf=pass smtp.mailfrom=reject.example; dmarc=pass header.from=reject.example',
  });
  return seal.toString() + changed;
}

test('a forwarded message with a valid ARC chain from a trusted sealer is delivered', async (t) => {
  const server = await serverWith(t, { authentication: { trustedArcSealers: ['list.example'] } });
  const answer = await sendToAlice(server, 'bounces@list.example', await forwardedThroughList());
  assert.equal(answer.code, 250, answer.text);
  const header = resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!);
  assert.match(header, /arc=pass/);
  assert.match(header, /dmarc=fail \(p=reject dis=none override=trusted_forwarder\)/);
});

test('a list message a trusted sealer vouched for is not scored as a DMARC fail by the phishing filter', async (t) => {
  const server = await serverWith(t, {
    authentication: { trustedArcSealers: ['list.example'] },
    filter: { phishing: { enabled: true } },
  });
  const answer = await sendToAlice(server, 'bounces@list.example', await forwardedThroughList());
  assert.equal(answer.code, 250, answer.text);
  const [stored] = await aliceMailbox(server, 'INBOX');
  assert.match(resultsHeader(stored!), /override=trusted_forwarder/);
  // Before: dmarc-fail (2.5), which with a protected name or a link made a list message phishing.
  assert.doesNotMatch(stored!, /^X-Postern-Signals:[^\r]*dmarc-fail/im);
});

test('a trusted sealer whose key lookup times out: 451, not the 550 its override would have spared', async (t) => {
  const server = await serverWith(t, { authentication: { trustedArcSealers: ['slowlist.example'] } });
  const answer = await sendToAlice(server, 'bounces@slowlist.example', await forwardedThroughList('slowlist.example'));
  assert.equal(codeOf(answer), '451 4.7.0', answer.text);
  assert.match(answer.text, /trusted slowlist\.example could not be verified/);
  // Nobody trusts it: the timeout changes nothing, the policy applies.
  const plain = await serverWith(t);
  const refused = await sendToAlice(plain, 'bounces@slowlist.example', await forwardedThroughList('slowlist.example'));
  assert.equal(codeOf(refused), '550 5.7.1');
});

test('a forged seal naming a trusted sealer, its message signature pointed at a domain that never answers: still 550', async (t) => {
  // The sealers of a failed chain are unverified: only a timeout of the trusted sealer's own key may
  // hold the verdict, not one in DNS the spoofer runs (a fresh review reproduced 451 here).
  const server = await serverWith(t, { authentication: { trustedArcSealers: ['list.example'] } });
  const spoof = message('ceo@reject.example', 'Wire the money.\r\n');
  const seal = await sealMessage(spoof, {
    signingDomain: 'evil.example',
    selector: 'x',
    privateKey: attacker.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cv: 'none',
    authResults: 'mx.list.example; dmarc=pass header.from=reject.example',
  });
  const forged = seal
    .toString()
    .replace(/(ARC-Seal:[\s\S]*?)d=evil\.example/, '$1d=list.example')
    .replace(/(ARC-Message-Signature:[\s\S]*?)d=evil\.example;([\s\S]*?) s=x;/, '$1d=keyslow.example;$2 s=sel;');
  assert.match(forged, /ARC-Message-Signature:[\s\S]*d=keyslow\.example/, 'the signature now names the silent domain');
  assert.equal(codeOf(await sendToAlice(server, 'bounce@evil.example', forged + spoof)), '550 5.7.1');
});

test('a forged seal naming a trusted sealer with a selector no DNS name can hold: still 550, not 451', async (t) => {
  // "x!y._domainkey.list.example" is never asked (EBADNAME): no DNS failed, the forger chose the name.
  // Before: the unaskable name counted as a failed lookup of the trusted sealer's key, and the verdict deferred.
  const server = await serverWith(t, { authentication: { trustedArcSealers: ['list.example'] } });
  const spoof = message('ceo@reject.example', 'Wire the money.\r\n');
  const seal = await sealMessage(spoof, {
    signingDomain: 'evil.example',
    selector: 'x',
    privateKey: attacker.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    cv: 'none',
    authResults: 'mx.list.example; dmarc=pass header.from=reject.example',
  });
  for (const selector of ['x!y', 'a%b']) {
    const forged = seal
      .toString()
      .replace(/(ARC-Seal:[\s\S]*?)d=evil\.example;([\s\S]*?) s=x;/, `$1d=list.example;$2 s=${selector};`);
    assert.match(forged, new RegExp(`ARC-Seal:[\\s\\S]*s=${selector};`), 'the seal now names the odd selector');
    const answer = await sendToAlice(server, 'bounce@evil.example', forged + spoof);
    assert.equal(codeOf(answer), '550 5.7.1', `${selector}: ${answer.text}`);
  }
});

test('an aligned DKIM key that times out: dmarc=temperror; under p=none delivered, under p=reject deferred', async (t) => {
  const server = await serverWith(t);
  // Before: dmarc=fail (p=none dis=none), which the phishing filter read as a forged From.
  const none = await sendToAlice(
    server,
    'a@keyslow.example',
    await signed('keyslow.example', message('ceo@keyslow.example')),
  );
  assert.equal(none.code, 250, none.text);
  const header = resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!);
  assert.match(header, /dkim=temperror/);
  assert.match(header, /dmarc=temperror/);
  const reject = await sendToAlice(
    server,
    'a@keyslowreject.example',
    await signed('keyslowreject.example', message('ceo@keyslowreject.example')),
  );
  assert.equal(codeOf(reject), '451 4.7.0');
});

test('the same chain from a sealer nobody trusts changes nothing: 550', async (t) => {
  const server = await serverWith(t);
  assert.equal(codeOf(await sendToAlice(server, 'bounces@list.example', await forwardedThroughList())), '550 5.7.1');
});

test('an allow-listed author domain whose DMARC record times out is delivered, not deferred', async (t) => {
  // Before: 451, though no record could bring more than a fail the allow-list does not act on.
  const server = await serverWith(t, { authentication: { allowlist: ['dmarcslow.example'] } });
  const answer = await sendToAlice(server, 'a@dmarcslow.example', message('x@dmarcslow.example'));
  assert.equal(answer.code, 250, answer.text);
  assert.match(resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!), /dmarc=temperror/);
});

test('an allow-listed author domain is delivered despite its DMARC fail', async (t) => {
  const server = await serverWith(t, { authentication: { allowlist: ['reject.example'] } });
  assert.equal((await sendToAlice(server, 'a@reject.example', message('ceo@reject.example'))).code, 250);
  assert.match(resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!), /override=local_policy/);
});

test('an Authentication-Results header forged by the sender is stripped; others stay', async (t) => {
  const server = await serverWith(t);
  const forged =
    'Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=bank.example; dmarc=pass header.from=bank.example\r\n' +
    'Authentication-Results: elsewhere.example.net; spf=none\r\n';
  assert.equal((await sendToAlice(server, 'a@nospf.example', message('a@nospf.example', 'Hi.\r\n', forged))).code, 250);
  const [stored] = await aliceMailbox(server, 'INBOX');
  const ours = stored!.match(/^Authentication-Results: mx\.example\.com;/gim) ?? [];
  assert.equal(ours.length, 1, 'only the header Postern added');
  assert.doesNotMatch(stored!, /bank\.example/);
  assert.match(stored!, /^Authentication-Results: elsewhere\.example\.net; spf=none/m);
});

test('authentication.enabled: false adds no header and rejects nothing, but still strips forgeries', async (t) => {
  const server = await serverWith(t, { authentication: { enabled: false } });
  const forged = 'Authentication-Results: mx.example.com; dmarc=pass header.from=reject.example\r\n';
  assert.equal(
    (await sendToAlice(server, 'a@reject.example', message('ceo@reject.example', 'x\r\n', forged))).code,
    250,
  );
  const [stored] = await aliceMailbox(server, 'INBOX');
  assert.doesNotMatch(stored!, /Authentication-Results/i);
});

test('the HELO identity is checked on its own and recorded (RFC 7208 §2.3); SPF is cached per IP and domain', async (t) => {
  const dns = await startTestDnsServer({
    records: { ...ZONE.records, 'helo.pass.example': { A: ['127.0.0.1'], TXT: ['v=spf1 a -all'] } },
  });
  t.after(() => dns.close());
  const server = await startTestServer({ dns: { servers: [dns.server], timeoutMs: 300, tries: 1 } });
  t.after(() => server.stop());
  for (let i = 0; i < 3; i++) {
    assert.equal(
      (await sendToAlice(server, 'a@pass.example', message('b@pass.example'), 'helo.pass.example')).code,
      250,
    );
  }
  const header = resultsHeader((await aliceMailbox(server, 'INBOX'))[0]!);
  assert.match(header, /spf=pass .*smtp\.mailfrom=pass\.example; spf=pass .*smtp\.helo=helo\.pass\.example/);
  const spfLookups = dns.queries.filter((q) => q.type === 'TXT' && q.name.toLowerCase() === 'pass.example');
  assert.equal(spfLookups.length, 1, 'three messages, one SPF evaluation');
});

test('DMARC p=quarantine with an aligned DKIM signature goes to the INBOX', async (t) => {
  const server = await serverWith(t);
  const content = await signed('quarantine.example', message('x@quarantine.example'));
  assert.equal((await sendToAlice(server, 'a@quarantine.example', content)).code, 250);
  assert.equal((await aliceMailbox(server, 'INBOX')).length, 1);
  assert.deepEqual(await aliceMailbox(server, 'Junk'), []);
});

test('a DKIM selector with a NUL cannot send the key lookup to another domain: the forgery is refused', async (t) => {
  const server = await serverWith(t);
  // d=reject.example (p=reject) and s=x._domainkey.evil.example<NUL>: the key name asked for would be
  // x._domainkey.evil.example<NUL>._domainkey.reject.example, which a C resolver reads as the attacker's.
  const head = ['From: CEO <ceo@reject.example>', 'To: <alice@example.com>', 'Subject: urgent'];
  const body = 'Please pay today.\r\n';
  const bh = createHash('sha256')
    .update(Buffer.concat(relaxedBody(Buffer.from(body)).parts))
    .digest('base64');
  const unsigned =
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=reject.example; ' +
    `s=x._domainkey.evil.example\u0000; h=from:to:subject; bh=${bh}; b=`;
  const input = head.map((field) => `${relaxedField(field)}\r\n`).join('') + relaxedField(unsigned);
  const b = sign('sha256', Buffer.from(input, 'latin1'), attacker.privateKey).toString('base64');
  const answer = await sendToAlice(server, 'a@evil.example', `${unsigned}${b}\r\n${head.join('\r\n')}\r\n\r\n${body}`);
  assert.equal(answer.code, 550, answer.text);
  assert.match(answer.text, /DMARC policy of reject\.example/);
  assert.deepEqual(await aliceMailbox(server, 'INBOX'), []);
});
