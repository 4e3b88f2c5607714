/**
 * Per-stage CPU of one message in this process: sender authentication (DKIM/ARC/DMARC, SPF cached),
 * withoutClientFields, the content filter (rules + phishing), Received. Each case runs twice, the
 * second timed.   node bench/adversarial/stages.ts [case ...]
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SenderAuthentication } from '../../src/authentication/authenticate.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createResolver } from '../../src/dns/system-resolver.ts';
import { ContentFilter } from '../../src/filter/content-filter.ts';
import { createLogger } from '../../src/log/logger.ts';
import { withoutClientFields } from '../../src/server/client-fields.ts';
import type { Envelope, Peer } from '../../src/smtp/envelope.ts';
import { receivedHeader } from '../../src/smtp/received.ts';
import { cases, startSenderDns } from './cases.ts';

const only = process.argv.slice(2);
const dns = await startSenderDns();
const dir = await mkdtemp(path.join(os.tmpdir(), 'dos-stages-'));
const header = path.join(dir, 'header_checks');
const body = path.join(dir, 'body_checks');
await writeFile(
  header,
  '/^Subject:.*\\b(lottery|winner)\\b/ WARN lottery\n/^(From|Reply-To):.*@(.*\\.)*(bad|evil)\\.example/ REJECT bad\n',
);
await writeFile(body, '/(bitcoin|btc) wallet/ WARN btc\n/^.*(viagra|cialis).*$/ REJECT spam\n');
const config = parseConfig(
  {
    hostname: 'mx.example.com',
    domains: ['example.com'],
    filter: { headerChecks: header, mimeHeaderChecks: header, bodyChecks: body },
  },
  'stages',
);
const resolver = createResolver({ servers: [dns.server], timeoutMs: 2000, tries: 1 });
const authentication = new SenderAuthentication({
  config: config.authentication,
  hostname: 'mx.example.com',
  resolver,
});
const filter = await ContentFilter.create({
  config: config.filter,
  localDomains: config.domains,
  hostname: 'mx.example.com',
  logger: createLogger('silent'),
});
const peer: Peer = {
  sessionId: 's',
  remoteAddress: '127.0.0.1',
  remotePort: 1,
  localAddress: '127.0.0.1',
  localPort: 25,
};
const envelope = {
  id: 'T1',
  greeting: 'EHLO',
  helo: 'client.sender.example',
  mailFrom: { address: 'bob@sender.example', localPart: 'bob', domain: 'sender.example' },
  declaredSize: undefined,
  body: '8BITMIME',
  smtputf8: false,
  recipients: [],
} as unknown as Envelope;

const cpu = () => process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000;

async function run(content: Buffer) {
  const t: Record<string, number | string> = {};
  let at = cpu();
  const lap = (name: string) => {
    const now = cpu();
    t[name] = Math.round(now - at);
    at = now;
  };
  let examination: Awaited<ReturnType<typeof authentication.examine>> | undefined;
  try {
    examination = await authentication.examine(envelope, content, peer, 'external');
  } catch (e) {
    t.authError = String(e).slice(0, 80);
  }
  lap('auth');
  const stripped = withoutClientFields(examination?.content ?? content, false);
  lap('strip');
  try {
    const out = await filter.filter({ envelope, peer, content: stripped, external: true });
    t.outcome =
      out.action === 'deliver' || out.action === 'quarantine'
        ? `${out.action} ${out.verdict?.score ?? ''}`
        : out.action;
  } catch (e) {
    t.filterError = String(e).slice(0, 80);
  }
  lap('filter');
  receivedHeader(
    { ...envelope, recipients: [] } as never,
    peer as never,
    'mx.example.com' as never,
    new Date() as never,
  );
  lap('received');
  return t;
}

for (let i = 0; i < 3; i++) await run(cases[0]!.build());
for (const k of cases) {
  if (only.length && !only.some((o) => k.name.includes(o))) continue;
  const content = k.build();
  await run(content);
  const start = performance.now();
  const t = await run(content);
  console.log(
    JSON.stringify({
      name: k.name,
      mb: +(content.length / 2 ** 20).toFixed(2),
      wallMs: Math.round(performance.now() - start),
      ...t,
    }),
  );
}
filter.stop();
await dns.close();
