import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DUNNO } from '../../../src/policy/restriction.ts';
import { clientRules, verifiedClientHostname } from '../../../src/policy/rules/client.ts';
import { build, context, resolverFor, run, startDns } from './context.ts';

const { server, resolver } = await startDns({
  records: {
    // forward-confirmed
    '192.0.2.1': { PTR: ['mail.example.net'] },
    'mail.example.net': { A: ['192.0.2.1'] },
    // PTR whose name has another address
    '192.0.2.2': { PTR: ['bad.example.net'] },
    'bad.example.net': { A: ['192.0.2.99'] },
    // two PTR names, the second confirms
    '192.0.2.7': { PTR: ['other.example.net', 'good.example.net'] },
    'other.example.net': { A: ['192.0.2.70'] },
    'good.example.net': { A: ['192.0.2.7'] },
    // PTR name that does not exist
    '192.0.2.8': { PTR: ['gone.example.net'] },
    // PTR name whose A lookup times out
    '192.0.2.6': { PTR: ['slow.example.net'] },
    'slow.example.net': { A: ['192.0.2.6'] },
    // one name times out, the other confirms
    '192.0.2.10': { PTR: ['slow.example.net', 'ten.example.net'] },
    'ten.example.net': { A: ['192.0.2.10'] },
    // an IPv4 client whose name has only an IPv6 address
    '192.0.2.11': { PTR: ['only6.example.net'] },
    'only6.example.net': { AAAA: ['2001:db8::11'] },
    // a PTR that is an address, not a name
    '192.0.2.12': { PTR: ['192.0.2.12'] },
    // IPv6: confirmed (written uncompressed in the zone), and mismatched
    '2001:db8::25': { PTR: ['v6.example.net'] },
    'v6.example.net': { AAAA: ['2001:DB8:0:0:0:0:0:25'], A: ['192.0.2.25'] },
    '2001:db8::26': { PTR: ['v6bad.example.net'] },
    'v6bad.example.net': { AAAA: ['2001:db8::99'], A: ['192.0.2.26'] },
    // a PTR name with "_", which DNS holds (RFC 2181 §11) and Postfix's valid_hostname() takes
    '192.0.2.13': { PTR: ['mail_out.example.net'] },
    'mail_out.example.net': { A: ['192.0.2.13'] },
    // a name that is still no host name, "_" or not
    '192.0.2.14': { PTR: ['bad_-.example.net'] },
  },
  // 192.0.2.3 and 2001:db8::27 have no PTR at all
  timeout: ['192.0.2.4', 'slow.example.net/A'],
  servfail: ['192.0.2.5'],
});

const reverse = build(clientRules, 'reject_unknown_reverse_client_hostname');
const forward = build(clientRules, 'reject_unknown_client_hostname');

const noReverse = (ip: string) => `Client host rejected: cannot find your reverse hostname, [${ip}]`;
const noName = (ip: string) => `Client host rejected: cannot find your hostname, [${ip}]`;

const reverseCases: [ip: string, want: string][] = [
  ['192.0.2.1', 'dunno'],
  ['192.0.2.2', 'dunno'], // a PTR exists; whether it confirms is the other rule's question
  ['192.0.2.3', `550 5.7.25 ${noReverse('192.0.2.3')}`], // RFC 7372 §3.3
  ['2001:db8::27', `550 5.7.25 ${noReverse('2001:db8::27')}`],
  ['192.0.2.4', `450 4.7.25 ${noReverse('192.0.2.4')}`], // PTR timeout
  ['192.0.2.5', `450 4.7.25 ${noReverse('192.0.2.5')}`], // PTR SERVFAIL
  ['192.0.2.6', 'dunno'], // the forward timeout does not matter to this rule
];
for (const [ip, want] of reverseCases) {
  test(`reject_unknown_reverse_client_hostname ${ip} → ${want.slice(0, 10)}`, async () => {
    assert.equal(await run(reverse, context(resolver, { clientAddress: ip })), want);
  });
}

const forwardCases: [ip: string, want: string][] = [
  ['192.0.2.1', 'dunno'],
  ['192.0.2.7', 'dunno'], // some PTR name confirms
  ['192.0.2.10', 'dunno'], // a confirmed name wins over another name's timeout
  ['2001:db8::25', 'dunno'],
  ['2001:DB8:0:0::25', 'dunno'], // compared canonically, whatever the spelling
  ['192.0.2.2', `550 5.7.25 ${noName('192.0.2.2')}`], // PTR/A mismatch
  ['192.0.2.8', `550 5.7.25 ${noName('192.0.2.8')}`], // the PTR name does not exist
  ['192.0.2.11', `550 5.7.25 ${noName('192.0.2.11')}`], // an AAAA does not confirm an IPv4 client
  ['192.0.2.12', `550 5.7.25 ${noName('192.0.2.12')}`], // an address is not a hostname
  ['2001:db8::26', `550 5.7.25 ${noName('2001:db8::26')}`], // the A record of the name is not looked at
  ['192.0.2.13', 'dunno'], // mail_out.example.net: "_" is read as the HELO rules read it
  ['192.0.2.14', `550 5.7.25 ${noName('192.0.2.14')}`], // a hyphen still may not end a label
  ['192.0.2.3', `550 5.7.25 ${noName('192.0.2.3')}`], // no PTR
  ['192.0.2.6', `450 4.7.25 ${noName('192.0.2.6')}`], // forward lookup timeout
  ['192.0.2.4', `450 4.7.25 ${noName('192.0.2.4')}`], // PTR timeout
  ['192.0.2.5', `450 4.7.25 ${noName('192.0.2.5')}`], // PTR SERVFAIL
];
for (const [ip, want] of forwardCases) {
  test(`reject_unknown_client_hostname ${ip} → ${want.slice(0, 10)}`, async () => {
    assert.equal(await run(forward, context(resolver, { clientAddress: ip })), want);
  });
}

test('the reason says what DNS answered', async () => {
  const verdict = await forward.evaluate(context(resolver, { clientAddress: '192.0.2.2' }));
  assert.equal(verdict.action, 'reject');
  assert.equal(
    verdict.action === 'reject' && verdict.reason,
    'PTR of 192.0.2.2 is bad.example.net but bad.example.net has no address 192.0.2.2',
  );
  const missing = await reverse.evaluate(context(resolver, { clientAddress: '192.0.2.3' }));
  assert.match(missing.action === 'reject' ? missing.reason : '', /192\.0\.2\.3 has no PTR record \(nxdomain\)/);
  const slow = await forward.evaluate(context(resolver, { clientAddress: '192.0.2.6' }));
  assert.match(slow.action === 'reject' ? slow.reason : '', /address lookup of slow\.example\.net failed/);
});

test('verifiedClientHostname names the confirmed host', async () => {
  const host = await verifiedClientHostname(context(resolver, { clientAddress: '192.0.2.7' }));
  assert.equal(host.name, 'good.example.net');
  assert.equal(host.temporary, false);
  assert.deepEqual(host.reverse, ['other.example.net', 'good.example.net']);
  const v6 = await verifiedClientHostname(context(resolver, { clientAddress: '2001:db8::25' }));
  assert.equal(v6.name, 'v6.example.net');
  const none = await verifiedClientHostname(context(resolver, { clientAddress: '192.0.2.2' }));
  assert.deepEqual([none.name, none.temporary], [undefined, false]);
  const slow = await verifiedClientHostname(context(resolver, { clientAddress: '192.0.2.6' }));
  assert.deepEqual([slow.name, slow.temporary], [undefined, true]);
  const underscore = await verifiedClientHostname(context(resolver, { clientAddress: '192.0.2.13' }));
  assert.equal(underscore.name, 'mail_out.example.net', 'named as DNS spells it, "_" and all');
});

test('both rules share one lookup per session through ctx.memo', async () => {
  const uncached = resolverFor(server, 0); // no answer cache: every DNS question reaches the server
  const ctx = context(uncached, { clientAddress: '192.0.2.1' });
  const asked = () => server.queries.filter((q) => q.name === '1.2.0.192.in-addr.arpa' && q.type === 'PTR').length;
  const before = asked();
  assert.deepEqual(await reverse.evaluate(ctx), DUNNO);
  assert.deepEqual(await forward.evaluate(ctx), DUNNO);
  assert.equal((await verifiedClientHostname(ctx)).name, 'mail.example.net');
  assert.equal(asked() - before, 1);
  assert.ok(ctx.memo.has('client.hostname'));
  // a new session asks again
  await forward.evaluate(context(uncached, { clientAddress: '192.0.2.1' }));
  assert.equal(asked() - before, 2);
});

test('the factories take no arguments', () => {
  assert.throws(() => build(clientRules, 'reject_unknown_client_hostname', ['x']), /takes no arguments/);
  assert.throws(() => build(clientRules, 'reject_unknown_reverse_client_hostname', ['x']), /takes no arguments/);
  assert.equal(forward.label, 'reject_unknown_client_hostname');
});
