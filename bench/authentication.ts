/**
 * The cost of sender authentication (SPF, DKIM, ARC, DMARC) on inbound throughput: the same load against
 * Postern with `authentication.enabled` true and false, in one run, against a real DNS server on loopback
 * that publishes the sender's SPF (a pass for 127.0.0.1), DKIM key (RSA-2048) and DMARC (p=reject).
 * Every message carries one valid DKIM signature, so each check does its full work. Then the checks run
 * in this process, one message at a time, to say which part costs what.
 *
 *   node bench/authentication.ts [--quick] [--repeat N] [--json]
 */
import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { verifyArc } from '../src/authentication/arc/verify-arc.ts';
import { verifyDkim } from '../src/authentication/dkim/verify-dkim.ts';
import { checkDmarc } from '../src/authentication/dmarc/check-dmarc.ts';
import { checkSpf } from '../src/authentication/spf/check-spf.ts';
import { createResolver } from '../src/dns/system-resolver.ts';
import { startTestDnsServer } from '../src/dns/test-server.ts';
import { runLoad } from './load.ts';
import { MessageFactory } from './message.ts';
import { ACCOUNT, ServerProcess, stopAll } from './server-process.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const json = args.includes('--json');
const repeat = Math.max(1, Number(args[args.indexOf('--repeat') + 1]) || (args.includes('--repeat') ? 1 : 3));
const SCALE = quick ? 10 : 1;
const SESSIONS = 20;
const SENDER = 'news@sender.example';
const SIGNED = 500; // distinct signed messages, cycled: signing is the client's cost, not the server's

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKey = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKey = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const dns = await startTestDnsServer({
  records: {
    'sender.example': {
      MX: [{ priority: 10, exchange: 'mx.sender.example' }],
      A: ['192.0.2.80'],
      TXT: ['v=spf1 ip4:127.0.0.1 -all'],
    },
    'mx.sender.example': { A: ['192.0.2.80'] },
    '_dmarc.sender.example': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@sender.example'] },
    'sel._domainkey.sender.example': { TXT: [`v=DKIM1; k=rsa; p=${publicKey}`] },
  },
});
const dnsPort = Number(dns.server.slice(dns.server.lastIndexOf(':') + 1));

async function signedMessages(size: number): Promise<Buffer[]> {
  const factory = new MessageFactory(SENDER, ACCOUNT, size);
  const out: Buffer[] = [];
  for (let n = 0; n < SIGNED; n++) {
    const message = factory.message(n);
    const { signatures } = await dkimSign(message, {
      signingDomain: 'sender.example',
      selector: 'sel',
      privateKey,
      signatureData: [{ signingDomain: 'sender.example', selector: 'sel', privateKey }],
    });
    out.push(Buffer.concat([Buffer.from(signatures), message]));
  }
  return out;
}

type Result = {
  checks: 'on' | 'off';
  size: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpuUsPerMsg: number;
  rssMb: number;
  errors: number;
};

async function measure(checks: 'on' | 'off', size: number, messages: Buffer[]): Promise<Result> {
  const server = await ServerProcess.start('postern', dnsPort, {
    config: { authentication: { enabled: checks === 'on' } },
  });
  try {
    const count = 10_000 / SCALE;
    // Warm-up: JIT, the DNS answers in the resolver's cache, the SPF result cache.
    await runLoad({
      port: server.port,
      mode: { name: 'reused' },
      sessions: SESSIONS,
      messages: 500 / SCALE,
      size,
      timeCapMs: 30_000,
      from: SENDER,
      to: ACCOUNT,
      content: (n) => messages[n % SIGNED]!,
    });
    const runs: Result[] = [];
    for (let i = 0; i < repeat; i++) {
      const before = server.usage();
      const r = await runLoad({
        port: server.port,
        mode: { name: 'reused' },
        sessions: SESSIONS,
        messages: count,
        size,
        timeCapMs: 60_000,
        from: SENDER,
        to: ACCOUNT,
        content: (n) => messages[n % SIGNED]!,
      });
      const after = server.usage();
      runs.push({
        checks,
        size,
        perSecond: r.perSecond,
        p50: r.latencyMs.p50,
        p99: r.latencyMs.p99,
        cpuUsPerMsg: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / Math.max(1, r.delivered),
        rssMb: after.rssMb,
        errors: r.errors,
      });
      if (r.errors) console.error(`  ${checks} ${size}: ${r.errors} errors, e.g. ${r.errorSamples[0]}`);
    }
    runs.sort((a, b) => a.perSecond - b.perSecond);
    return runs[Math.floor(runs.length / 2)]!;
  } finally {
    await server.stop();
  }
}

/** Each check on its own, in this process, over the same messages: µs per message. */
async function partCosts(messages: Buffer[]): Promise<Record<string, number>> {
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1 });
  const n = Math.min(SIGNED, 2000 / SCALE);
  const time = async (fn: (m: Buffer) => Promise<unknown>) => {
    for (let i = 0; i < 50; i++) await fn(messages[i % SIGNED]!); // warm-up
    const start = performance.now();
    for (let i = 0; i < n; i++) await fn(messages[i % SIGNED]!);
    return ((performance.now() - start) * 1000) / n;
  };
  const spf = { ip: '127.0.0.1', sender: SENDER, helo: 'client.example', resolver, hostname: 'bench.example.com' };
  const sample = await verifyDkim(messages[0]!, { resolver });
  return {
    'SPF (uncached: the server caches per IP and domain)': await time(() => checkSpf(spf)),
    'DKIM (RSA-2048, one signature)': await time((m) => verifyDkim(m, { resolver })),
    ARC: await time(() => verifyArc(sample.arc, { resolver })),
    DMARC: await time(() =>
      checkDmarc({
        headerFrom: sample.headerFrom,
        fromFields: 1,
        spf: { result: 'pass', domain: 'sender.example' },
        dkim: sample.signatures,
        resolver,
      }),
    ),
  };
}

try {
  const results: Result[] = [];
  for (const size of [10 * 1024, 1024]) {
    const messages = await signedMessages(size);
    for (const checks of ['off', 'on'] as const) {
      const r = await measure(checks, size, messages);
      results.push(r);
      if (!json) console.error(`  ${size / 1024} KB, checks ${checks}: ${Math.round(r.perSecond)} msgs/s`);
    }
  }
  const parts = await partCosts(await signedMessages(10 * 1024));
  const on10 = results.find((r) => r.checks === 'on' && r.size === 10 * 1024)!;
  const off10 = results.find((r) => r.checks === 'off' && r.size === 10 * 1024)!;
  const ratio = on10.perSecond / off10.perSecond;
  if (json) {
    console.log(JSON.stringify({ results, parts, ratio }, null, 2));
  } else {
    const f = (v: number, d = 0) => v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
    console.log(
      `\nreused connections, ${SESSIONS} sessions, median of ${repeat}; DKIM RSA-2048 + SPF pass + DMARC p=reject (pass)\n`,
    );
    console.log('size    checks    msgs/s  p50 ms  p99 ms  CPU µs/msg  RSS MB');
    for (const r of results) {
      console.log(
        `${`${r.size / 1024} KB`.padEnd(6)}  ${r.checks.padEnd(6)}  ${f(r.perSecond).padStart(8)}  ${f(r.p50, 2).padStart(6)}  ${f(r.p99, 2).padStart(6)}  ${f(r.cpuUsPerMsg).padStart(10)}  ${f(r.rssMb, 1).padStart(6)}`,
      );
    }
    console.log('\nper check, in this process (µs per message):');
    for (const [name, us] of Object.entries(parts)) console.log(`  ${name.padEnd(52)} ${f(us).padStart(6)}`);
    console.log(
      `\ngoal: checks cost at most half the throughput (10 KB): on/off = ${f(ratio * 100)} % → ${ratio >= 0.5 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `goal: ≥ 1,500 msgs/s with checks on (10 KB, reused): ${f(on10.perSecond)} → ${on10.perSecond >= 1500 ? 'met' : 'NOT met'}`,
    );
  }
} finally {
  await stopAll();
  await dns.close();
}
