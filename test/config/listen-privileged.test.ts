// A port only root or CAP_NET_BIND_SERVICE may bind: check says it as serve's bind does, for every listener.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { listenAddressProblem, processPrivilegedPorts } from '../../src/config/listen-problem.ts';

const denied = { privilegedPorts: { start: 1024, allowed: false } };

test('a port below ip_unprivileged_port_start, without the capability, is serve’s EACCES line for any listener key', async () => {
  for (const key of [
    'listen.smtp',
    'listen.submission',
    'listen.submissions',
    'mtaSts.listen',
    'tls.acme.http01.listen',
    'tls.acme.tlsAlpn01.listen',
  ]) {
    assert.equal(
      await listenAddressProblem(key, '127.0.0.1:25', denied),
      `${key}: no permission to listen on 127.0.0.1:25: ports below 1024 need root or CAP_NET_BIND_SERVICE (setcap 'cap_net_bind_service=+ep' on the node binary)`,
    );
  }
  assert.match(
    (await listenAddressProblem('listen.smtp', '[::]:1023', denied)) ?? '',
    /no permission to listen on \[::\]:1023/,
  );
  // At or above the start, port 0 (the system's pick), with the capability, or with a start of 0: none.
  for (const [address, options] of [
    ['127.0.0.1:1024', denied],
    ['127.0.0.1:0', denied],
    ['127.0.0.1:25', { privilegedPorts: { start: 1024, allowed: true } }],
    ['127.0.0.1:25', { privilegedPorts: { start: 0, allowed: false } }],
    ['127.0.0.1:80', { privilegedPorts: { start: 80, allowed: false } }],
  ] as const) {
    assert.equal(await listenAddressProblem('listen.smtp', address, options), undefined, address);
  }
  // Linux's bind(2) refuses an address not this machine's before it looks at the port.
  assert.match(
    (await listenAddressProblem('listen.smtp', '192.0.2.1:25', { ...denied, nonLocalBind: () => false })) ?? '',
    /is not an address of this machine/,
  );
});

test('processPrivilegedPorts reads the kernel’s start and the effective capability', () => {
  const start = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]!;
  assert.deepEqual(processPrivilegedPorts(), {
    start,
    allowed: ((BigInt(`0x${capEff}`) >> 10n) & 1n) === 1n,
  });
});
