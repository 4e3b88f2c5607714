// `postern dns check` as users run it: bin/postern in a child process, the table, --json and the exit code.
// Its own loopback DNS server puts the mail host at 127.0.0.1, so even the port probes stay on this machine.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestDnsServer, type TestDnsServer } from '../../src/dns/test-server.ts';
import { configDir, postern } from '../support/child-server.ts';

let dns: TestDnsServer;
let dir: ReturnType<typeof configDir>;
before(async () => {
  dns = await startTestDnsServer({
    records: {
      'example.com': { MX: [{ priority: 10, exchange: 'mx.example.com' }], TXT: ['v=spf1 mx -all'] },
      'mx.example.com': { A: ['127.0.0.1'] },
      '127.0.0.1': { PTR: ['mx.example.com'] },
      '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com'] },
    },
  });
  dir = configDir({ dns: { servers: [dns.server], timeoutMs: 500, tries: 1 } });
});
after(async () => {
  dir?.cleanup();
  await dns?.close();
});

test('dns check: a table without colour when stdout is not a terminal; exit 2 on a failure', async () => {
  const r = await postern(['dns', 'check', 'example.com', '--config', dir.file]);
  assert.equal(r.code, 2, r.stderr);
  assert.doesNotMatch(r.stdout, /\x1b\[/);
  assert.match(r.stdout, /^DNS and server check for example\.com$/m);
  assert.match(r.stdout, /^PASS {2}spf +"v=spf1 mx -all"$/m);
  assert.match(r.stdout, /^FAIL {2}dkim +postern has no DKIM key for example\.com/m);
  assert.match(r.stdout, /^ +fix: Run "postern dkim keygen --domain example\.com/m);
});

test('dns check --json: the checks, the counts and the exit code', async () => {
  const r = await postern(['dns', 'check', 'example.com', '--json', '--config', dir.file]);
  assert.equal(r.code, 2, r.stderr);
  const json = JSON.parse(r.stdout) as {
    domain: string;
    exitCode: number;
    checks: { id: string; status: string }[];
  };
  assert.equal(json.domain, 'example.com');
  assert.equal(json.exitCode, 2);
  const status = (id: string) => json.checks.find((c) => c.id === id)?.status;
  assert.equal(status('mx.present'), 'pass');
  assert.equal(status('names.ptr'), 'pass');
  assert.equal(status('dmarc.policy'), 'pass');
  assert.equal(status('dkim.keys'), 'fail');
  assert.equal(status('tls-rpt.record'), 'warn');
});

test('dns check: usage errors', async () => {
  const none = await postern(['dns', 'check', '--config', dir.file]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /usage: postern dns check <domain> \[--json\]/);
  const foreign = await postern(['dns', 'check', 'example.net', '--config', dir.file]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /example\.net is not one of this server's domains/);
});

test('dns check: an http:// BIMI logo says https is needed and the record to publish instead', async (t) => {
  const bimi = await startTestDnsServer({
    records: {
      'example.com': { MX: [{ priority: 10, exchange: 'mx.example.com' }], TXT: ['v=spf1 mx -all'] },
      'mx.example.com': { A: ['127.0.0.1'] },
      '127.0.0.1': { PTR: ['mx.example.com'] },
      '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com'] },
      'default._bimi.example.com': { TXT: ['v=BIMI1; l=http://bimi.example.com/logo.svg; a='] },
    },
  });
  t.after(() => bimi.close());
  const config = configDir({ dns: { servers: [bimi.server], timeoutMs: 500, tries: 1 } });
  t.after(() => config.cleanup());
  const r = await postern(['dns', 'check', 'example.com', '--json', '--config', config.file]);
  assert.equal(r.code, 2, r.stderr);
  const checks = (JSON.parse(r.stdout) as { checks: { id: string; status: string; summary: string; fix?: string }[] })
    .checks;
  const record = checks.find((c) => c.id === 'bimi.record');
  assert.equal(record?.status, 'fail');
  // It said "l=http://… is not one https URL (BIMI draft §4.2)", and to publish a placeholder record.
  assert.equal(
    record?.summary,
    'default._bimi.example.com: l=http://bimi.example.com/logo.svg is an http URL, and the BIMI draft (§4.2) allows only https for the logo: receivers do not fetch it and show no logo',
  );
  assert.equal(
    record?.fix,
    'Serve the logo over HTTPS and publish "default._bimi.example.com. TXT \\"v=BIMI1; l=https://bimi.example.com/logo.svg; a=\\"".',
  );
});
