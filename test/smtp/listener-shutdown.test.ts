// The listener's shutdown and stress over real sockets on 127.0.0.1: what a session busy with a
// delay, a check or a message hears when the listener drains (RFC 5321 §3.8: 421 before closing),
// TLS handshakes under way, and Postfix's hard error limit of 1 under stress.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { createLogger } from '../../src/log/logger.ts';
import { InboundPolicy } from '../../src/policy/inbound-policy.ts';
import type { Peer } from '../../src/smtp/envelope.ts';
import { type ListenerOptions, type SmtpHandlers, SmtpListener } from '../../src/smtp/listener.ts';
import { replies } from '../../src/smtp/replies.ts';
import { NullStore } from '../../src/store/null-store.ts';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { sessionDefaults } from '../support/session-driver.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

type Line = Record<string, unknown>;

/** A listener on an ephemeral loopback port; its log lines, parsed, go to `lines`. */
async function startListener(overrides: Partial<ListenerOptions> = {}) {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const { sessionId: _, ...session } = sessionDefaults;
  const listener = new SmtpListener({
    host: '127.0.0.1',
    port: 0,
    session,
    maxConnections: 10,
    idleTimeoutMs: 10_000,
    dataTimeoutMs: 10_000,
    logger: createLogger('info', sink),
    handlers: {
      check: () => ({ action: 'continue' }),
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
    ...overrides,
  });
  const { port } = await listener.listen();
  return { listener, port, lines };
}

/** Resolves after `ms` without keeping the process alive for it (a check that would never end in time). */
const unrefSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** How long `promise` takes, in ms, or `Infinity` when it takes longer than `limitMs`. */
async function timed(promise: Promise<unknown>, limitMs: number): Promise<number> {
  const started = performance.now();
  const late = Symbol('late');
  const result = await Promise.race([promise.then(() => undefined), unrefSleep(limitMs).then(() => late)]);
  return result === late ? Number.POSITIVE_INFINITY : performance.now() - started;
}

test('shutdown: a TLS handshake under way on the implicit-TLS port ends at once, not at its timeout', async (t) => {
  const { cert, key } = await createSelfSignedCertificate({ hostnames: ['mx.example.com'], ips: ['127.0.0.1'] });
  const { listener, port, lines } = await startListener({
    tlsHandshakeTimeoutMs: 20_000,
    tls: { mode: 'implicit', options: () => ({ cert, key }) },
  });
  t.after(() => listener.close(0)); // a failed assertion leaves it open otherwise
  // Connects and never sends a ClientHello.
  const silent = net.connect(port, '127.0.0.1');
  silent.on('error', () => {});
  t.after(() => silent.destroy());
  await once(silent, 'connect');
  await new Promise((resolve) => setTimeout(resolve, 100)); // the listener has it in its handshake
  const closedByServer = once(silent, 'close');
  const took = await timed(listener.close(5_000), 3_000);
  assert.ok(took < 1_000, `close() took ${took} ms: the silent handshake held it`);
  await closedByServer;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(!lines.some((l) => l.phase === 'tls-handshake' && l.msg === 'timeout'), 'no timeout line after the fact');
});

test('shutdown: a client sleeping in the error sleep gets its replies, then 421 4.3.2, at once', async (t) => {
  const { listener, port } = await startListener({ softErrorLimit: 1, errorSleepMs: 20_000 });
  t.after(() => listener.close(0)); // a failed assertion leaves it open otherwise
  const { client } = await SmtpClient.open(port);
  t.after(() => client.close());
  assert.equal(codeOf(await client.command('BOGUS1')), '500 5.5.1');
  client.send('BOGUS2\r\n'); // the second error: past the soft limit, its reply waits 20 s
  await new Promise((resolve) => setTimeout(resolve, 200));
  const closing = listener.close(5_000);
  const started = performance.now();
  const said = await client.readUntilClosed(3_000);
  assert.deepEqual(said.map(codeOf), ['500 5.5.1', '421 4.3.2'], 'the pending reply, then why it closes');
  assert.ok(performance.now() - started < 1_000, 'not held for the sleep nor the grace');
  assert.ok((await timed(closing, 3_000)) < 3_000, 'the shutdown is not held either');
});

test("shutdown: a greeting waiting on a check gets 421 4.3.2 at once; a transaction's check in the tarpit, at the grace's end", async (t) => {
  const policy = new InboundPolicy({
    config: parseConfig(
      {
        hostname: 'mx.example.com',
        domains: ['example.com'],
        // From the second refusal on, each waits 20 s.
        tarpit: { threshold: 1, stepMs: 20_000, maxMs: 20_000 },
      },
      'test',
    ),
    resolver: createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 }),
    store: new NullStore([]),
    accounts: { findAccount: () => undefined },
    logger: createLogger('silent'),
  });
  t.after(() => policy.close());
  let slowNext = false;
  let slowGreeting: Peer | undefined;
  const handlers: SmtpHandlers = {
    check: (request, peer) => {
      if (request.stage === 'rcpt') return policy.recipient(peer, request.envelope, request.recipient);
      if (request.stage === 'connect' && slowNext) {
        slowGreeting = peer; // a DNS list that does not answer: the greeting waits on it
        return unrefSleep(20_000).then(() => ({ action: 'continue' }));
      }
      return { action: 'continue' };
    },
    message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
  };
  const { listener, port } = await startListener({ handlers });
  t.after(() => listener.close(0)); // a failed assertion leaves it open otherwise
  const { client: bot } = await SmtpClient.open(port);
  t.after(() => bot.close());
  slowNext = true; // the next connection's greeting waits
  assert.equal(codeOf(await bot.command('EHLO bot.example')), '250');
  assert.equal(codeOf(await bot.command('MAIL FROM:<a@example.net>')), '250 2.1.0');
  assert.equal(codeOf(await bot.command('RCPT TO:<x@example.org>')), '554 5.7.1');
  bot.send('RCPT TO:<y@example.org>\r\n'); // its refusal waits in the tarpit
  const waiting = await SmtpClient.connect(port);
  t.after(() => waiting.close());
  await waitFor(() => slowGreeting !== undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const closing = listener.close(1_500);
  const started = performance.now();
  assert.deepEqual((await waiting.readUntilClosed(3_000)).map(codeOf), ['421 4.3.2'], 'no 220 after it');
  assert.ok(performance.now() - started < 1_000, 'at once, not at the end of the grace');
  // In a transaction a check keeps the grace (an honest sender's DNS list looks the same from here),
  // and the 20 s delay is cut with 421 when it ends, not waited for.
  assert.deepEqual((await bot.readUntilClosed(4_000)).map(codeOf), ['421 4.3.2'], 'the delayed 554 is not waited for');
  const cutAt = performance.now() - started;
  assert.ok(cutAt > 1_200 && cutAt < 3_000, `at the grace's end (${Math.round(cutAt)} ms)`);
  assert.ok((await timed(closing, 3_000)) < 3_000);
});

test('shutdown: a RCPT check under way in a transaction finishes within the grace: its 250, not 421', async (t) => {
  // Before, every session waiting on a check was answered 421 the moment draining began, and a sender
  // whose RCPT waited on a DNS list or an account look-up deferred mail that would have gone through.
  const handlers: SmtpHandlers = {
    check: async (request) => {
      if (request.stage !== 'rcpt') return { action: 'continue' };
      await new Promise((resolve) => setTimeout(resolve, 400));
      return { action: 'continue', route: { kind: 'local', accountId: 1 } };
    },
    message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
  };
  const { listener, port } = await startListener({ handlers });
  t.after(() => listener.close(0));
  const { client } = await SmtpClient.open(port);
  t.after(() => client.close());
  assert.equal(codeOf(await client.command('EHLO client.example')), '250');
  assert.equal(codeOf(await client.command('MAIL FROM:<a@example.net>')), '250 2.1.0');
  const rcpt = client.command('RCPT TO:<b@example.com>');
  await new Promise((resolve) => setTimeout(resolve, 100)); // the check is under way
  const closing = listener.close(3_000);
  assert.equal(codeOf(await rcpt), '250 2.1.5');
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal(codeOf(await client.command('Subject: x\r\n\r\nhi\r\n.')), '250 2.0.0');
  assert.ok((await timed(closing, 5_000)) < 5_000);
});

test('shutdown: a message still in its checks when the grace ends gets 421, is not stored, and one line says so', async (t) => {
  const { cert, key } = await createSelfSignedCertificate({ hostnames: ['mx.example.com'], ips: ['127.0.0.1'] });
  const stored: string[] = [];
  let entered: Peer | undefined;
  /** What the handler saw when the listener destroyed the connection: was the client already gone? */
  let goneAtDestroy: boolean | undefined;
  const handlers: SmtpHandlers = {
    check: (request) =>
      request.stage === 'rcpt'
        ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
        : { action: 'continue' },
    message: async (envelope, _content, peer) => {
      entered = peer;
      // The checks run until the listener destroys the connection, and end in the very next turn:
      // before the socket's 'close'. The handler stores unless the client is gone (src/server/inbound.ts).
      const socket = peer.tlsSocket!;
      const deadline = Date.now() + 10_000;
      while (!socket.destroyed && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
      goneAtDestroy = peer.gone === true;
      if (peer.gone) return { action: 'reply', reply: replies.localError() };
      stored.push(envelope.id);
      return { action: 'reply', reply: replies.queued(envelope.id) };
    },
  };
  const { listener, port, lines } = await startListener({
    handlers,
    tls: { mode: 'implicit', options: () => ({ cert, key }) },
  });
  t.after(() => listener.close(0)); // a failed assertion leaves it open otherwise
  const { client } = await SmtpClient.openTls(port);
  t.after(() => client.close());
  for (const [command, code] of [
    ['EHLO client.example', '250'],
    ['MAIL FROM:<a@example.net>', '250 2.1.0'],
    ['RCPT TO:<b@example.com>', '250 2.1.5'],
    ['DATA', '354'],
  ] as const) {
    assert.equal(codeOf(await client.command(command)), code);
  }
  client.send('Subject: x\r\n\r\nhi\r\n.\r\n');
  await waitFor(() => entered !== undefined);
  await listener.close(200);
  await waitFor(() => goneAtDestroy !== undefined, 3_000);
  assert.equal(goneAtDestroy, true, 'gone once the connection is destroyed, not only at its close event');
  assert.deepEqual(stored, [], 'not stored: the client never hears a 250, and sends it again');
  assert.deepEqual((await client.readUntilClosed(3_000)).map(codeOf), ['421 4.3.2'], 'why, not silence');
  const cut = lines.filter((l) => String(l.msg).startsWith('shutdown: message cut before it was stored'));
  assert.equal(cut.length, 1);
  assert.equal(cut[0]!.code, 421);
  assert.equal(typeof cut[0]!.id, 'string');
  assert.equal(lines.filter((l) => l.code === 421).length, 1, 'one line, the 421 not logged again');
});

test("stress: the hard error limit is 1 (Postfix's), and no error sleep holds the slot", async (t) => {
  let rcptChecks = 0;
  const { listener, port, lines } = await startListener({
    maxConnections: 10,
    stressTimeoutMs: 5_000,
    softErrorLimit: 1,
    errorSleepMs: 20_000,
    handlers: {
      check: async (request) => {
        if (request.stage !== 'rcpt') return { action: 'continue' };
        rcptChecks++;
        return request.recipient.domain === 'example.com'
          ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
          : { action: 'reject', reply: replies.relayDenied(request.recipient.address) };
      },
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
  });
  const clients: SmtpClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close();
    await listener.close(0);
  });
  const open = async () => {
    const { client } = await SmtpClient.open(port);
    clients.push(client);
    return client;
  };
  // Before stress: an error is answered and the session goes on.
  const early = await open();
  assert.equal(codeOf(await early.command('BOGUS')), '500 5.5.1');
  assert.equal(codeOf(await early.command('NOOP')), '250 2.0.0');
  for (let i = 0; i < 7; i++) await open(); // eight of ten: stress
  await waitFor(() => lines.some((l) => String(l.msg).startsWith('under stress')));

  // Its second error would sleep 20 s (softErrorLimit 1): under stress it closes at once instead.
  early.send('BOGUS\r\n');
  const started = performance.now();
  assert.deepEqual((await early.readUntilClosed(3_000)).map(codeOf), ['500 5.5.1', '421 4.7.0']);
  assert.ok(performance.now() - started < 1_000, 'no error sleep first');
  assert.ok(lines.some((l) => String(l.msg).startsWith('under stress: closed at its first error')));

  // A refused recipient closes a fresh session too; what was pipelined behind it is never checked.
  const bot = await open();
  assert.equal(codeOf(await bot.command('EHLO bot.example')), '250');
  bot.send('MAIL FROM:<a@example.net>\r\nRCPT TO:<x@example.org>\r\nRCPT TO:<b@example.com>\r\n');
  assert.deepEqual((await bot.readUntilClosed(3_000)).map(codeOf), ['250 2.1.0', '554 5.7.1', '421 4.7.0']);
  assert.equal(rcptChecks, 1, 'the recipient behind the error is not checked');
});

test('shutdown: commands pipelined behind the end of a transaction start no new one: 421 4.3.2 instead', async (t) => {
  // RFC 2920 lets a client pipeline its next MAIL behind the end of data, or behind RSET. Before, a
  // draining session ran them (its input was not empty when the transaction ended), and a new
  // transaction began during the shutdown: 250 to the MAIL, and a 421 only at the grace's end.
  const handlers: SmtpHandlers = {
    check: (request) =>
      request.stage === 'rcpt'
        ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
        : { action: 'continue' },
    message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
  };
  const next = 'MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n';
  for (const [end, expected] of [
    ['.', ['250 2.0.0', '421 4.3.2']], // the message answered
    ['RSET', ['250 2.0.0', '421 4.3.2']], // RSET's 250, after a MAIL
  ] as const) {
    const { listener, port } = await startListener({ handlers });
    t.after(() => listener.close(0));
    const { client } = await SmtpClient.open(port);
    t.after(() => client.close());
    assert.equal(codeOf(await client.command('EHLO client.example')), '250');
    if (end === '.') {
      client.send(next);
      assert.deepEqual((await client.readN(3)).map(codeOf), ['250 2.1.0', '250 2.1.5', '354']);
      client.send('Subject: one\r\n\r\nfirst\r\n');
    } else assert.equal(codeOf(await client.command('MAIL FROM:<a@example.net>')), '250 2.1.0');
    const closing = listener.close(3_000);
    await new Promise((resolve) => setTimeout(resolve, 100)); // draining, the transaction still open
    client.send(`${end}\r\n${next}`);
    const said = (await client.readUntilClosed(3_000)).map(codeOf);
    assert.deepEqual(said, expected, `${end}: ${said.join(', ')}`);
    assert.ok((await timed(closing, 3_000)) < 1_500, `${end}: the shutdown did not wait for the grace`);
  }
});
