/**
 * Where a server's CPU per message goes, thread by thread: one server, one load run several times, and
 * per run the rate and each thread's CPU per message (user + system, and system alone) from
 * /proc/<pid>/task/<tid>/stat. Postern's threads are its main thread, the SQLite writer
 * ("WorkerThread") and V8's helpers ("V8Worker": garbage collection and compilation).
 *
 * bench/smtp.ts judges the targets; this tells which thread a change moved. Single runs differ by up to
 * 40 % on a shared machine, so compare two commits with interleaved runs from a worktree of each
 * (docs/benchmarks.md, "Comparing two commits"). The first run warms the JIT up and is marked so.
 *
 * Usage: node bench/threads.ts [--server postern|postern-discard|node-floor|smtp-server]
 *          [--load source|own] [--per-connection] [--messages N] [--runs N]
 * Loopback only; every run is bounded by its message count and a time cap.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startDnsStub } from './dns-stub.ts';
import { runLoad } from './load.ts';
import { ACCOUNT, CLK_TCK, type ServerKind, ServerProcess } from './server-process.ts';
import { haveSmtpSource, runSmtpSource } from './smtp-source.ts';

const KINDS: readonly ServerKind[] = ['postern', 'postern-discard', 'node-floor', 'smtp-server'];
const SESSIONS = 20;
const SIZE = 1024;
const CAP_MS = 60_000;

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string', default: 'postern' },
    load: { type: 'string', default: 'source' },
    'per-connection': { type: 'boolean', default: false },
    messages: { type: 'string', default: '20000' },
    runs: { type: 'string', default: '3' },
  },
});

const kind = opts.server as ServerKind;
const messages = Number(opts.messages);
const runs = Number(opts.runs);
const perConnection = opts['per-connection'];
if (!KINDS.includes(kind)) fail(`--server must be one of ${KINDS.join(', ')}, not ${opts.server}`);
if (opts.load !== 'source' && opts.load !== 'own') fail(`--load must be source or own, not ${opts.load}`);
if (!Number.isInteger(messages) || messages < 100 || messages > 1_000_000) fail('--messages must be 100 to 1,000,000');
if (!Number.isInteger(runs) || runs < 1 || runs > 20) fail('--runs must be 1 to 20');
if (opts.load === 'source' && !haveSmtpSource()) fail('smtp-source is not installed (Debian package postfix)');

type ThreadTimes = Map<string, { user: number; system: number; sleeps: number }>;

/**
 * CPU seconds per thread, threads of one name summed; the process's own thread is "main". Sleeps
 * are voluntary context switches: each is a wait the thread was woken from, which costs dear in a
 * virtual machine whose idle CPU halts (see docs/benchmarks.md, sixteenth session).
 */
function threadTimes(pid: number): ThreadTimes {
  const times: ThreadTimes = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    let status: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is proc(5) field 3
    const entry = times.get(name) ?? { user: 0, system: 0, sleeps: 0 };
    entry.sleeps += Number(/^voluntary_ctxt_switches:\s*(\d+)/m.exec(status)?.[1] ?? 0);
    entry.user += Number(fields[11]) / CLK_TCK; // utime, field 14
    entry.system += Number(fields[12]) / CLK_TCK; // stime, field 15
    times.set(name, entry);
  }
  return times;
}

async function runOnce(server: ServerProcess): Promise<{ perSecond: number; failed: string | undefined }> {
  if (opts.load === 'own') {
    const mode = perConnection ? { name: 'per-connection' as const } : { name: 'reused' as const };
    const result = await runLoad({
      port: server.port,
      mode,
      sessions: SESSIONS,
      messages,
      size: SIZE,
      timeCapMs: CAP_MS,
      from: ACCOUNT,
      to: ACCOUNT,
    });
    return { perSecond: result.perSecond, failed: result.failed ? result.errorSamples.join('; ') : undefined };
  }
  const result = await runSmtpSource({
    port: server.port,
    reused: !perConnection,
    sessions: SESSIONS,
    messages,
    size: SIZE,
    timeCapMs: CAP_MS,
  });
  return { perSecond: result.perSecond, failed: result.failed ? result.output : undefined };
}

function fail(message: string): never {
  console.error(`bench/threads.ts: ${message}`);
  process.exit(2);
}

const load = `${opts.load === 'own' ? 'own load' : 'smtp-source'}, ${perConnection ? 'a connection per message' : 'reused connections'}`;
console.log(`${kind}: ${load}, ${SESSIONS} sessions, ${messages} messages of ${SIZE} bytes per run`);
const dns = await startDnsStub();
const server = await ServerProcess.start(kind, dns.port);
let failed = false;
try {
  const pid = server.child.pid as number;
  for (let run = 1; run <= runs; run++) {
    const before = threadTimes(pid);
    const started = performance.now();
    const outcome = await runOnce(server);
    const after = threadTimes(pid);
    if (outcome.failed !== undefined) {
      console.log(`run ${run}: failed: ${outcome.failed.slice(0, 300)}`);
      failed = true;
      break;
    }
    let total = 0;
    const parts: string[] = [];
    for (const [name, { user, system, sleeps }] of after) {
      const was = before.get(name) ?? { user: 0, system: 0, sleeps: 0 };
      const micros = ((user + system - was.user - was.system) * 1e6) / messages;
      total += micros;
      const sys = (((system - was.system) * 1e6) / messages).toFixed(0);
      if (micros >= 1)
        parts.push(
          `${name} ${micros.toFixed(0)} (sys ${sys}, ${((sleeps - was.sleeps) / messages).toFixed(2)} sleeps)`,
        );
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const label = run === 1 && runs > 1 ? ' (warm-up)' : '';
    console.log(
      `run ${run}${label}: ${Math.round(outcome.perSecond)} msgs/s, ${total.toFixed(0)} µs/msg: ${parts.join(', ')} [${seconds} s]`,
    );
  }
} finally {
  await server.stop();
  await dns.close();
}
process.exit(failed ? 1 : 0);
