// The socket adapter on its own: what it tells the handlers about the peer, and that a session's
// logger is only made when the session has something to log at the configured level.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../src/config/load.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { createLogger, type Logger } from '../../src/log/logger.ts';
import { InboundPolicy } from '../../src/policy/inbound-policy.ts';
import type { Peer } from '../../src/smtp/envelope.ts';
import { type ListenerOptions, type SmtpHandlers, SmtpListener } from '../../src/smtp/listener.ts';
import { replies } from '../../src/smtp/replies.ts';
import { TransactionGauge } from '../../src/smtp/transaction-gauge.ts';
import { NullStore } from '../../src/store/null-store.ts';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { sessionDefaults } from '../support/session-driver.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

/** A logger whose lines, parsed, go to `lines`. */
function collectingLogger(level: string): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

/** A listener on an ephemeral loopback port that accepts everything; its log lines go to `lines`. */
async function startListener(level: string, overrides: Partial<ListenerOptions> = {}) {
  const { logger, lines } = collectingLogger(level);
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<Logger['child']>) => {
    children++;
    return child(...args);
  }) as Logger['child'];
  const peers: Peer[] = [];
  const { sessionId: _, ...session } = sessionDefaults;
  const listener = new SmtpListener({
    host: '127.0.0.1',
    port: 0,
    session,
    maxConnections: 10,
    idleTimeoutMs: 10_000,
    dataTimeoutMs: 10_000,
    logger,
    handlers: {
      check: (_request, peer) => {
        peers.push(peer);
        return { action: 'continue' };
      },
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
    ...overrides,
  });
  const { port } = await listener.listen();
  return { listener, port, lines, peers, children: () => children };
}

/** Sends each command after the previous reply; returns the replies' first lines. */
async function converse(port: number, commands: string[]): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buffered = '';
  const next = async (): Promise<string> => {
    // A reply ends with a line whose code is followed by a space (RFC 5321 §4.2.1).
    for (;;) {
      const end = buffered.search(/^\d{3} .*\r\n/m);
      if (end >= 0) {
        const lineEnd = buffered.indexOf('\r\n', end) + 2;
        const reply = buffered.slice(end, lineEnd - 2);
        buffered = buffered.slice(lineEnd);
        return reply;
      }
      const [chunk] = (await once(socket, 'data')) as [string];
      buffered += chunk;
    }
  };
  const out = [await next()];
  for (const command of commands) {
    socket.write(`${command}\r\n`);
    out.push(await next());
  }
  socket.end();
  await once(socket, 'close');
  return out;
}

test('the handlers see the peer: both ends of the connection, one session id', async () => {
  const { listener, port, peers } = await startListener('info');
  try {
    await converse(port, ['EHLO client.example', 'QUIT']);
    assert.ok(peers.length >= 2, 'connect and EHLO checks');
    const [peer] = peers;
    assert.equal(peer?.remoteAddress, '127.0.0.1');
    assert.ok((peer?.remotePort ?? 0) > 0);
    assert.equal(peer?.localAddress, '127.0.0.1');
    assert.equal(peer?.localPort, port);
    assert.ok(
      peers.every((p) => p === peer),
      'the same peer for every stage',
    );
  } finally {
    await listener.close(100);
  }
});

test("a session's logger is made only when the session logs", async () => {
  const { listener, port, lines, children } = await startListener('info');
  try {
    const clean = await converse(port, ['EHLO client.example', 'NOOP', 'QUIT']);
    assert.deepEqual(
      clean.map((r) => r.slice(0, 3)),
      ['220', '250', '250', '221'],
    );
    assert.equal(children(), 0, 'nothing to log at info: no child logger');
    const replies = await converse(port, ['EHLO client.example', 'BOGUS', 'QUIT']);
    assert.match(replies[2] ?? '', /^500 /);
    assert.equal(children(), 1, 'the 500 is logged at info through a child logger');
    const logged = lines.find((l) => String(l.msg).startsWith('5.5.2') || l.code === 500);
    assert.ok(logged, `the 500 is in the log: ${JSON.stringify(lines)}`);
    assert.match(String(logged.session), /\S/, 'with the session id');
    assert.equal(logged.client, '127.0.0.1', 'and the client, so one grep follows a client');
  } finally {
    await listener.close(100);
  }
});

test('at debug level every session logs its connection, with its session id', async () => {
  const { listener, port, lines, children } = await startListener('debug');
  try {
    await converse(port, ['QUIT']);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the close event logs "disconnected"
    assert.equal(children(), 1);
    const connected = lines.find((l) => l.msg === 'connected');
    assert.equal(connected?.client, '127.0.0.1');
    assert.ok(lines.some((l) => l.msg === 'disconnected' && l.session === connected?.session));
  } finally {
    await listener.close(100);
  }
});

test('a client that sends commands and never reads the replies: the replies waiting are bounded', async (t) => {
  // A command allowance past the burst: what is bounded here is the replies, not the commands.
  const { sessionId: _, ...session } = sessionDefaults;
  const { listener, port } = await startListener('silent', {
    session: { ...session, maxCommandsBeforeMail: 1_000_000 },
  });
  t.after(() => listener.close(1000));
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  client.pause(); // never read: the replies stay with the kernel, then with the server
  // Each EHLO reply is many times its command.
  const round = 'EHLO client.example\r\n'.repeat(40);
  const burst = Buffer.from(round.repeat(Math.ceil(8_000_000 / round.length)));
  let written = 0;
  for (let at = 0; at < burst.length; at += 65_536) {
    client.write(burst.subarray(at, at + 65_536));
    written += 65_536;
    if (client.writableLength > 4_000_000) break; // the server stopped reading: enough
  }
  const sockets = [...(listener as unknown as { connections: Set<{ socket: net.Socket }> }).connections].map(
    (c) => c.socket,
  );
  assert.equal(sockets.length, 1);
  // The server reads on while the kernel takes the replies (megabytes on loopback), then stops: wait
  // for that, however long a loaded machine takes, rather than a fixed time.
  let read = -1;
  for (let i = 0; i < 50 && (read !== sockets[0]!.bytesRead || !sockets[0]!.isPaused()); i++) {
    read = sockets[0]!.bytesRead;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const pending = sockets[0]!.writableLength;
  // Without the bound every reply waited in the server: tens of megabytes for 8 MB of commands.
  assert.ok(pending < 2_000_000, `${pending} octets of replies waiting after ${written} octets sent`);
  assert.ok(sockets[0]!.isPaused(), 'the server stopped reading');
  client.destroy();
});

test('a connection refused for maxConnections is closed even when the client keeps its side open', async (t) => {
  const { listener, port } = await startListener('silent');
  t.after(() => listener.close(1000));
  const held = await Promise.all(
    Array.from({ length: 10 }, async () => {
      const s = net.connect(port, '127.0.0.1');
      await once(s, 'data'); // the greeting: the slot is taken
      return s;
    }),
  );
  const refused = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const [reply] = (await once(refused, 'data')) as [Buffer];
  assert.match(reply.toString(), /^421 /);
  // The client never closes its side. Once the server has let go, a write from it is reset; a
  // server still holding its half of the connection would take it in silence.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  refused.on('error', () => {});
  const write = () =>
    new Promise<string>((resolve) =>
      refused.write('NOOP\r\n', (err) => resolve(err ? ((err as NodeJS.ErrnoException).code ?? 'error') : 'ok')),
    );
  await write(); // answered by a reset…
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(await write(), 'EPIPE', 'the server had closed the refused connection'); // …which the next write meets
  refused.destroy();
  for (const s of held) s.destroy();
});

test('a store that cannot answer is one log line with its reason; a bug keeps its stack', async () => {
  const unavailable = Object.assign(new Error('PostgreSQL refused a connection: too many connections'), {
    code: 'STORE_UNAVAILABLE',
  });
  const { listener, port, lines } = await startListener('info', {
    handlers: {
      check: async (request) => {
        if (request.stage === 'rcpt') {
          throw request.recipient.address.startsWith('bug') ? new TypeError('x is undefined') : unavailable;
        }
        return { action: 'continue' };
      },
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
  });
  try {
    const replies451 = await converse(port, [
      'EHLO client.example',
      'MAIL FROM:<a@example.net>',
      'RCPT TO:<b@example.com>',
      'RCPT TO:<bug@example.com>',
      'QUIT',
    ]);
    // The store named in the reply as in the log, with the words the end of data uses for it; a bug is ours.
    assert.equal(replies451[3], '451 4.3.0 Message store unavailable, try again later');
    assert.equal(replies451[4], '451 4.3.0 Local error in processing, try again later');
    const failures = lines.filter((l) => l.level === 50);
    assert.deepEqual(
      failures.map((l) => l.msg),
      ['store unavailable: PostgreSQL refused a connection: too many connections', 'handler failed'],
      'the store named as what failed; a bug as a failure of ours',
    );
    assert.equal(failures[0]?.reason, 'PostgreSQL refused a connection: too many connections');
    assert.equal(failures[0]?.err, undefined, 'no stack for a store that cannot answer');
    assert.equal(failures[0]?.client, '127.0.0.1');
    assert.match(String((failures[1]?.err as { stack?: string })?.stack), /TypeError: x is undefined/);
  } finally {
    await listener.close(0);
  }
});

test('a full store at RCPT answers 452 4.3.1 (RFC 3463 X.3.1) and tells storeFull; the end of data says the same', async (t) => {
  const full = Object.assign(new Error('the file system of /srv/mail is full: free space there'), {
    code: 'STORE_FULL',
  });
  let told = 0;
  const { listener, port, lines } = await startListener('info', {
    storeFull: () => told++,
    handlers: {
      check: async (request) => {
        if (request.stage === 'rcpt') throw full;
        return { action: 'continue' };
      },
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
  });
  t.after(() => listener.close(0));
  const said = await converse(port, [
    'EHLO client.example',
    'MAIL FROM:<a@example.net>',
    'RCPT TO:<b@example.com>',
    'RCPT TO:<c@example.com>',
    'QUIT',
  ]);
  assert.equal(said[3], '452 4.3.1 Insufficient system storage');
  assert.equal(said[4], '452 4.3.1 Insufficient system storage');
  assert.equal(told, 2, 'each full write has the free space asked again');
  assert.deepEqual(
    lines.filter((l) => l.level === 50).map((l) => l.msg),
    ['store unavailable: the file system of /srv/mail is full: free space there'],
  );
});

test("stress (Postfix's): a nearly full listener gives idle clients seconds instead of minutes, until it empties", async (t) => {
  const { listener, port, lines } = await startListener('info', { maxConnections: 10, stressTimeoutMs: 300 });
  t.after(() => listener.close(0));
  /** A connection that reads the greeting and then says nothing; `ended` tells what the server said last. */
  const idle = async () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    let said = '';
    socket.on('data', (chunk: string) => {
      said += chunk;
    });
    const ended = new Promise<string>((resolve) => socket.once('close', () => resolve(said)));
    await once(socket, 'data');
    return { socket, ended };
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const calm = await Promise.all(Array.from({ length: 5 }, idle));
  await sleep(700);
  assert.ok(
    calm.every((c) => !c.socket.destroyed),
    'five of ten: idle clients keep the normal timeout',
  );
  assert.ok(!lines.some((l) => String(l.msg).startsWith('under stress')));

  const more = await Promise.all(Array.from({ length: 3 }, idle)); // eight of ten: stress
  const stress = lines.find((l) => String(l.msg).startsWith('under stress'));
  assert.equal(stress?.level, 40);
  assert.match(String(stress?.msg), /8 of 10 connections; idle clients get 300 ms .* until fewer than 6 are open/);
  const said = await Promise.all([...calm, ...more].map((c) => c.ended));
  for (const text of said) assert.match(text, /^421 4\.4\.2 .*\r\n$/m, 'each is told why it is closed');
  await waitFor(() => lines.some((l) => l.msg === 'stress over: timeouts back to normal'));

  const after = await idle();
  await sleep(700);
  assert.ok(!after.socket.destroyed, 'the stress is over: the normal timeout again');
  after.socket.destroy();
});

test('implicit TLS: connections still in their handshake count toward maxConnections', async (t) => {
  const { cert, key } = await createSelfSignedCertificate({ hostnames: ['mx.example.com'], ips: ['127.0.0.1'] });
  const { listener, port, lines } = await startListener('info', {
    maxConnections: 3,
    tls: { mode: 'implicit', options: () => ({ cert, key }) },
  });
  t.after(() => listener.close(0));
  // Three that connect and never send a ClientHello: each holds a descriptor until the handshake timeout.
  const silent = await Promise.all(
    Array.from({ length: 3 }, async () => {
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      return socket;
    }),
  );
  t.after(() => {
    for (const s of silent) s.destroy();
  });
  const fourth = net.connect(port, '127.0.0.1');
  fourth.on('error', () => {});
  await once(fourth, 'close'); // closed by the server at once, not held for the handshake timeout
  await waitFor(() => lines.some((l) => l.msg === 'too many connections: closed before TLS'));
  for (const s of silent) s.destroy();
  // With the slots free again (the listener notices the closes a moment later) a real client is greeted.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  client.setEncoding('utf8');
  const [greeting] = (await once(client, 'data')) as [string];
  assert.match(greeting, /^220 /);
  client.destroy();
});

test('a store outage is one line however many sessions meet it, and one more when a message is stored again', async (t) => {
  let down = true;
  const unavailable = Object.assign(new Error('PostgreSQL: connection refused'), { code: 'STORE_UNAVAILABLE' });
  const { listener, port, lines } = await startListener('info', {
    handlers: {
      check: async () => ({ action: 'continue', route: { kind: 'local', accountId: 1 } }),
      message: async (envelope) => {
        if (down) throw unavailable;
        return { action: 'reply', reply: replies.queued(envelope.id) };
      },
    },
  });
  t.after(() => listener.close(0));
  const send = () =>
    converse(port, [
      'EHLO client.example',
      'MAIL FROM:<a@example.net>',
      'RCPT TO:<b@example.com>',
      'DATA',
      'Subject: x\r\n\r\nhi\r\n.',
      'QUIT',
    ]);
  for (let i = 0; i < 5; i++) assert.match((await send())[5] ?? '', /^451 /);
  const outage = lines.filter((l) => String(l.msg).startsWith('store'));
  assert.deepEqual(
    outage.map((l) => l.msg),
    ['store unavailable: PostgreSQL: connection refused'],
  );
  assert.equal(lines.filter((l) => l.code === 451).length, 5, "each session's 451 is still logged");
  down = false;
  assert.match((await send())[5] ?? '', /^250 /);
  assert.ok(lines.some((l) => /^store answers again after \d+ s and 5 failures$/.test(String(l.msg))));
});

test('implicit TLS: one client may have maxHandshakesPerClient handshakes under way; others still get in', async (t) => {
  const { cert, key } = await createSelfSignedCertificate({ hostnames: ['mx.example.com'], ips: ['127.0.0.1'] });
  const { listener, port, lines } = await startListener('info', {
    maxConnections: 10,
    maxHandshakesPerClient: 2,
    // 127.0.0.3 is in limits.exceptions: no per-client limit applies to it.
    clientOf: (address) => (address === '127.0.0.3' ? undefined : address),
    tls: { mode: 'implicit', options: () => ({ cert, key }) },
  });
  t.after(() => listener.close(0));
  const silent = await Promise.all(
    Array.from({ length: 2 }, async () => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
      await once(socket, 'connect');
      return socket;
    }),
  );
  t.after(() => {
    for (const s of silent) s.destroy();
  });
  const third = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
  third.on('error', () => {});
  await once(third, 'close'); // closed at once: its client has two handshakes under way
  await waitFor(() => lines.some((l) => l.msg === 'too many TLS handshakes from this client: closed'));
  // Another client (127.0.0.2) is not held back by the first one's handshakes.
  const from = (localAddress: string) =>
    tls.connect({ socket: net.connect({ port, host: '127.0.0.1', localAddress }), rejectUnauthorized: false });
  const other = from('127.0.0.2');
  other.setEncoding('utf8');
  const [greeting] = (await once(other, 'data')) as [string];
  assert.match(greeting, /^220 /);
  other.destroy();
  // An exempt client may have more handshakes under way than that.
  const exempt = await Promise.all(
    Array.from({ length: 3 }, async () => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' });
      await once(socket, 'connect');
      return socket;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(
    exempt.every((s) => !s.destroyed && !s.readableEnded),
    'none of the exempt client is closed',
  );
  for (const s of exempt) s.destroy();
  // A finished handshake frees its place: the first client gets in once one of its silent ones goes.
  silent[0]!.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const again = from('127.0.0.1');
  again.setEncoding('utf8');
  const [second] = (await once(again, 'data')) as [string];
  assert.match(second, /^220 /);
  again.destroy();
});

test('a large pipelined group behind a slow first check gets every reply, not a stall until the timeout', async (t) => {
  // The first MAIL check answers after a timer (a DNS look-up), the others at once (cached): the
  // group waits, then its replies come in one batch, past the bound on replies waiting to be written.
  let mails = 0;
  const { sessionId: _, ...session } = sessionDefaults;
  const { listener, port } = await startListener('silent', {
    session: { ...session, maxCommandsBeforeMail: 1_000_000 },
    handlers: {
      check: (request) =>
        request.stage === 'mail' && ++mails === 1
          ? new Promise((resolve) => setTimeout(() => resolve({ action: 'continue' }), 20))
          : { action: 'continue' },
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
  });
  t.after(() => listener.close(0));
  const client = net.connect(port, '127.0.0.1');
  t.after(() => client.destroy());
  client.setEncoding('latin1');
  let lines = 0;
  let tail = '';
  client.on('data', (chunk: string) => {
    const parts = (tail + chunk).split('\r\n');
    tail = parts.pop()!;
    lines += parts.length;
  });
  await waitFor(() => lines === 1); // the greeting
  client.write('EHLO client.example\r\n');
  await waitFor(() => tail === '' && lines > 2);
  const before = lines;
  const pairs = 9000;
  client.write('MAIL FROM:<a@example.net>\r\nRSET\r\n'.repeat(pairs));
  // Every reply, read as it comes; the server stopped reading while they waited, and must go on once
  // they are written, even when the kernel takes them whole and no 'drain' follows.
  await waitFor(() => lines - before >= 2 * pairs, 5000).catch(() => {});
  assert.equal(lines - before, 2 * pairs, 'a reply to every command');
});

test('stress: a command line or content trickled a byte at a time is cut; clients that make progress are not', async (t) => {
  const stressTimeoutMs = 1000;
  const { listener, port } = await startListener('silent', {
    maxConnections: 5,
    stressTimeoutMs,
    handlers: {
      check: (request) =>
        request.stage === 'rcpt'
          ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
          : { action: 'continue' },
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
  });
  t.after(() => listener.close(0));
  const timers: NodeJS.Timeout[] = [];
  const sockets: net.Socket[] = [];
  t.after(() => {
    for (const timer of timers) clearInterval(timer);
    for (const socket of sockets) socket.destroy();
  });
  /** A client past DATA (`data`) or at the greeting; `said` is what the server sent it. */
  const open = async (data: boolean) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => {}); // a write after the server cut it
    socket.setEncoding('latin1');
    const state = { said: '', closed: false };
    socket.on('data', (chunk: string) => {
      state.said += chunk;
    });
    socket.on('close', () => {
      state.closed = true;
    });
    await waitFor(() => state.said.includes('220 '));
    if (data) {
      socket.write('EHLO client.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n');
      await waitFor(() => state.said.includes('354 '));
    }
    return { socket, state };
  };
  const every = (ms: number, what: () => void) => timers.push(setInterval(what, ms));
  // Four of five connections: stress (80 %); three keep it on (60 %) once the slow ones are gone.
  const [slowLine, slowContent, talker, sender, other] = await Promise.all([
    open(false),
    open(true),
    open(false),
    open(true),
    open(false),
  ]);
  const started = Date.now();
  every(100, () => slowLine!.socket.write('N')); // a command line that never ends
  every(100, () => slowContent!.socket.write('x')); // content a byte at a time
  every(200, () => talker!.socket.write('NOOP\r\n')); // a command line complete every 200 ms
  every(200, () => other!.socket.write('NOOP\r\n'));
  let sent = 0;
  every(300, () => {
    // 1100 octets of content every 300 ms: more than the 1 KiB per timeout stress asks for.
    sent++;
    if (sent <= 6) sender!.socket.write(`${'x'.repeat(98)}\r\n`.repeat(11));
    else if (sent === 7) sender!.socket.write('.\r\n');
  });
  await waitFor(() => slowLine!.state.closed && slowContent!.state.closed, 3000).catch(() => {});
  const cutAfter = Date.now() - started;
  for (const slow of [slowLine!, slowContent!]) {
    assert.ok(slow.state.closed, `cut under stress though it sends a byte every 100 ms: ${slow.state.said}`);
    assert.match(slow.state.said, /^421 4\.4\.2 /m, 'told why');
  }
  assert.ok(cutAfter < 2 * stressTimeoutMs + 500, `cut within its record's deadline (${cutAfter} ms)`);
  await waitFor(() => sender!.state.said.includes('250 2.0.0 Ok: queued'), 5000);
  for (const kept of [talker!, sender!, other!]) assert.ok(!kept.state.closed, 'progress keeps a client');
  assert.doesNotMatch(talker!.state.said, /^421 /m);
});

/** A listener whose RCPTs are accepted and whose checks and stored messages are counted. */
async function countingListener(overrides: Partial<ListenerOptions> = {}) {
  const seen = { checks: [] as string[], messages: 0 };
  const started = await startListener('silent', {
    handlers: {
      check: (request) => {
        seen.checks.push(request.stage);
        return request.stage === 'rcpt'
          ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
          : { action: 'continue' };
      },
      message: async (envelope) => {
        seen.messages++;
        return { action: 'reply', reply: replies.queued(envelope.id) };
      },
    },
    ...overrides,
  });
  return { ...started, seen };
}

/** A raw client past EHLO, MAIL and RCPT; `said` is everything the server sent it. */
async function inTransactionOver(port: number, sockets: net.Socket[]) {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {}); // a write after the server cut it
  socket.setEncoding('latin1');
  const state = { said: '', closed: false };
  socket.on('data', (chunk: string) => {
    state.said += chunk;
  });
  socket.on('close', () => {
    state.closed = true;
  });
  await waitFor(() => state.said.includes('220 '));
  socket.write('EHLO client.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.com>\r\n');
  await waitFor(() => state.said.includes('250 2.1.5'));
  return { socket, state };
}

test('an over-long BDAT line: 500 5.5.2, 421 and close; its chunk is never read as commands (RFC 3030 §2)', async (t) => {
  const { listener, port, seen } = await countingListener();
  t.after(() => listener.close(0));
  const sockets: net.Socket[] = [];
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  const { state } = await inTransactionOver(port, sockets);
  const checksBefore = seen.checks.length;
  const chunk = 'RCPT TO:<x@example.com>\r\nQUIT\r\n';
  sockets[0]!.write(`BDAT ${'9'.repeat(600)} LAST\r\n${chunk}`);
  await waitFor(() => state.closed, 5000);
  const after = state.said.slice(state.said.indexOf('250 2.1.5'));
  assert.match(after, /^500 5\.5\.2 .*\r\n421 4\.5\.0 .*\r\n$/m, `refused, then closed: ${JSON.stringify(after)}`);
  assert.doesNotMatch(state.said, /^221 /m, "the chunk's QUIT was not run");
  assert.deepEqual(seen.checks.slice(checksBefore), [], "the chunk's RCPT was not run");
  assert.equal(seen.messages, 0);
});

test('minimum data rate: content trickled within each data timeout is cut at its deadline, 421 4.4.2, not stored', async (t) => {
  // dataTimeoutMs 1 s and the default 500 octets a second: a byte every 200 ms never leaves the socket
  // idle for a second, but must end by about 1 s + 2 ms per octet read.
  const { listener, port, seen } = await countingListener({ dataTimeoutMs: 1000 });
  t.after(() => listener.close(0));
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  t.after(() => {
    for (const timer of timers) clearInterval(timer);
    for (const socket of sockets) socket.destroy();
  });
  const data = await inTransactionOver(port, sockets);
  data.socket.write('DATA\r\n');
  await waitFor(() => data.state.said.includes('354 '));
  const bdat = await inTransactionOver(port, sockets);
  // BDAT: one octet per chunk, each chunk answered at once; the transaction's chunks are timed as one.
  const started = Date.now();
  timers.push(setInterval(() => data.socket.write('x'), 200));
  timers.push(setInterval(() => bdat.socket.write('BDAT 1\r\nx'), 200));
  await waitFor(() => data.state.closed && bdat.state.closed, 5000).catch(() => {});
  const cutAfter = Date.now() - started;
  for (const [name, client] of [
    ['DATA', data],
    ['BDAT', bdat],
  ] as const) {
    assert.ok(client.state.closed, `${name}: cut though a byte came every 200 ms: ${client.state.said}`);
    assert.match(client.state.said, /^421 4\.4\.2 .*slower than 500 octets a second/m, `${name}: told why`);
    assert.doesNotMatch(client.state.said, /^250 2\.0\.0 Ok: queued/m, `${name}: no 250 for the partial message`);
  }
  assert.match(bdat.state.said, /^250 2\.0\.0 1 octets received/m, 'the BDAT chunks before the deadline were taken');
  assert.ok(cutAfter < 3000, `cut near the 1 s deadline (${cutAfter} ms)`);
  assert.equal(seen.messages, 0, 'nothing stored');
});

test('minimum data rate: content faster than it may take longer than the data timeout; 0 turns it off', async (t) => {
  const { listener, port, seen } = await countingListener({ dataTimeoutMs: 1000 });
  t.after(() => listener.close(0));
  const off = await countingListener({ dataTimeoutMs: 1000, minDataRate: 0 });
  t.after(() => off.listener.close(0));
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  t.after(() => {
    for (const timer of timers) clearInterval(timer);
    for (const socket of sockets) socket.destroy();
  });
  const fast = await inTransactionOver(port, sockets);
  const trickle = await inTransactionOver(off.port, sockets);
  for (const client of [fast, trickle]) client.socket.write('DATA\r\n');
  await waitFor(() => fast.state.said.includes('354 ') && trickle.state.said.includes('354 '));
  const started = Date.now();
  let rounds = 0;
  // 500 octets every 200 ms, 2,500 a second: its deadline grows 1 s for each 500 octets read.
  timers.push(
    setInterval(() => {
      if (++rounds <= 10) fast.socket.write(`${'x'.repeat(98)}\r\n`.repeat(5));
      else if (rounds === 11) fast.socket.write('.\r\n');
    }, 200),
  );
  timers.push(setInterval(() => trickle.socket.write('x'), 200));
  await waitFor(() => fast.state.said.includes('250 2.0.0 Ok: queued'), 8000);
  assert.ok(Date.now() - started > 2000, 'longer than the data timeout in all');
  assert.equal(seen.messages, 1);
  // The trickle on the listener without a minimum rate outlives the 1 s + 2 ms per octet it would get.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2000 - (Date.now() - started))));
  assert.equal(trickle.state.closed, false, 'minDataRate 0: only the data timeout between reads');
  assert.doesNotMatch(trickle.state.said, /^421 /m);
});

test('greet delay: the per-client connection limits apply on accept, so one client cannot fill the listener while it waits', async (t) => {
  const policy = new InboundPolicy({
    config: parseConfig(
      { hostname: 'mx.example.com', domains: ['example.com'], limits: { maxConnectionsPerClient: 2 } },
      'test',
    ),
    // The default client list (reject_pregreet) asks no DNS; a closed port makes a stray query fail fast.
    resolver: createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 100, tries: 1 }),
    store: new NullStore([]),
    accounts: { findAccount: () => undefined },
    logger: createLogger('silent'),
  });
  t.after(() => policy.close());
  // The policy wired to the listener as the server wires it (src/server/inbound.ts).
  const handlers: SmtpHandlers = {
    admit: (peer) => policy.admit(peer),
    check: (request, peer) =>
      request.stage === 'connect' ? policy.connect(peer, request.pregreet, request.talked) : { action: 'continue' },
    message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    disconnected: (peer) => policy.disconnected(peer),
  };
  const delay = 600;
  const { listener, port } = await startListener('silent', { greetDelayMs: delay, maxConnections: 10, handlers });
  t.after(() => listener.close(0));
  const sockets: net.Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  const firstLine = (localAddress: string) =>
    new Promise<{ line: string; ms: number }>((resolve) => {
      const started = Date.now();
      const socket = net.connect({ port, host: '127.0.0.1', localAddress });
      sockets.push(socket);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\r\n')) resolve({ line: text.split('\r\n')[0]!, ms: Date.now() - started });
      });
      socket.on('error', (err) => resolve({ line: `error ${err.message}`, ms: Date.now() - started }));
    });
  const flood = await Promise.all(Array.from({ length: 10 }, () => firstLine('127.0.0.1')));
  const refused = flood.filter((r) => r.line.startsWith('421 4.7.0 mx.example.com Error: too many connections from'));
  const greeted = flood.filter((r) => r.line.startsWith('220 '));
  assert.equal(greeted.length, 2, JSON.stringify(flood));
  assert.equal(refused.length, 8, JSON.stringify(flood));
  assert.ok(
    refused.every((r) => r.ms < delay),
    'refused at once, not held for the delay',
  );
  // Another client still finds slots: the refused connections hold none.
  const other = await firstLine('127.0.0.2');
  assert.match(other.line, /^220 /);
  assert.ok(other.ms >= delay - 50, 'and the greeting still waits for the delay');
  // The two greeted connections are the client's whole count: once they close it may connect again.
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100)); // the server sees them close
  assert.match((await firstLine('127.0.0.1')).line, /^220 /);
});

test('the transaction gauge counts sessions between an accepted MAIL and the end of their transaction', async (t) => {
  const reported: number[] = [];
  const transactions = new TransactionGauge((open) => reported.push(open));
  let release: (() => void) | undefined;
  const { listener, port } = await startListener('warn', {
    transactions,
    handlers: {
      check: (request) =>
        request.stage === 'rcpt'
          ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
          : { action: 'continue' },
      message: async (envelope) => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { action: 'reply', reply: replies.queued(envelope.id) };
      },
    },
  });
  t.after(() => listener.close(100));
  const settled = (open: number) => waitFor(() => transactions.open === open);

  const { client: a } = await SmtpClient.open(port);
  t.after(() => a.close());
  assert.equal((await a.command('EHLO client.example.net')).code, 250);
  assert.equal((await a.command('MAIL FROM:<a@example.net>')).code, 250);
  await settled(1);
  assert.equal((await a.command('RSET')).code, 250);
  await settled(0);

  // A message: under way until its reply, which waits on the handler here.
  assert.equal((await a.command('MAIL FROM:<a@example.net>')).code, 250);
  assert.equal((await a.command('RCPT TO:<bob@example.com>')).code, 250);
  assert.equal((await a.command('DATA')).code, 354);
  const stored = a.command('Subject: hi\r\n\r\nhello\r\n.');
  await waitFor(() => release !== undefined);
  assert.equal(transactions.open, 1);
  release?.();
  assert.equal((await stored).code, 250);
  await settled(0);

  // Two sessions at once; one hangs up in the middle of its transaction.
  const { client: b } = await SmtpClient.open(port);
  assert.equal((await b.command('EHLO client.example.net')).code, 250);
  assert.equal((await b.command('MAIL FROM:<b@example.net>')).code, 250);
  assert.equal((await a.command('MAIL FROM:<a@example.net>')).code, 250);
  await settled(2);
  await b.close();
  await settled(1);
  assert.equal((await a.command('QUIT')).code, 221);
  await settled(0);
  await waitFor(() => reported.at(-1) === 0);
  assert.ok(reported.length > 0 && reported.every((n) => n >= 0 && n <= 2), `reported ${reported}`);
});

test('after its 221 or 421 a client that keeps sending is cut at the linger, and its slot is free', async (t) => {
  // Before, the linger was the socket's idle timer, which every byte read restarted: a client sending a
  // byte every 200 ms after its final reply held the connection, and the only place in maxConnections.
  const disconnected: number[] = [];
  const { listener, port } = await startListener('silent', {
    maxConnections: 1,
    session: { ...sessionDefaults, maxErrors: 1 },
    handlers: {
      check: () => ({ action: 'continue' }),
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
      disconnected: () => disconnected.push(performance.now()),
    },
  });
  t.after(() => listener.close(0));
  const timers: NodeJS.Timeout[] = [];
  const clients: SmtpClient[] = [];
  t.after(async () => {
    for (const timer of timers) clearInterval(timer);
    for (const client of clients) await client.close();
  });
  for (const [last, expected] of [
    ['QUIT', ['221 2.0.0']],
    ['BOGUS', ['500 5.5.1', '421 4.7.0']],
  ] as const) {
    const held = await SmtpClient.connect(port, '127.0.0.1', { allowHalfOpen: true });
    clients.push(held);
    assert.equal(codeOf(await held.read()), '220', `${last}: the slot was free`);
    held.send(`${last}\r\n`);
    assert.deepEqual((await held.readN(expected.length)).map(codeOf), expected, last);
    const finalReply = performance.now();
    const before = disconnected.length;
    timers.push(setInterval(() => held.send('NOOP\r\n'), 200));
    await waitFor(() => disconnected.length > before, 3_000).catch(() => {});
    assert.ok(disconnected.length > before, `${last}: the server still holds the connection after 3 s`);
    const cutAfter = disconnected[before]! - finalReply;
    assert.ok(cutAfter < 1_500, `${last}: cut ${Math.round(cutAfter)} ms after the final reply, not at the linger`);
    assert.doesNotMatch(
      (await held.readUntilClosed(1_000)).map(codeOf).join(),
      /250/,
      `${last}: nothing it sent after was answered`,
    );
  }
  const next = await SmtpClient.connect(port);
  clients.push(next);
  assert.equal(codeOf(await next.read()), '220', 'a new client gets the freed slot');
});

test('BDAT: a client silent between chunks gets the plain timeout, not "slower than" the data rate', async (t) => {
  // Between chunks the wait for the next BDAT command counts toward the content's deadline (README,
  // smtp.minDataRate); a client on pace that then sends nothing for the data timeout was not slow.
  const { listener, port, seen } = await countingListener({ dataTimeoutMs: 1000 });
  t.after(() => listener.close(0));
  const sockets: net.Socket[] = [];
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  const { socket, state } = await inTransactionOver(port, sockets);
  socket.write('BDAT 12\r\nSubject: x\r\n');
  await waitFor(() => state.said.includes('250 2.0.0 12 octets'));
  const started = Date.now();
  await waitFor(() => state.closed, 5_000);
  const after = state.said.slice(state.said.indexOf('12 octets'));
  assert.match(after, /^421 4\.4\.2 .*timeout exceeded, closing connection/m, `timed out: ${JSON.stringify(after)}`);
  assert.doesNotMatch(after, /slower than/, 'not told it was slow');
  const took = Date.now() - started;
  assert.ok(took >= 900 && took < 2_500, `at the content deadline, not the idle timeout (${took} ms)`);
  assert.equal(seen.messages, 0);
});
