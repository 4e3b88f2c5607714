// Fuzzing the SMTP engine with seeded random and mutated input: the session never throws, every reply
// is a valid reply line, effects are consistent and chunking changes nothing; then the real server over
// TCP survives hundreds of such connections with its stored mail intact.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { renderReply, replies } from '../../src/smtp/replies.ts';
import {
  type CheckOutcome,
  type Effect,
  type MessageOutcome,
  type SessionOptions,
  SmtpSession,
} from '../../src/smtp/session.ts';
import { fuzzInput, Random, split } from '../support/fuzz-input.ts';
import { startTestServer } from '../support/server.ts';
import { sessionDefaults } from '../support/session-driver.ts';
import { SmtpClient } from '../support/smtp-client.ts';

const SEED = Number(process.env.POSTERN_FUZZ_SEED ?? 20240611);
const ITERATIONS = Number(process.env.POSTERN_FUZZ_ITERATIONS ?? 10_000);
const TIME_LIMIT_MS = 8000;
const BARE = /\r(?!\n)|(?<!\r)\n/;

/** An outcome for a check or message effect, drawn from `r` in effect order. */
function outcome(r: Random, effect: Extract<Effect, { type: 'check' | 'message' }>): CheckOutcome | MessageOutcome {
  if (effect.type === 'message') {
    return { action: 'reply', reply: r.chance(0.8) ? replies.queued(effect.envelope.id) : replies.localError() };
  }
  const roll = r.next();
  if (roll < 0.1) return { action: 'disconnect', reply: replies.tooManyErrors('mx.example.com') };
  if (roll < 0.3) return { action: 'reject', reply: replies.relayDenied('x@example.org') };
  return effect.stage === 'rcpt'
    ? { action: 'continue', route: { kind: 'local', accountId: 1 } }
    : { action: 'continue' };
}

function checkReply(text: string): void {
  const lines = text.split('\r\n');
  assert.equal(lines.pop(), '', 'a reply ends with CRLF');
  for (const [i, line] of lines.entries()) {
    assert.match(line, /^[2-5][0-5]\d[ -]/, 'a reply line starts with a 3-digit code');
    assert.equal(line[3], i === lines.length - 1 ? ' ' : '-', 'only the last line has a space');
    assert.equal(line.slice(0, 3), lines[0]!.slice(0, 3), 'one code per reply');
    assert.match(line, /^[\t\x20-\x7e]*$/, 'textstring: HT, SP and printable ASCII only (RFC 5321 §4.2.1)');
    assert.ok(
      Buffer.byteLength(line) + 2 <= 512,
      `reply line within 512 octets (RFC 5321 §4.5.3.1.5): ${line.slice(0, 80)}`,
    );
  }
  const enhanced = /^\d{3}[ -](\d)\.\d{1,3}\.\d{1,3} /.exec(lines[0]!);
  if (enhanced) assert.equal(enhanced[1], lines[0]![0], 'the enhanced code class matches the reply (RFC 3463)');
}

interface Run {
  transcript: string[];
  messages: Buffer[];
}

/** Feeds the chunks, resolving effects at random moments (or at once when `eager`), and checks invariants. */
function run(options: SessionOptions, chunks: Buffer[], decide: Random, timing: Random | undefined): Run {
  const session = new SmtpSession(options);
  const out: Run = { transcript: [], messages: [] };
  let pending: Extract<Effect, { type: 'check' | 'message' }> | undefined;
  let closed = false;
  const take = (effects: Effect[]) => {
    if (closed) assert.deepEqual(effects, [], 'nothing after close');
    for (const [i, e] of effects.entries()) {
      const last = i === effects.length - 1;
      switch (e.type) {
        case 'reply': {
          const text = renderReply(e.reply);
          checkReply(text);
          out.transcript.push(text);
          break;
        }
        case 'close':
          assert.ok(last, 'close is the last effect');
          closed = true;
          out.transcript.push('<close>');
          break;
        case 'check':
        case 'message':
          assert.ok(last, 'a check or message effect ends its batch');
          assert.equal(pending, undefined, 'one effect at a time');
          pending = e;
          if (e.type === 'message') {
            assert.ok(e.envelope.recipients.length > 0, 'a message has recipients');
            assert.ok(e.content.length <= options.maxMessageSize, 'within the size limit');
            assert.ok(!BARE.test(e.content.toString('latin1')), 'no bare CR or LF in stored content');
            out.messages.push(Buffer.from(e.content));
          } else if (e.stage === 'rcpt') {
            assert.ok(e.envelope.recipients.length < options.maxRecipients, 'within the recipient limit');
          }
          out.transcript.push(`<${e.type === 'check' ? e.stage : 'message'}>`);
          break;
        default:
          assert.fail(`unknown effect ${JSON.stringify(e)}`);
      }
    }
  };
  const resolve = () => {
    const p = pending!;
    pending = undefined;
    take(session.resolved(outcome(decide, p)));
  };
  take(session.start());
  for (const chunk of chunks) {
    if (timing) while (pending && timing.chance(0.5)) resolve();
    else while (pending) resolve();
    const effects = session.receive(chunk);
    if (pending) assert.deepEqual(effects, [], 'input while waiting is only buffered');
    take(effects);
  }
  for (let i = 0; pending && i < 100_000; i++) resolve();
  assert.equal(pending, undefined, 'the session settles');
  return out;
}

function randomOptions(r: Random): SessionOptions {
  return {
    ...sessionDefaults,
    sessionId: 'fuzz',
    maxMessageSize: r.pick([64, 1024, 10_000]),
    maxRecipients: 1 + r.int(3),
    maxErrors: 1 + r.int(30),
    maxCommandsBeforeMail: 1 + r.int(60),
    bareLineEndings: r.pick(['reject', 'normalize'] as const),
    vrfy: r.pick(['off', 'ambiguous'] as const),
  };
}

test(`sans-I/O: ${ITERATIONS} random inputs, any chunking, never a throw (seed ${SEED})`, (t) => {
  const r = new Random(SEED);
  const started = Date.now();
  let i = 0;
  let messages = 0;
  for (; i < ITERATIONS && Date.now() - started < TIME_LIMIT_MS; i++) {
    const caseSeed = r.int(2 ** 32);
    const c = new Random(caseSeed);
    const options = randomOptions(c);
    const input = fuzzInput(c);
    const decideSeed = c.int(2 ** 32);
    try {
      const whole = run(options, [input], new Random(decideSeed), undefined);
      const pieces = run(options, split(c, input), new Random(decideSeed), new Random(c.int(2 ** 32)));
      assert.deepEqual(pieces.transcript, whole.transcript, 'chunking and timing change nothing');
      assert.deepEqual(pieces.messages, whole.messages);
      messages += whole.messages.length;
    } catch (err) {
      assert.fail(`case seed ${caseSeed}, input ${JSON.stringify(input.toString('latin1'))}: ${(err as Error).stack}`);
    }
  }
  t.diagnostic(`${i} cases in ${Date.now() - started} ms, ${messages} messages`);
  assert.ok(i >= 500, `enough cases ran in the time limit (${i})`);
  assert.ok(messages > 50, 'the corpus reaches the message stage');
});

const CONNECTIONS = 300;
const PARALLEL = 8;

/** Sends the input in random chunks, then waits briefly for the server and hangs up. */
function fuzzConnection(port: number, r: Random): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 100);
    socket.on('error', done);
    socket.on('close', done);
    socket.on('data', () => {}); // read and drop the replies
    socket.once('connect', () => {
      for (const chunk of split(r, fuzzInput(r))) if (!socket.destroyed) socket.write(chunk);
      if (r.chance(0.5)) socket.end();
    });
  });
}

test(`over TCP: ${CONNECTIONS} fuzzed connections, then the server still works and stored mail is intact`, async (t) => {
  const server = await startTestServer({ smtp: { maxMessageSize: 10_000 } });
  t.after(() => server.stop());
  const send = async (subject: string, opened?: SmtpClient) => {
    const client = opened ?? (await SmtpClient.open(server.port)).client;
    try {
      assert.equal((await client.command('EHLO a.example')).code, 250); // EHLO ends a group (RFC 2920 §3.1)
      client.send('MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
      assert.deepEqual(
        (await client.readN(3)).map((x) => x.code),
        [250, 250, 354],
      );
      client.send(`From: a@example.net\r\nSubject: ${subject}\r\n\r\n..dot\r\n\xe9\x00\r\n.\r\n`);
      assert.equal((await client.read()).code, 250);
    } finally {
      await client.close();
    }
  };
  await send('before');
  const before = await server.inbox('alice@example.com');

  const r = new Random(SEED ^ 0x5eed);
  const started = Date.now();
  let done = 0;
  const worker = async () => {
    while (done < CONNECTIONS && Date.now() - started < TIME_LIMIT_MS) {
      done++;
      await fuzzConnection(server.port, new Random(r.int(2 ** 32)));
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  t.diagnostic(`${done} connections in ${Date.now() - started} ms`);
  assert.ok(done >= 100, `enough connections ran (${done})`);

  // A fuzzed connection that closed only its sending side is answered before the server closes it,
  // error sleep included (RFC 5321 §3.8), and counts toward its client's connection limit till then.
  let admitted: SmtpClient | undefined;
  for (const deadline = Date.now() + 30_000; !admitted && Date.now() < deadline; ) {
    const { client, greeting } = await SmtpClient.open(server.port);
    if (greeting.code === 220) admitted = client;
    else {
      await client.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await send('after', admitted);
  const afterFuzz = await server.inbox('alice@example.com');
  assert.deepEqual(afterFuzz.slice(0, before.length), before, 'earlier mail is byte-exact');
  assert.match(afterFuzz.at(-1)!.toString('latin1'), /Subject: after\r\n\r\n\.dot\r\n\xe9\x00\r\n$/);
});
