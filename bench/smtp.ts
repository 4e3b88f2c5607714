/**
 * `npm run bench`: SMTP throughput, latency, CPU and memory of Postern, next to Postern with a null store
 * and Postfix's smtp-sink in the same run, so that every figure comes with its reference on this machine.
 * Options: --quick (10× fewer messages), --json, --only <scenario[,scenario]>, --servers <list>,
 * --repeat N (each load scenario N times; the row is the median run, with the spread in its note).
 * All traffic stays on 127.0.0.1; every run is bounded by a message count and a time cap.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startDnsStub } from './dns-stub.ts';
import { openIdle } from './idle.ts';
import { type LoadMode, runLoad } from './load.ts';
import { cpuSnapshot, openFiles as currentOpenFiles, describeMachine, otherCpuPercent } from './machine.ts';
import {
  NOISY_PERCENT,
  type Row,
  ratios,
  ratiosTable,
  resultsTable,
  type ScenarioId,
  targets,
  targetsTable,
} from './report.ts';
import { ACCOUNT, havePostern, haveSmtpSink, type ServerKind, ServerProcess, stopAll } from './server-process.ts';
import { haveSmtpSource, runSmtpSource } from './smtp-source.ts';

// idle-1000 first: on a fresh server it measures what idle connections cost, not heap left by earlier load.
const SCENARIOS: ScenarioId[] = [
  'idle-1000',
  'reused-1k',
  'reused-10k',
  'per-connection-1k',
  'half-peak',
  'source-reused',
  'source-per-connection',
];
const SERVERS: ServerKind[] = ['postern', 'postern-discard', 'smtp-sink'];
const SESSIONS = 20;
const CAP_MS = 60_000;

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    servers: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(
    `usage: node bench/smtp.ts [--quick] [--json] [--repeat N] [--only ${SCENARIOS.join(',')}] [--servers ${SERVERS.join(',')}]`,
  );
  process.exit(0);
}

const repeat = Number(opts.repeat);
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) {
  console.error(`--repeat takes a whole number from 1 to 20, not "${opts.repeat}"`);
  process.exit(2);
}

/** 1,000 idle connections and 20 sessions need more descriptors than some shells allow: re-run raised. */
const openFiles = currentOpenFiles();
if (openFiles > 0 && openFiles < 4096 && !process.env.POSTERN_BENCH_REEXEC) {
  const raise = 'ulimit -S -n "$(ulimit -H -n)" 2>/dev/null; exec "$@"'; // soft up to the hard limit
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  const env = { ...process.env, POSTERN_BENCH_REEXEC: '1' };
  const r = spawnSync('/bin/sh', ['-c', raise, 'sh', ...argv], { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}

const pick = <T extends string>(list: string | undefined, all: T[], what: string): T[] => {
  if (!list) return all;
  const chosen = list.split(',').map((s) => s.trim());
  const bad = chosen.filter((s) => !all.includes(s as T));
  if (bad.length) {
    console.error(`unknown ${what}: ${bad.join(', ')} (choose from ${all.join(', ')})`);
    process.exit(2);
  }
  return all.filter((s) => chosen.includes(s));
};
const scenarios = pick(opts.only, SCENARIOS, 'scenario');
// half-peak needs the peak rate of the same server in the same run.
if (scenarios.includes('half-peak') && !scenarios.includes('reused-1k')) scenarios.unshift('reused-1k');
const requested = pick(opts.servers, SERVERS, 'server');
const skipped: string[] = [];
const servers = requested.filter((s) => {
  const ok = s === 'smtp-sink' ? haveSmtpSink() : havePostern();
  if (!ok) skipped.push(`${s} (${s === 'smtp-sink' ? '/usr/sbin/smtp-sink' : 'src/cli/main.ts'} not found)`);
  return ok;
});
const scale = opts.quick ? 10 : 1;
const log = (line: string) => {
  if (!opts.json) process.stderr.write(`${line}\n`);
};

const meta = {
  ...(await describeMachine()),
  quick: opts.quick,
  sessions: SESSIONS,
  servers,
  skipped,
  dnsQueries: 0,
};

const LABELS: Record<ScenarioId, string> = {
  'reused-1k': `reused, ${SESSIONS} sessions, 1 KB`,
  'reused-10k': `reused, ${SESSIONS} sessions, 10 KB`,
  'per-connection-1k': `1 msg/connection, ${SESSIONS} workers, 1 KB`,
  'half-peak': 'half peak rate, 1 KB',
  'idle-1000': '1,000 idle connections',
  'source-reused': `smtp-source -s ${SESSIONS} -d, 1 KB`,
  'source-per-connection': `smtp-source -s ${SESSIONS}, 1 KB`,
};

/** Runs one scenario against a running server, with its CPU and RSS before and after. */
async function scenario(server: ServerProcess, id: ScenarioId, peak: number | undefined): Promise<Row> {
  const row: Row = { ...emptyRow(server.kind), scenario: id, label: LABELS[id], failed: false };
  const before = server.usage();
  const machine = cpuSnapshot();
  const finish = (delivered: number) => {
    const after = server.usage();
    row.delivered = delivered;
    row.rssMb = after.rssMb;
    if (delivered > 0) row.cpuUsPerMessage = ((after.cpuSeconds - before.cpuSeconds) * 1e6) / delivered;
    row.otherCpuPercent = otherCpuPercent(machine, after.cpuSeconds - before.cpuSeconds);
    const notes = [row.note];
    if (row.otherCpuPercent > NOISY_PERCENT) notes.push(`other load ${row.otherCpuPercent} %: noisy`);
    if (!server.alive) {
      row.failed = true;
      notes.push('server exited');
    }
    row.note = notes.filter(Boolean).join('; ');
    return row;
  };
  if (id === 'idle-1000') {
    const idle = await openIdle(server.port, 1000, CAP_MS);
    await new Promise((r) => setTimeout(r, 2000)); // let the server settle before reading its RSS
    finish(0);
    await idle.close();
    row.failed ||= idle.errors > 0;
    const notes = [`${idle.opened} open; RSS before ${before.rssMb.toFixed(1)} MB`, row.note];
    if (idle.errors) notes.push(`${idle.errors} errors, e.g. ${idle.errorSamples[0]}`);
    row.note = notes.filter(Boolean).join('; ');
    return row;
  }
  if (id === 'source-reused' || id === 'source-per-connection') {
    const reused = id === 'source-reused';
    row.messages = (reused ? 20_000 : 10_000) / scale;
    const r = await runSmtpSource({
      port: server.port,
      reused,
      sessions: SESSIONS,
      messages: row.messages,
      size: 1024,
      timeCapMs: CAP_MS,
    });
    row.perSecond = r.failed ? null : r.perSecond;
    row.failed = r.failed;
    if (r.failed) row.note = `exit ${r.exit}: ${r.output.split('\n').at(-1) ?? ''}`;
    return finish(r.failed ? 0 : row.messages);
  }
  let mode: LoadMode = { name: 'reused' };
  let size = 1024;
  row.messages = 20_000 / scale;
  if (id === 'reused-10k') size = 10 * 1024;
  if (id === 'per-connection-1k') {
    mode = { name: 'per-connection' };
    row.messages = 10_000 / scale;
  }
  if (id === 'half-peak') {
    if (!peak) return { ...row, note: 'not run: no clean reused 1 KB peak to halve' };
    const perSecond = Math.max(1, Math.round(peak / 2));
    mode = { name: 'rate', perSecond };
    row.messages = Math.max(100, Math.round(Math.min(perSecond * 10, 20_000) / scale)); // ~10 s
    row.label = `at half peak, ${perSecond.toLocaleString('en-US')}/s, 1 KB`;
  }
  const r = await runLoad({
    port: server.port,
    mode,
    sessions: SESSIONS,
    messages: row.messages,
    size,
    timeCapMs: CAP_MS,
    from: ACCOUNT,
    to: ACCOUNT,
  });
  row.perSecond = r.perSecond;
  row.p50 = r.latencyMs.p50;
  row.p99 = r.latencyMs.p99;
  row.failed = r.failed;
  const notes = [];
  if (r.errors) notes.push(`${r.errors} errors, e.g. ${r.errorSamples[0]}`);
  if (r.timedOut) notes.push(`${r.delivered}/${r.messages} in the ${CAP_MS / 1000} s cap`);
  row.note = notes.join('; ');
  return finish(r.delivered);
}

/**
 * Runs a load scenario `repeat` times and keeps the median run by rate: on a shared machine single
 * runs of the same code differ by 15 %. The idle-connection scenario runs once.
 */
async function repeated(server: ServerProcess, id: ScenarioId, peak: number | undefined): Promise<Row> {
  const times = id === 'idle-1000' ? 1 : repeat;
  const runs: Row[] = [];
  for (let i = 0; i < times; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    runs.push(await scenario(server, id, peak));
    if (!server.alive || runs.at(-1)!.failed) return runs.at(-1)!;
  }
  if (runs.length === 1) return runs[0]!;
  const byRate = [...runs].sort((a, b) => (a.perSecond ?? 0) - (b.perSecond ?? 0));
  const median = byRate[Math.floor((byRate.length - 1) / 2)]!;
  const spread = `median of ${runs.length}: ${byRate.map((r) => (r.perSecond ?? 0).toFixed(0)).join(' / ')} msgs/s`;
  return { ...median, note: [median.note, spread].filter(Boolean).join('; ') };
}

async function main(): Promise<number> {
  log(`Postern SMTP benchmark${opts.quick ? ' (--quick)' : ''}`);
  log(`${meta.node} · ${meta.os} · ${meta.cpu} · open files ${openFiles} · postern ${meta.revision} · ${meta.date}`);
  if (meta.busyPercent > 10)
    log(`warning: CPUs ${meta.busyPercent} % busy before the start: figures will be low, noisy`);
  for (const s of skipped) log(`skipped: ${s}`);
  if (openFiles > 0 && openFiles < 2500)
    log(`warning: open-file limit ${openFiles}: too low for 1,000 idle connections`);
  const dns = await startDnsStub();
  const rows: Row[] = [];
  try {
    for (const kind of servers) {
      log(`\n== ${kind}`);
      let server: ServerProcess;
      try {
        server = await ServerProcess.start(kind, dns.port);
      } catch (e) {
        log(`   could not start: ${(e as Error).message}`);
        rows.push({ ...emptyRow(kind), failed: true, note: `start failed: ${(e as Error).message}` });
        continue;
      }
      try {
        let peak: number | undefined;
        let peakNote = '';
        for (const id of scenarios) {
          if (id.startsWith('source-') && !haveSmtpSource()) continue;
          const row = await repeated(server, id, peak);
          if (id === 'reused-1k' && !row.failed) peak = row.perSecond ?? undefined;
          if (id === 'reused-1k' && row.otherCpuPercent > NOISY_PERCENT) peakNote = 'peak measured under other load';
          if (id === 'half-peak' && peakNote) row.note = [peakNote, row.note].filter(Boolean).join('; ');
          rows.push(row);
          log(
            `   ${row.label}: ${row.perSecond?.toFixed(0) ?? '-'} msgs/s, p99 ${row.p99?.toFixed(2) ?? '-'} ms, RSS ${row.rssMb.toFixed(1)} MB${row.failed ? ' FAILED' : ''}${row.note ? ` (${row.note})` : ''}`,
          );
          if (!server.alive) break;
          await new Promise((r) => setTimeout(r, 500)); // let closing sockets drain between scenarios
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    meta.dnsQueries = dns.queries();
    await dns.close();
  }
  const failed = rows.some((r) => r.failed);
  const ratioList = ratios(rows);
  const targetList = targets(rows);
  if (opts.json) {
    console.log(JSON.stringify({ meta, rows, ratios: ratioList, targets: targetList, failed }, null, 2));
  } else {
    const quick = opts.quick ? ', --quick' : '';
    const idle = `CPUs ${meta.busyPercent} % busy before start`;
    console.log(`\nPostern SMTP benchmark (${meta.revision}): ${meta.node}, ${meta.os}, ${meta.cpu}, ${idle}${quick}`);
    console.log(`Load: bench/load.ts (own generator, pipelined MAIL/RCPT/DATA) and smtp-source, 127.0.0.1 only\n`);
    console.log(resultsTable(rows));
    if (ratioList.length)
      console.log(`\nPostern (real store) rate relative to the references:\n${ratiosTable(ratioList)}`);
    console.log(`\n${targetsTable(targetList)}`);
    if (meta.dnsQueries) console.log(`\nDNS queries answered by the loopback stub: ${meta.dnsQueries}`);
    if (failed) console.log('\nFAILED: some replies were not 250 or a server failed; see the status column.');
  }
  return failed ? 1 : 0;
}

function emptyRow(kind: ServerKind): Row {
  return {
    target: kind,
    scenario: 'reused-1k',
    label: '(server start)',
    messages: 0,
    delivered: 0,
    perSecond: null,
    p50: null,
    p99: null,
    cpuUsPerMessage: null,
    rssMb: 0,
    otherCpuPercent: 0,
    failed: true,
    note: '',
  };
}

// A closed pipe (`| head`) must not kill the run before it stops its servers: output is dropped instead.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => void stopAll().finally(() => process.exit(130)));
}
main().then(
  (code) => process.exit(code),
  async (e: unknown) => {
    console.error(e);
    await stopAll();
    process.exit(2);
  },
);
