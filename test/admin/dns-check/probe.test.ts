/**
 * The SMTP probe against small servers on loopback that each do one thing wrong, and the server checks'
 * judgement of what it saw.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import type { CheckContext } from '../../../src/admin/dns-check/context.ts';
import { type PortResult, type ProbeResult, probeServer } from '../../../src/admin/dns-check/probe.ts';
import { checkServer } from '../../../src/admin/dns-check/server.ts';
import { createTestCa, type TestCa } from '../../support/test-ca.ts';

type Behaviour = (socket: net.Socket) => void;

const servers: net.Server[] = [];
async function smtpServer(behaviour: Behaviour): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    behaviour(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}
after(async () => {
  for (const server of servers) {
    server.close();
  }
});

/** Answers EHLO with `extensions`; STARTTLS upgrades with `cert` (or hangs up when there is none). */
function esmtp(extensions: string[], cert?: { cert: string; key: string }): Behaviour {
  return (socket) => {
    socket.write('220 mx.example.com ESMTP\r\n');
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let end = buffer.indexOf('\r\n');
      while (end >= 0) {
        const line = buffer.slice(0, end).toUpperCase();
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\r\n');
        if (line.startsWith('EHLO')) {
          socket.write(
            ['mx.example.com', ...extensions]
              .map((e, i, all) => `250${i < all.length - 1 ? '-' : ' '}${e}\r\n`)
              .join(''),
          );
        } else if (line === 'STARTTLS') {
          socket.write('220 2.0.0 go ahead\r\n');
          socket.off('data', onData);
          if (!cert) {
            socket.end('not TLS at all\r\n');
            return;
          }
          const secure = new tls.TLSSocket(socket, { isServer: true, ...cert });
          secure.on('error', () => secure.destroy());
        } else if (line === 'QUIT') {
          socket.end('221 bye\r\n');
        }
      }
    };
    socket.on('data', onData);
  };
}

let ca: TestCa;
let good: { cert: string; key: string };
let wrongName: { cert: string; key: string };
before(async () => {
  ca = await createTestCa();
  good = await ca.issue(['mx.example.com']);
  wrongName = await ca.issue(['other.example.net']);
});

async function probeSmtp(port: number, timeoutMs = 2000): Promise<ProbeResult> {
  return probeServer('mx.example.com', ['smtp'], { host: '127.0.0.1', ports: { smtp: port }, ca: [ca.ca], timeoutMs });
}

function judge(result: ProbeResult, elsewhere: { address: string; smtp: PortResult }[] = []) {
  return checkServer({
    served: Promise.resolve(result),
    servedElsewhere: Promise.resolve(elsewhere),
    now: new Date(),
  } as Partial<CheckContext> as CheckContext);
}

test('STARTTLS offered and working: certificate chain seen and trusted', async () => {
  const result = await probeSmtp(await smtpServer(esmtp(['PIPELINING', 'STARTTLS'], good)));
  const [port] = result.ports;
  assert.equal(port?.answered, true);
  assert.deepEqual(port?.starttls, { offered: true });
  assert.equal(port?.certificate?.authorized, true);
  assert.deepEqual(
    (await judge(result)).map((c) => [c.id, c.status]),
    [
      ['server.port', 'pass'],
      ['server.starttls', 'pass'],
      ['server.certificate', 'pass'],
    ],
  );
});

test('no STARTTLS in the EHLO reply', async () => {
  const result = await probeSmtp(await smtpServer(esmtp(['PIPELINING', 'SIZE 1000'])));
  assert.deepEqual(result.ports[0]?.starttls, { offered: false });
  const checks = await judge(result);
  assert.deepEqual(
    checks.map((c) => [c.id, c.status]),
    [
      ['server.port', 'pass'],
      ['server.starttls', 'fail'],
    ],
  );
});

test('STARTTLS accepted, then no TLS', async () => {
  const result = await probeSmtp(await smtpServer(esmtp(['STARTTLS'])));
  assert.match(result.ports[0]?.starttls?.error ?? '', /TLS handshake failed/);
  assert.equal((await judge(result)).find((c) => c.id === 'server.starttls')?.status, 'fail');
});

test('a certificate for another name', async () => {
  const result = await probeSmtp(await smtpServer(esmtp(['STARTTLS'], wrongName)));
  const check = (await judge(result)).find((c) => c.id === 'server.certificate');
  assert.equal(check?.status, 'fail');
  assert.match(check?.summary ?? '', /does not name mx\.example\.com/);
});

test('a greeting other than 220', async () => {
  const result = await probeSmtp(await smtpServer((socket) => socket.end('554 5.3.2 not now\r\n')));
  assert.equal(result.ports[0]?.answered, false);
  assert.match(result.ports[0]?.error ?? '', /554/);
  assert.deepEqual(
    (await judge(result)).map((c) => [c.id, c.status]),
    [['server.port', 'fail']],
  );
});

test('a server that never greets', async () => {
  const result = await probeSmtp(await smtpServer(() => {}), 200);
  assert.equal(result.ports[0]?.answered, false);
  assert.match(result.ports[0]?.error ?? '', /no answer within 200 ms/);
});

test('a closed port', async () => {
  const port = await smtpServer(() => {});
  const server = servers.pop() as net.Server;
  await new Promise((resolve) => server.close(resolve));
  const result = await probeSmtp(port);
  assert.match(result.ports[0]?.error ?? '', /ECONNREFUSED/);
});

test('implicit TLS (465): the certificate is read before the greeting', async () => {
  const server = tls.createServer(good, (socket) => socket.end('220 mx.example.com ESMTP\r\n'));
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const result = await probeServer('mx.example.com', ['submissions'], {
      host: '127.0.0.1',
      ports: { submissions: port },
      ca: [ca.ca],
    });
    assert.equal(result.ports[0]?.answered, true);
    assert.equal(result.ports[0]?.starttls, undefined);
    assert.equal(result.ports[0]?.certificate?.authorized, true);
  } finally {
    server.close();
  }
});

test('another address this machine has no route to (no IPv6 here) is a could-not-check warning, not a failure', async () => {
  const result = await probeSmtp(await smtpServer(esmtp(['PIPELINING', 'STARTTLS'], good)));
  const noRoute: PortResult = {
    kind: 'smtp',
    port: 25,
    answered: false,
    error: 'connect ENETUNREACH 2001:db8::25:25',
    unreachableFromHere: true,
  };
  const refused: PortResult = { kind: 'smtp', port: 25, answered: false, error: 'connect ECONNREFUSED 192.0.2.26:25' };
  const checks = await judge(result, [
    { address: '2001:db8::25', smtp: noRoute },
    { address: '192.0.2.26', smtp: refused },
  ]);
  const byAddress = (address: string) => checks.find((c) => c.id === 'server.address' && c.subject === address);
  assert.equal(byAddress('2001:db8::25')?.status, 'warn');
  assert.match(byAddress('2001:db8::25')?.summary ?? '', /^could not check .* this machine has no route there/);
  assert.match(byAddress('2001:db8::25')?.fix ?? '', /from a machine with IPv6 connectivity/);
  assert.equal(byAddress('192.0.2.26')?.status, 'fail', 'a refusal is the server side: a failure');
});
