/**
 * The standalone challenge responders hold few connections, and not for long: each is a file
 * descriptor the SMTP listeners need too (src/server/open-files.ts). Real sockets on 127.0.0.0/8, where
 * every address is loopback, so several client addresses can be used.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { Http01Challenges, startHttp01Server } from '../../../src/tls/acme/http-01.ts';
import type { ChallengeServer } from '../../../src/tls/acme/listen.ts';
import { ACME_TLS_ALPN, startTlsAlpn01Server, TlsAlpnChallenges } from '../../../src/tls/acme/tls-alpn-01.ts';
import { handshake } from '../tls-kit.ts';

/** The caps docs/tls.md gives: 64 connections in all, 16 from one client. */
const IN_ALL = 64;
const PER_CLIENT = 16;

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const NAME = 'mail.example.com';

type Context = { after(fn: () => unknown): void };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function http01(t: Context): Promise<ChallengeServer> {
  const challenges = new Http01Challenges();
  challenges.set(TOKEN, KEY_AUTHORIZATION);
  const server = await startHttp01Server('127.0.0.1:0', challenges);
  t.after(() => server.close());
  return server;
}

async function tlsAlpn01(t: Context): Promise<ChallengeServer> {
  const challenges = new TlsAlpnChallenges();
  await challenges.set(NAME, KEY_AUTHORIZATION);
  const server = await startTlsAlpn01Server('127.0.0.1:0', challenges);
  t.after(() => server.close());
  return server;
}

/** `count` idle TCP connections from `localAddress`, destroyed after the test. */
async function hold(t: Context, port: number, count: number, localAddress = '127.0.0.1'): Promise<net.Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  for (const socket of sockets) socket.on('error', () => {});
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  await sleep(300); // the server's closes arrive
  return sockets;
}

const stillOpen = (sockets: net.Socket[]) =>
  sockets.filter((socket) => !socket.destroyed && socket.readyState === 'open').length;

/** The CA's request for the token, from `localAddress`; rejects when the connection is closed instead. */
function fetchToken(port: number, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () =>
      socket.write(`GET /.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\nHost: ${NAME}\r\nConnection: close\r\n\r\n`),
    );
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => (reply ? resolve(reply) : reject(new Error('closed without a reply'))));
    socket.setTimeout(5_000, () => socket.destroy(new Error('no reply in 5 s')));
  });
}

/** Seconds until the server closes `socket`; Infinity when it is still open after `limitMs`. */
function closedAfter(socket: net.Socket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(Infinity);
      socket.destroy();
    }, limitMs);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve((Date.now() - started) / 1000);
    });
  });
}

test('http-01: one client holds 16 connections at most; others (and the CA) are still served', async (t) => {
  const server = await http01(t);
  const held = await hold(t, server.port, PER_CLIENT + 10);
  assert.equal(stillOpen(held), PER_CLIENT, 'the rest are closed as they are accepted');
  await assert.rejects(fetchToken(server.port), 'a 17th from the same address is closed too');
  assert.match(await fetchToken(server.port, '127.0.0.2'), /^HTTP\/1\.1 200 [\s\S]*\r\n\r\n[\s\S]*\.9jg46WB3/);
  for (const socket of held) socket.destroy();
  await sleep(100);
  assert.match(await fetchToken(server.port), /^HTTP\/1\.1 200 /, 'served again once they are gone');
});

test('http-01: 64 connections in all, whichever clients hold them', async (t) => {
  const server = await http01(t);
  const held: net.Socket[] = [];
  for (let client = 1; client <= IN_ALL / PER_CLIENT; client++) {
    held.push(...(await hold(t, server.port, PER_CLIENT, `127.0.0.${client}`)));
  }
  assert.equal(stillOpen(held), IN_ALL);
  const late = await hold(t, server.port, 1, '127.0.0.9');
  assert.equal(stillOpen(late), 0, 'a client of its own is refused once the responder is full');
  for (const socket of held.slice(0, 4)) socket.destroy();
  await sleep(100);
  assert.match(await fetchToken(server.port, '127.0.0.9'), /^HTTP\/1\.1 200 /);
});

test('http-01: silent, half-sent and trickled requests are closed within about 5 s, not half a minute', async (t) => {
  const server = await http01(t);
  const [silent, partial, trickle] = await hold(t, server.port, 3);
  partial!.write('GET /.well-known/acme-challenge/');
  trickle!.write('GET / HTTP/1.1\r\nX-Slow: ');
  // One byte every half second keeps the socket from ever being idle: only the headers' deadline ends it.
  let bytes = 0;
  const dripping = setInterval(() => {
    if (trickle!.destroyed || ++bytes > 40) clearInterval(dripping);
    else trickle!.write('a');
  }, 500);
  t.after(() => clearInterval(dripping));
  const seconds = await Promise.all([silent!, partial!, trickle!].map((socket) => closedAfter(socket, 10_000)));
  for (const [index, name] of ['silent', 'half-sent', 'trickled'].entries()) {
    assert.ok(seconds[index]! >= 4 && seconds[index]! < 8.5, `${name}: closed after ${seconds[index]} s`);
  }
});

test('tls-alpn-01: one client holds 16 connections at most; a validator elsewhere still gets its handshake', async (t) => {
  const server = await tlsAlpn01(t);
  const held = await hold(t, server.port, PER_CLIENT + 10);
  assert.equal(stillOpen(held), PER_CLIENT, 'the rest are closed as they are accepted');
  const validator = await handshake(server.port, {
    servername: NAME,
    ALPNProtocols: [ACME_TLS_ALPN],
    socket: net.connect({ port: server.port, host: '127.0.0.1', localAddress: '127.0.0.2' }),
  });
  assert.equal(validator.alpn, ACME_TLS_ALPN);
});

test('tls-alpn-01: a connection that never starts its handshake is closed after about 5 s', async (t) => {
  const server = await tlsAlpn01(t);
  const [silent] = await hold(t, server.port, 1);
  const seconds = await closedAfter(silent!, 10_000);
  assert.ok(seconds >= 4 && seconds < 8.5, `closed after ${seconds} s`);
});
