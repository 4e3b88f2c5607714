// The content all sessions hold in memory is bounded by one budget: past it, 452 4.3.1, and every
// way a transaction ends gives its share back.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ContentBudget } from '../../src/smtp/content-budget.ts';
import { renderReply, replies } from '../../src/smtp/replies.ts';
import { type Effect, SmtpSession } from '../../src/smtp/session.ts';
import { startTestServer } from '../support/server.ts';
import { sessionDefaults } from '../support/session-driver.ts';

/** A session whose checks all pass; message effects are kept, unanswered, in `held`. */
function client(budget: ContentBudget) {
  const session = new SmtpSession({ ...sessionDefaults, maxMessageSize: 10_000, contentBudget: budget });
  const codes: string[] = [];
  const held: Effect[] = [];
  const apply = (effects: Effect[]) => {
    for (const effect of effects) {
      if (effect.type === 'reply') codes.push(renderReply(effect.reply).slice(0, 9).trim());
      else if (effect.type === 'message') held.push(effect);
      else if (effect.type === 'check') {
        const outcome =
          effect.stage === 'rcpt'
            ? ({ action: 'continue', route: { kind: 'local', accountId: 1 } } as const)
            : ({ action: 'continue' } as const);
        apply(session.resolved(outcome));
      }
    }
  };
  apply(session.start());
  return {
    session,
    codes,
    held,
    send: (text: string) => apply(session.receive(Buffer.from(text, 'latin1'))),
    store: () => apply(session.resolved({ action: 'reply', reply: replies.queued('x') })),
  };
}

const body = (octets: number) => `${'a'.repeat(98)}\r\n`.repeat(Math.ceil(octets / 100));

test('content past the budget is read to its end and refused with 452 4.3.1; the budget comes back', () => {
  const budget = new ContentBudget(12_000);
  const a = client(budget);
  const b = client(budget);
  a.send('EHLO a.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n');
  a.send(body(8_000));
  assert.equal(budget.held, 8_000, 'counted as it arrives');
  b.send('EHLO b.example.net\r\nMAIL FROM:<b@example.net>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n');
  b.send(`${body(6_000)}.\r\n`);
  assert.equal(b.codes.at(-1), '452 4.3.1', 'the second message does not fit');
  assert.equal(budget.held, 8_000, "the refused message's share is given back at once");
  b.send('MAIL FROM:<b@example.net> SIZE=5000\r\n');
  assert.equal(b.codes.at(-1), '452 4.3.1', 'RFC 1870 §6.1: a declared size that does not fit now');
  b.send('MAIL FROM:<b@example.net> SIZE=3000\r\n');
  assert.equal(b.codes.at(-1), '250 2.1.0');
  b.send('RSET\r\n');

  a.send('.\r\n');
  assert.equal(a.held.length, 1, 'the message goes on to be stored');
  assert.equal(budget.held, 8_000, 'held while it is processed');
  a.store();
  assert.equal(a.codes.at(-1), '250 2.0.0');
  assert.equal(budget.held, 0, 'given back once its outcome is known');

  b.send('MAIL FROM:<b@example.net>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n');
  b.send(`${body(6_000)}.\r\n`);
  b.store();
  assert.equal(b.codes.at(-1), '250 2.0.0', 'room again');
  assert.equal(budget.held, 0);
});

test('a full budget refuses DATA before the content is sent; BDAT, RSET and a dropped connection give back', () => {
  const budget = new ContentBudget(10_000);
  const a = client(budget);
  a.send('EHLO a.example.net\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<x@example.com>\r\n');
  a.send(`BDAT 10000\r\n${body(10_000)}`);
  assert.equal(a.codes.at(-1), '250 2.0.0');
  assert.equal(budget.held, 10_000);
  const b = client(budget);
  b.send('EHLO b.example.net\r\nMAIL FROM:<b@example.net>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n');
  assert.equal(b.codes.at(-1), '452 4.3.1', 'no 354: the client keeps its message');
  b.send('QUIT\r\n');
  a.send('RSET\r\n');
  assert.equal(budget.held, 0, 'RSET ends the transaction');

  const c = client(budget);
  c.send('EHLO c.example.net\r\nMAIL FROM:<c@example.net>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n');
  c.send(body(5_000));
  assert.equal(budget.held, 5_000);
  c.session.released(); // the listener: the socket closed mid-DATA
  assert.equal(budget.held, 0);
  const d = client(budget);
  d.send('EHLO d.example.net\r\nMAIL FROM:<d@example.net>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n');
  d.send(body(5_000));
  d.session.abort(replies.timeout('mx.example.com'));
  assert.equal(budget.held, 0, 'a timeout ends it too');
});

test('a server: a client that hangs up mid-DATA gives its share back', async (t) => {
  const server = await startTestServer({ smtp: { maxMessageSize: 1_000_000, maxContentInMemory: 1_000_000 } });
  t.after(() => server.stop());
  const budget = server.contentBudget;
  const socket = net.connect(server.port, '127.0.0.1');
  const lines: string[] = [];
  socket.on('data', (d) => lines.push(String(d)));
  socket.write('EHLO c.example.net\r\n');
  for (let i = 0; i < 1000 && !lines.join('').includes('250 '); i++) await new Promise((r) => setTimeout(r, 5));
  socket.write('MAIL FROM:<c@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n'); // RFC 2920: after EHLO's reply
  for (let i = 0; i < 1000 && !lines.join('').includes('354'); i++) await new Promise((r) => setTimeout(r, 5));
  assert.match(lines.join(''), /354/);
  socket.write(body(300_000));
  for (let i = 0; i < 1000 && budget.held < 300_000; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(budget.held, 300_000, lines.join(''));
  socket.destroy();
  for (let i = 0; i < 1000 && budget.held > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(budget.held, 0);
});

test('a client that hangs up after its final dot: the share stays counted until the handler is done with it', async (t) => {
  const { SmtpListener } = await import('../../src/smtp/listener.ts');
  const { createLogger } = await import('../../src/log/logger.ts');
  const budget = new ContentBudget(100_000);
  let finish: () => void = () => {};
  const handlerDone = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let started = false;
  const { sessionId: _, ...session } = sessionDefaults;
  const listener = new SmtpListener({
    host: '127.0.0.1',
    port: 0,
    session: { ...session, contentBudget: budget },
    maxConnections: 10,
    idleTimeoutMs: 10_000,
    dataTimeoutMs: 10_000,
    logger: createLogger('silent'),
    handlers: {
      check: async (request) =>
        request.stage === 'rcpt'
          ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
          : { action: 'continue' },
      message: async (envelope) => {
        started = true;
        await handlerDone; // milters, the store: still reading the content
        return { action: 'reply', reply: replies.queued(envelope.id) };
      },
    },
  });
  const { port } = await listener.listen();
  t.after(() => listener.close(0));
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (d) => {
    text += d;
  });
  const waitFor = async (what: () => boolean) => {
    for (let i = 0; i < 1000 && !what(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(what());
  };
  await waitFor(() => text.includes('220 '));
  socket.write('EHLO c.example.net\r\n');
  await waitFor(() => /250 [^\r]*\r\n$/.test(text));
  socket.write('MAIL FROM:<c@example.net>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n');
  await waitFor(() => text.includes('354'));
  socket.end(`${body(8_000)}.\r\n`);
  await waitFor(() => started);
  socket.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(budget.held, 8_000, 'counted while the handler still holds the message');
  finish();
  await waitFor(() => budget.held === 0);
});

/** A connection from `localAddress` (another loopback address is another client); `reply()` reads the next reply. */
async function connectFrom(port: number, localAddress: string) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.setEncoding('latin1');
  let text = '';
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  const reply = async (): Promise<string> => {
    for (let i = 0; i < 1000; i++) {
      const end = /^\d{3} [^\r]*\r\n/m.exec(text);
      if (end) {
        const line = end[0].slice(0, 9);
        text = text.slice(end.index + end[0].length);
        return line;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`no reply: ${JSON.stringify(text)}`);
  };
  const command = (line: string) => {
    socket.write(`${line}\r\n`);
    return reply();
  };
  assert.equal(await reply(), '220 mx.ex');
  return { socket, reply, command };
}

test('one client holding content on four connections cannot take the budget from another client', async (t) => {
  const server = await startTestServer({ smtp: { maxMessageSize: 100_000, maxContentInMemory: 400_000 } });
  t.after(() => server.stop());
  const budget = server.contentBudget;
  const holders = await Promise.all(Array.from({ length: 4 }, () => connectFrom(server.port, '127.0.0.1')));
  t.after(() => {
    for (const h of holders) h.socket.destroy();
  });
  // Each sends most of a message of the largest size, and would then trickle its end forever.
  for (const h of holders) {
    assert.match(await h.command('EHLO holder.example'), /^250 /);
    assert.equal(await h.command('MAIL FROM:<a@example.net>'), '250 2.1.0');
    assert.equal(await h.command('RCPT TO:<alice@example.com>'), '250 2.1.5');
    assert.equal(await h.command('DATA'), '354 End d');
    h.socket.write(body(90_000));
  }
  await new Promise((r) => setTimeout(r, 200));
  // A quarter of the budget, or one message of the largest size: 100,000 octets for the first client.
  assert.ok(budget.held <= 100_000, `the first client holds ${budget.held} of ${budget.limit} octets`);

  const other = await connectFrom(server.port, '127.0.0.2');
  t.after(() => other.socket.destroy());
  assert.match(await other.command('EHLO other.example'), /^250 /);
  assert.equal(await other.command('MAIL FROM:<b@example.org> SIZE=90000'), '250 2.1.0', 'room for another client');
  assert.equal(await other.command('RCPT TO:<bob@example.com>'), '250 2.1.5');
  assert.equal(await other.command('DATA'), '354 End d');
  other.socket.write(`From: b@example.org\r\nSubject: other\r\n\r\n${body(90_000)}.\r\n`);
  assert.equal(await other.reply(), '250 2.0.0');
  assert.equal((await server.inbox('bob@example.com')).length, 1);

  // The first client's own transactions past its share get 452 4.3.1, once each is read to its end.
  for (const h of holders) h.socket.write('.\r\n');
  const ends = (await Promise.all(holders.map((h) => h.reply()))).sort();
  assert.deepEqual(ends, ['250 2.0.0', '452 4.3.1', '452 4.3.1', '452 4.3.1']);
});

test('a client reset during the error sleep gives its content share back', async (t) => {
  const server = await startTestServer({
    smtp: {
      maxMessageSize: 100_000,
      maxContentInMemory: 400_000,
      softErrorLimit: 1,
      errorSleepMs: 300,
      maxErrors: 100,
    },
  });
  t.after(() => server.stop());
  const budget = server.contentBudget;
  const c = await connectFrom(server.port, '127.0.0.1');
  assert.match(await c.command('EHLO c.example'), /^250 /);
  assert.equal(await c.command('MAIL FROM:<a@example.net>'), '250 2.1.0');
  assert.equal(await c.command('RCPT TO:<alice@example.com>'), '250 2.1.5');
  const chunk = body(5000);
  c.socket.write(`BDAT ${chunk.length}\r\n${chunk}`);
  assert.equal(await c.reply(), '250 2.0.0');
  assert.equal(budget.held, 5000);
  // Errors past softErrorLimit: the session sleeps before answering, and the client resets meanwhile.
  c.socket.write('BOGUS1\r\nBOGUS2\r\n');
  await new Promise((r) => setTimeout(r, 50));
  c.socket.resetAndDestroy();
  for (let i = 0; i < 200 && budget.held > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(budget.held, 0, 'was 5000 for good (the share of that client too)');
});
