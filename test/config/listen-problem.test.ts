// What serve says when a listener cannot have its address: the key, the address and what to do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenAddressProblem, listenProblem } from '../../src/config/listen-problem.ts';

// The errors net.Server#listen gives for a host name getaddrinfo cannot resolve (no lookup is made
// here: tests ask no resolver but the loopback one).
const lookupError = (code: string) => Object.assign(new Error(`getaddrinfo ${code} mx.example.com`), { code });

test('a host that does not resolve names the key and says so (it was "getaddrinfo ENOTFOUND")', () => {
  assert.equal(
    listenProblem('listen.smtp', 'mx.example.com:25', lookupError('ENOTFOUND'), 'is another server running?'),
    'listen.smtp: the host of mx.example.com:25 does not resolve to an address (give an IP address, or a name in /etc/hosts or DNS)',
  );
  assert.match(
    listenProblem('mtaSts.listen', 'mx.example.com:443', lookupError('EAI_AGAIN'), 'x') ?? '',
    /^mtaSts\.listen: the host of mx\.example\.com:443 could not be resolved now/,
  );
});

test('listenAddressProblem: what serve would say at bind, found without binding (for check)', async () => {
  const interfaces = {
    lo: [
      { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '', internal: true, cidr: '127.0.0.1/8' },
      { address: '::1', netmask: '', family: 'IPv6', mac: '', internal: true, cidr: '::1/128', scopeid: 0 },
    ],
    eth0: [
      {
        address: '198.51.100.2',
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '',
        internal: false,
        cidr: '198.51.100.2/24',
      },
      {
        address: '2001:db8::2',
        netmask: '',
        family: 'IPv6',
        mac: '',
        internal: false,
        cidr: '2001:db8::2/64',
        scopeid: 0,
      },
    ],
  } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;
  const names: Record<string, string> = { 'mx.example.com': '198.51.100.2', 'other.example.com': '198.51.100.9' };
  const lookup = async (host: string) => {
    const address = names[host];
    if (address === undefined) throw lookupError('ENOTFOUND');
    return { address, family: 4 };
  };
  // Port 25 as root would have it (listen-privileged.test.ts checks the port): these are about the address.
  const options = { interfaces, lookup, nonLocalBind: () => false, privilegedPorts: { start: 1024, allowed: true } };
  for (const ok of [
    '0.0.0.0:25',
    '[::]:25',
    '127.0.0.1:25',
    '127.0.0.2:25',
    '[::1]:25',
    '198.51.100.2:25',
    '[2001:db8:0::2]:25',
    '[::ffff:127.0.0.1]:25',
    'mx.example.com:25',
  ]) {
    assert.equal(await listenAddressProblem('listen.smtp', ok, options), undefined, ok);
  }
  assert.equal(
    await listenAddressProblem('listen.smtp', '198.51.100.3:25', options),
    'listen.smtp: 198.51.100.3:25 is not an address of this machine',
  );
  assert.equal(
    await listenAddressProblem('mtaSts.listen', '[2001:db8::3]:443', options),
    'mtaSts.listen: [2001:db8::3]:443 is not an address of this machine',
  );
  assert.equal(
    await listenAddressProblem('listen.smtp', 'other.example.com:25', options),
    'listen.smtp: other.example.com:25 is not an address of this machine (other.example.com resolves to 198.51.100.9)',
  );
  assert.equal(
    await listenAddressProblem('listen.smtp', 'nowhere.example.com:25', options),
    'listen.smtp: the host of nowhere.example.com:25 does not resolve to an address (give an IP address, or a name in /etc/hosts or DNS)',
  );
  // net.ipv4.ip_nonlocal_bind = 1: the kernel binds any address (a floating address not here yet).
  assert.equal(
    await listenAddressProblem('listen.smtp', '198.51.100.3:25', { ...options, nonLocalBind: () => true }),
    undefined,
  );
});
