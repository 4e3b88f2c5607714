/**
 * The SMTP load generator. Bounded twice: a fixed message count shared by all sessions, and a time cap after
 * which no new message starts and, a little later, every socket is destroyed. Latency is end-of-data to
 * reply: from writing the message with its final ".\r\n" to the 250 (RFC 5321 §4.1.1.4), the window in
 * which the server must make the message durable.
 */
import { performance } from 'node:perf_hooks';
import { type Reply, SmtpConnection } from './connection.ts';
import { MessageFactory } from './message.ts';

export type LoadMode =
  | { name: 'reused' } // each session: one connection, EHLO once, many transactions
  | { name: 'per-connection' } // each message: connect, EHLO, one transaction, QUIT
  | { name: 'rate'; perSecond: number }; // reused connections, messages started on an open-loop schedule

export type LoadOptions = {
  /** One port, or several (the nodes of one server): session i connects to port i mod their number. */
  port: number | number[];
  mode: LoadMode;
  sessions: number;
  messages: number;
  size: number;
  timeCapMs: number;
  from: string;
  /** One recipient, or several: message n goes to recipient n mod their number. */
  to: string | readonly string[];
  /** Message n's content instead of the factory's (e.g. DKIM-signed ones, bench/authentication.ts). */
  content?: (n: number) => Buffer;
};

export type LoadResult = {
  mode: LoadMode['name'];
  sessions: number;
  size: number;
  messages: number;
  delivered: number;
  errors: number;
  errorSamples: string[];
  timedOut: boolean;
  elapsedMs: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  failed: boolean;
};

/** Shared by every session of one run. */
class Run {
  readonly options: LoadOptions;
  readonly factory: MessageFactory;
  readonly latencies: Float64Array;
  readonly ports: number[];
  readonly recipients: readonly string[];
  readonly open = new Set<SmtpConnection>();
  readonly start = performance.now();
  readonly deadline: number;
  next = 0;
  delivered = 0;
  errors = 0;
  samples: string[] = [];
  timedOut = false;
  aborted = false;

  constructor(options: LoadOptions) {
    this.options = options;
    this.ports = [options.port].flat();
    this.recipients = [options.to].flat();
    this.factory = new MessageFactory(options.from, this.recipients[0] ?? options.from, options.size);
    this.latencies = new Float64Array(options.messages);
    this.deadline = this.start + options.timeCapMs;
  }

  /** The next message number, or -1 when the count is reached or the time cap has passed. */
  take(): number {
    if (this.next >= this.options.messages || this.aborted) return -1;
    if (performance.now() > this.deadline) {
      this.timedOut = true;
      return -1;
    }
    return this.next++;
  }

  error(what: string): void {
    this.errors++;
    if (this.samples.length < 10) this.samples.push(what);
  }

  async connect(session: number): Promise<SmtpConnection> {
    const c = await SmtpConnection.connect(this.ports[session % this.ports.length]!);
    this.open.add(c);
    c.socket.once('close', () => this.open.delete(c));
    if (this.aborted) c.destroy();
    return c;
  }
}

const show = (r: Reply): string => `${r.code} ${r.text.split('\n')[0]?.slice(4, 80) ?? ''}`.trim();

function expect(r: Reply, code: number, step: string): void {
  if (r.code !== code) throw new Error(`${step}: ${show(r)}`);
}

/** Greeting and EHLO; tells whether the server offers PIPELINING (RFC 2920 §3). */
async function greet(c: SmtpConnection): Promise<boolean> {
  expect(await c.reply(), 220, 'greeting');
  c.write('EHLO client.example\r\n');
  const ehlo = await c.reply();
  expect(ehlo, 250, 'EHLO');
  return /^250[- ]PIPELINING\b/im.test(ehlo.text);
}

/** One mail transaction. Returns false when the session must stop (connection state unknown). */
async function transaction(run: Run, c: SmtpConnection, n: number, pipelining: boolean): Promise<boolean> {
  const { from } = run.options;
  const to = run.recipients[n % run.recipients.length];
  const commands = [`MAIL FROM:<${from}>\r\n`, `RCPT TO:<${to}>\r\n`, 'DATA\r\n'];
  let replies: Reply[];
  if (pipelining) {
    // RFC 2920 §3.1: MAIL, RCPT and DATA may go in one group; DATA ends it, so wait for 354 before the body.
    c.write(commands.join(''));
    replies = await c.replies(3);
  } else {
    replies = [];
    for (const command of commands) {
      c.write(command);
      const r = await c.reply();
      replies.push(r);
      if (r.code >= 400) break;
    }
  }
  const data = replies[2];
  if (data?.code !== 354) {
    run.error(`message ${n}: ${replies.map(show).join(' / ')}`);
    // MAIL may have succeeded; RSET returns the session to a clean state (RFC 5321 §4.1.1.5).
    c.write('RSET\r\n');
    return (await c.reply()).code === 250;
  }
  const message = run.options.content ? run.options.content(n) : run.factory.message(n);
  c.write(Buffer.concat([message, Buffer.from('.\r\n', 'latin1')]));
  const sent = performance.now();
  const done = await c.reply();
  if (done.code === 250) run.latencies[run.delivered++] = performance.now() - sent;
  else run.error(`message ${n} end of data: ${show(done)}`);
  return true;
}

async function quit(c: SmtpConnection): Promise<void> {
  c.write('QUIT\r\n');
  await c.reply().catch(() => undefined); // 221; a server that just closes is fine here
  c.close();
}

async function reusedSession(run: Run, session: number, perSecond: number | undefined): Promise<void> {
  let n = run.take();
  if (n < 0) return;
  let c: SmtpConnection;
  try {
    c = await run.connect(session);
  } catch (e) {
    run.error(`connect: ${(e as Error).message}`);
    return;
  }
  try {
    const pipelining = await greet(c);
    for (; n >= 0; n = run.take()) {
      if (perSecond) await pace(run, n, perSecond);
      if (!(await transaction(run, c, n, pipelining))) break;
    }
    await quit(c);
  } catch (e) {
    run.error(`session: ${(e as Error).message}`);
    c.destroy();
  }
}

async function perConnectionWorker(run: Run, session: number): Promise<void> {
  for (let n = run.take(); n >= 0; n = run.take()) {
    let c: SmtpConnection | undefined;
    try {
      c = await run.connect(session);
      const pipelining = await greet(c);
      await transaction(run, c, n, pipelining);
      await quit(c);
    } catch (e) {
      run.error(`message ${n}: ${(e as Error).message}`);
      c?.destroy();
    }
  }
}

/** Open loop: message n starts at start + n/rate, whether or not earlier ones are done. */
async function pace(run: Run, n: number, perSecond: number): Promise<void> {
  const wait = run.start + (n * 1000) / perSecond - performance.now();
  if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const run = new Run(options);
  // Hard stop: a hung server cannot hold the benchmark past its cap (+10 s for replies in flight).
  const abort = setTimeout(() => {
    run.aborted = true;
    run.timedOut = true;
    for (const c of run.open) c.destroy();
  }, options.timeCapMs + 10_000);
  const { mode } = options;
  const perSecond = mode.name === 'rate' ? mode.perSecond : undefined;
  const sessions = Array.from({ length: options.sessions }, (_, i) =>
    mode.name === 'per-connection' ? perConnectionWorker(run, i) : reusedSession(run, i, perSecond),
  );
  await Promise.all(sessions);
  clearTimeout(abort);
  const elapsedMs = performance.now() - run.start;
  const sorted = run.latencies.subarray(0, run.delivered).sort();
  const lost = options.messages - run.delivered - run.errors;
  if (lost > 0 && !run.timedOut) run.error(`${lost} messages neither delivered nor refused`);
  return {
    mode: mode.name,
    sessions: options.sessions,
    size: options.size,
    messages: options.messages,
    delivered: run.delivered,
    errors: run.errors,
    errorSamples: run.samples,
    timedOut: run.timedOut,
    elapsedMs,
    perSecond: (run.delivered * 1000) / elapsedMs,
    latencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? Number.NaN },
    // Hitting the time cap is reported, not failed: the rate is still a measurement. Refusals are failures.
    failed: run.errors > 0,
  };
}
