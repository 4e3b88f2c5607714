// Ports bound before the server gives root up, then taken over by the listeners they are for: a client
// that connected in between is served, with what it sent meanwhile; a port nothing took is closed.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { ConfigError, listenAddresses, parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { EarlyPorts } from '../../src/server/early-ports.ts';
import { SmtpListener } from '../../src/smtp/listener.ts';
import { replies } from '../../src/smtp/replies.ts';
import { Http01Challenges, startHttp01Server } from '../../src/tls/acme/http-01.ts';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { readUntil } from '../support/read-until.ts';
import { sessionDefaults } from '../support/session-driver.ts';

const silent = createLogger('silent');

function smtpListener(takeOver: ReturnType<EarlyPorts['takeOver']>, tlsOptions?: tls.TlsOptions) {
  const { sessionId: _, ...session } = sessionDefaults;
  return new SmtpListener({
    host: '127.0.0.1',
    port: 0,
    session: tlsOptions ? { ...session, tls: 'implicit' } : session,
    maxConnections: 10,
    idleTimeoutMs: 10_000,
    dataTimeoutMs: 10_000,
    logger: silent,
    ...(tlsOptions ? { tls: { mode: 'implicit' as const, options: () => tlsOptions } } : {}),
    ...(takeOver ? { takeOver } : {}),
    handlers: {
      check: () => ({ action: 'continue' }),
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** `key` bound early on a loopback port free now (found by binding port 0 and closing it). */
async function bindOne(key: string): Promise<{ ports: EarlyPorts; port: number }> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const ports = await EarlyPorts.bind(new Map([[key, `127.0.0.1:${port}`]]));
  return { ports, port };
}

/** A loopback port another server holds (until the test ends) and one free now. */
async function takenAndFree(t: { after(fn: () => unknown): void }): Promise<{ takenPort: number; free: number }> {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const { ports: probe, port: free } = await bindOne('listen.smtp');
  await probe.closeUnused();
  return { takenPort: (taken.address() as net.AddressInfo).port, free };
}

test('an SMTP client that connected and sent before the take-over is greeted and answered on the same port', async (t) => {
  const { ports, port } = await bindOne('listen.smtp');
  const early = net.connect(port, '127.0.0.1');
  t.after(() => early.destroy());
  await once(early, 'connect');
  early.write('EHLO early.example.net\r\n'); // pipelined before the greeting: held unread meanwhile
  await new Promise((resolve) => setTimeout(resolve, 100));
  const listener = smtpListener(ports.takeOver('listen.smtp'));
  t.after(() => listener.close(0));
  assert.deepEqual(await listener.listen(), { address: '127.0.0.1', port });
  const text = await readUntil(early, /^250 /m);
  assert.match(text, /^220 /, 'greeted once taken over');
  assert.match(text, /^250-mx\.example\.com/m, 'and what it sent while waiting was read');
  const late = net.connect(port, '127.0.0.1');
  t.after(() => late.destroy());
  assert.match(await readUntil(late, /^220 /m), /^220 /, 'a later client is accepted by the listener itself');
  await ports.closeUnused(); // taken: not closed by this
  assert.equal(await refused(port), false);
});

test('implicit TLS: a client whose handshake began before the take-over completes it', async (t) => {
  const { cert, key } = await createSelfSignedCertificate({ hostnames: ['mx.example.com'], ips: ['127.0.0.1'] });
  const { ports, port } = await bindOne('listen.submissions');
  const early = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'mx.example.com' });
  t.after(() => early.destroy());
  early.on('error', () => {});
  await new Promise((resolve) => setTimeout(resolve, 100)); // the ClientHello waits, unread
  const listener = smtpListener(ports.takeOver('listen.submissions'), { cert, key });
  t.after(() => listener.close(0));
  await listener.listen();
  await once(early, 'secureConnect');
  assert.match(await readUntil(early, /^220 /m), /^220 /);
});

test('the ACME http-01 responder takes over its port, and a request sent before is answered', async (t) => {
  const { ports, port } = await bindOne('tls.acme.http01.listen');
  const early = net.connect(port, '127.0.0.1');
  t.after(() => early.destroy());
  await once(early, 'connect');
  early.write('GET /.well-known/acme-challenge/none HTTP/1.1\r\nHost: mx.example.com\r\nConnection: close\r\n\r\n');
  const responder = await startHttp01Server(
    `127.0.0.1:${port}`,
    new Http01Challenges(),
    ports.takeOver('tls.acme.http01.listen'),
  );
  t.after(() => responder.close());
  assert.equal(responder.port, port);
  assert.match(await readUntil(early, /no such challenge/), /^HTTP\/1\.1 404 /);
});

test('closing a responder cuts the clients it was handed at the take-over too', async (t) => {
  const { ports, port } = await bindOne('tls.acme.http01.listen');
  const early = net.connect(port, '127.0.0.1');
  early.on('error', () => {});
  t.after(() => early.destroy());
  await once(early, 'connect');
  early.write('GET /.well-known/acme-challenge/'); // half a request: HTTP would wait 10 s for the rest
  const responder = await startHttp01Server(
    `127.0.0.1:${port}`,
    new Http01Challenges(),
    ports.takeOver('tls.acme.http01.listen'),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closed = once(early, 'close').then(() => 'closed');
  await responder.close();
  const outcome = await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve('open'), 2000))]);
  assert.equal(outcome, 'closed');
});

test('ports nothing took are closed with their waiting clients; a taken one closes with its listener', async (t) => {
  const { ports, port } = await bindOne('listen.submission');
  const waiting = net.connect(port, '127.0.0.1');
  waiting.on('error', () => {});
  await once(waiting, 'connect');
  await ports.closeUnused();
  await once(waiting, 'close');
  assert.equal(await refused(port), true);
  assert.equal(ports.takeOver('listen.smtp'), undefined, 'a key not bound early: the listener binds itself');

  const second = await bindOne('listen.smtp');
  const listener = smtpListener(second.ports.takeOver('listen.smtp'));
  await listener.listen();
  const again = smtpListener(second.ports.takeOver('listen.smtp'));
  await assert.rejects(again.listen(), /listen\.smtp: its port was taken over already/);
  await listener.close(0);
  t.after(() => second.ports.closeUnused());
  assert.equal(await refused(second.port), true, 'closing the listener closes the port it took');
});

test('a deferred port (a submission listener waiting for its certificate) outlives closeUnused, for a take-over later', async (t) => {
  const { ports, port } = await bindOne('listen.submissions');
  const waiting = net.connect(port, '127.0.0.1');
  waiting.on('error', () => {});
  await once(waiting, 'connect');
  const release = ports.defer('listen.submissions');
  await once(waiting, 'close'); // held clients go at once: the certificate may take long
  await ports.closeUnused();
  assert.equal(await refused(port), false, 'still bound: binding it again would need root');
  const meanwhile = net.connect(port, '127.0.0.1');
  meanwhile.on('error', () => {});
  await once(meanwhile, 'close');
  const listener = smtpListener(ports.takeOver('listen.submissions'));
  t.after(() => listener.close(0));
  assert.deepEqual(await listener.listen(), { address: '127.0.0.1', port });
  const client = net.connect(port, '127.0.0.1');
  t.after(() => client.destroy());
  assert.match(await readUntil(client, /^220 /m), /^220 /, 'the listener took it over');
  await release(); // taken: not closed by this

  // Never taken (the server stops first): the closer gives the port back.
  const second = await bindOne('listen.submission');
  const releaseSecond = second.ports.defer('listen.submission');
  await second.ports.closeUnused();
  assert.equal(await refused(second.port), false);
  await releaseSecond();
  assert.equal(await refused(second.port), true);
});

test('a port that cannot be bound stops the start naming the key, and gives back those already bound', async (t) => {
  const { takenPort, free } = await takenAndFree(t);
  for (const [key, hint] of [
    ['mtaSts.listen', 'is another server running?'],
    ['tls.acme.http01.listen', 'a web server on port 80 can pass /.well-known/acme-challenge/'],
  ] as const) {
    const error = await EarlyPorts.bind(
      new Map([
        ['listen.smtp', `127.0.0.1:${free}`],
        [key, `127.0.0.1:${takenPort}`],
      ]),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(
      error.message.startsWith(`${key}: 127.0.0.1:${takenPort} is in use by another program (${hint}`),
      error.message,
    );
    assert.equal(await refused(free), true, 'the port bound before the failure is closed again');
  }
});

test('a submission port another program holds stops no start: its listener may stay off (no certificate)', async (t) => {
  const { takenPort, free } = await takenAndFree(t);
  const ports = await EarlyPorts.bind(
    new Map([
      ['listen.smtp', `127.0.0.1:${free}`],
      ['listen.submission', `127.0.0.1:${takenPort}`],
      ['listen.submissions', `127.0.0.1:${takenPort}`],
    ]),
  );
  t.after(() => ports.closeUnused());
  assert.notEqual(ports.takeOver('listen.smtp'), undefined);
  assert.equal(await refused(free), false, 'the SMTP port is held');
  // A submission listener that does start then says what was wrong at the start, not EACCES.
  const listener = smtpListener(ports.takeOver('listen.submission'));
  await assert.rejects(
    listener.listen(),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message ===
        `listen.submission: 127.0.0.1:${takenPort} is in use by another program (is another server running?)`,
  );
});

test('clients past maxWaiting are closed at once; those held are all served after the take-over', async (t) => {
  const { ports: probe, port } = await bindOne('listen.smtp');
  await probe.closeUnused();
  const ports = await EarlyPorts.bind(new Map([['listen.smtp', `127.0.0.1:${port}`]]), { maxWaiting: 3 });
  t.after(() => ports.closeUnused());
  const clients = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      return socket;
    }),
  );
  t.after(() => {
    for (const socket of clients) socket.destroy();
  });
  const closedAtOnce = await Promise.all(
    clients.map((socket) =>
      Promise.race([
        once(socket, 'close').then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300)),
      ]),
    ),
  );
  assert.equal(closedAtOnce.filter(Boolean).length, 2);
  const listener = smtpListener(ports.takeOver('listen.smtp'));
  t.after(() => listener.close(0));
  await listener.listen();
  const held = clients.filter((_, index) => !closedAtOnce[index]);
  const greetings = await Promise.all(held.map((socket) => readUntil(socket, /^220 /m)));
  assert.equal(greetings.length, 3);
});

test('listenAddresses names every listener serve binds, by config key', () => {
  const config = parseConfig(
    {
      hostname: 'mx.example.com',
      domains: ['example.com'],
      listen: { smtp: '0.0.0.0:25', submission: '0.0.0.0:587', submissions: null },
      mtaSts: { listen: '0.0.0.0:443' },
      tls: {
        acme: {
          directory: 'https://acme.example/dir',
          termsOfServiceAgreed: true,
          http01: { listen: '0.0.0.0:80' },
        },
      },
    },
    'test',
  );
  assert.deepEqual(
    [...listenAddresses(config)],
    [
      ['listen.smtp', '0.0.0.0:25'],
      ['listen.submission', '0.0.0.0:587'],
      ['mtaSts.listen', '0.0.0.0:443'],
      ['tls.acme.http01.listen', '0.0.0.0:80'],
    ],
  );
  assert.equal(portOf(config.listen.smtp), 25);
});
