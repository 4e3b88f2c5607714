// The SMTP log under a client that keeps reconnecting: a budget of lines per client across its
// connections, the pre-session throttle's count always said, and one line per event.
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { ClientLogBudget } from '../../src/log/client-budget.ts';
import { createLogger, type Logger } from '../../src/log/logger.ts';
import { type ListenerOptions, SmtpListener } from '../../src/smtp/listener.ts';
import { replies, reply } from '../../src/smtp/replies.ts';
import { sessionDefaults } from '../support/session-driver.ts';
import { waitFor } from '../support/wait.ts';

type Line = Record<string, unknown>;

function collectingLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

async function startListener(overrides: Partial<ListenerOptions> = {}, logger = collectingLogger()) {
  const { sessionId: _, ...session } = sessionDefaults;
  const listener = new SmtpListener({
    host: '127.0.0.1',
    port: 0,
    session,
    maxConnections: 50,
    idleTimeoutMs: 10_000,
    dataTimeoutMs: 10_000,
    logger: logger.logger,
    handlers: {
      check: () => ({ action: 'continue' }),
      message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
    },
    ...overrides,
  });
  const { port } = await listener.listen();
  return { listener, port, lines: logger.lines };
}

/** Connects, writes `script` at once, reads until the server closes. */
function run(port: number, script: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(script));
    socket.on('error', () => {});
    socket.resume();
    socket.once('close', () => resolve());
  });
}

const refusals = (lines: Line[]) => lines.filter((l) => typeof l.code === 'number' && (l.code as number) >= 400);

test('a client that reconnects: its refusals past the budget are one summary line, written when the window ends', async (t) => {
  const logged = collectingLogger();
  const clientLog = new ClientLogBudget(logged.logger, { linesPerWindow: 5, windowMs: 400 });
  const { listener, port, lines } = await startListener({ clientLog }, logged);
  t.after(async () => {
    await listener.close(0);
    clientLog.close();
  });
  // Ten connections, two refusals each (500 and 503): twenty refusal lines without a budget.
  for (let i = 0; i < 10; i++) await run(port, 'EHLO client.example\r\nFOO\r\nRCPT TO:<a@example.com>\r\nQUIT\r\n');
  assert.equal(refusals(lines).length, 5, 'the budget, across connections');
  // The client goes quiet: the summary still comes, when the window ends.
  await waitFor(() => lines.some((l) => l.notLogged !== undefined), 2000);
  const summary = lines.find((l) => l.notLogged !== undefined);
  assert.equal(summary?.client, '127.0.0.1');
  assert.equal(summary?.notLogged, 15, 'every refusal is either logged or counted');
  assert.match(String(summary?.msg), /^client 127\.0\.0\.1: 15 more lines not logged/);
  // A new window: the client's next refusal is a line again.
  await run(port, 'EHLO client.example\r\nFOO\r\nQUIT\r\n');
  assert.equal(refusals(lines).length, 6);
});

test('a client no limit applies to is never held back; a listener closing says what its own budget held', async () => {
  const { listener, port, lines } = await startListener({ clientOf: () => undefined });
  const nineteen = `EHLO c.example\r\n${'FOO\r\n'.repeat(19)}QUIT\r\n`; // below maxErrors (20)
  for (let i = 0; i < 6; i++) await run(port, nineteen);
  await listener.close(0);
  assert.equal(refusals(lines).length, 114, 'exempt: every line, past the 100 a minute');
  assert.equal(lines.filter((l) => l.notLogged !== undefined).length, 0);

  const counted = await startListener();
  for (let i = 0; i < 6; i++) await run(counted.port, nineteen);
  await counted.listener.close(0); // long before the minute ends
  assert.equal(refusals(counted.lines).length, 100);
  assert.equal(counted.lines.find((l) => l.notLogged !== undefined)?.notLogged, 14, 'said at close');
});

test('connections refused before a session: the count of lines left out is said when the second ends, with no later line', async (t) => {
  const { listener, port, lines } = await startListener({ maxConnections: 0 });
  t.after(() => listener.close(0));
  await Promise.all(Array.from({ length: 30 }, () => run(port, '')));
  const refused = () => lines.filter((l) => l.code === 421);
  assert.equal(refused().length, 20, '20 a second');
  await waitFor(() => lines.some((l) => l.notLogged !== undefined), 2000);
  assert.equal(lines.find((l) => l.notLogged !== undefined)?.notLogged, 10);
  assert.equal(refused().length, 20);
});

test('a timeout is one line: its phase and its 421', async (t) => {
  const { listener, port, lines } = await startListener({ idleTimeoutMs: 150 });
  t.after(() => listener.close(0));
  await run(port, 'EHLO client.example\r\n'); // then nothing: the server closes
  await waitFor(() => lines.length > 0);
  assert.deepEqual(
    lines.map((l) => [l.msg, l.phase, l.code]),
    [['timeout', 'command', 421]],
  );
  assert.equal(lines[0]?.enhanced, '4.4.2');
});

test("a restriction's refusal of a BDAT chunk is its own line only; other refusals of a chunk keep theirs", async (t) => {
  const logged = collectingLogger();
  const refusal = reply(554, '5.7.1', 'Error: data refused');
  const { listener, port, lines } = await startListener(
    {
      handlers: {
        check: (request, peer) => {
          if (request.stage !== 'data') return { action: 'continue', route: { kind: 'local', accountId: 1 } };
          logged.logger.info({ session: peer.sessionId, rule: 'test_rule', code: 554 }, 'restriction rejected');
          return { action: 'reject', reply: refusal, logged: true };
        },
        message: async (envelope) => ({ action: 'reply', reply: replies.queued(envelope.id) }),
      },
    },
    logged,
  );
  t.after(() => listener.close(0));
  await run(
    port,
    'EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.com>\r\nBDAT 5 LAST\r\nhelloQUIT\r\n',
  );
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['restriction rejected'],
  );
  // Without a transaction, the chunk's refusal is the listener's line, as any refusal.
  await run(port, 'EHLO c.example\r\nBDAT 5 LAST\r\nhelloQUIT\r\n');
  assert.equal(lines.length, 2);
  assert.equal(lines[1]?.code, 503);
});

test("a refusal's line is its reply as the client got it: what it echoes of the client is cleaned as on the wire", async (t) => {
  const { listener, port, lines } = await startListener();
  t.after(() => listener.close(0));
  const answers: string[] = [];
  await new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      // A parameter name with an OSC title, BEL, a clear-screen sequence, and one with U+202E.
      socket.write(
        Buffer.from(
          'EHLO c.example\r\nMAIL FROM:<> X\u001b]0;pwned\u0007\u001b[2J=1\r\nMAIL FROM:<> SMTPUTF8 \u202eevil=1\r\nQUIT\r\n',
          'utf8',
        ),
      ),
    );
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => answers.push(...text.split('\r\n').filter((l) => /^5\d\d /.test(l))));
    socket.on('error', () => {});
    socket.once('close', () => resolve());
  });
  assert.equal(answers.length, 2, answers.join(' | '));
  const refused = refusals(lines);
  assert.equal(refused.length, 2);
  for (const [i, line] of refused.entries()) {
    // The wire's text, after the code and the enhanced code: RFC 5321 §4.2.1 allows HT, SP and printable ASCII.
    assert.equal(`${line.code} ${line.enhanced} ${line.msg}`, answers[i]);
    assert.doesNotMatch(String(line.msg), /[^\t\x20-\x7e]/);
  }
  assert.match(String(refused[0]?.msg), /"X\?\]0;PWNED\?\?\[2J"/);
});
