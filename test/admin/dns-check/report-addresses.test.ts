/**
 * Report addresses at our own domains that have no account or alias: the server answers RCPT TO with
 * 550 5.1.1, so every DMARC and TLS-RPT report sent there is refused. `dns records` printed the default
 * dmarc-reports@ and tls-reports@ and `dns check` passed them; now both say so, with the command. A
 * real SQLite store, the loopback test DNS server, and the real server's RCPT answer for the proof.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { CheckContext } from '../../../src/admin/dns-check/context.ts';
import { checkDmarc } from '../../../src/admin/dns-check/dmarc.ts';
import { checkTlsRpt } from '../../../src/admin/dns-check/tls-rpt.ts';
import { recordsFor } from '../../../src/admin/dns-records.ts';
import { zoneLines } from '../../../src/admin/zone-lines.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer } from '../../../src/dns/test-server.ts';
import { openSqliteStore } from '../../../src/store/sqlite/index.ts';
import type { Store } from '../../../src/store/store.ts';
import { startTestServer, TEST_PASSWORD_HASH, tempDir } from '../../support/server.ts';
import { SmtpClient } from '../../support/smtp-client.ts';

type Context = { after(fn: () => unknown): void };

let dns: TestDnsServer;
before(async () => {
  dns = await startTestDnsServer({ records: {} });
});
after(() => dns.close());

const DMARC = 'v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com';
const TLSRPT = 'v=TLSRPTv1; rua=mailto:tls-reports@example.com';

async function emptyStore(t: Context): Promise<Store> {
  const dir = tempDir('postern-report-addresses-');
  const store = await openSqliteStore({ dataDir: path.join(dir, 'data') });
  t.after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await store.createAccount('alice@example.com', TEST_PASSWORD_HASH);
  return store;
}

const configOf = (extra: Partial<ConfigInput> = {}) =>
  parseConfig({ hostname: 'mx.example.com', domains: ['example.com', 'example.org'], ...extra }, 'test');

async function checks(store: Store, zone: Record<string, string>, domain = 'example.com', config = configOf()) {
  dns.setZone({ records: Object.fromEntries(Object.entries(zone).map(([name, text]) => [name, { TXT: [text] }])) });
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
  const ctx = { domain, config, resolver, store } as unknown as CheckContext;
  return [...(await checkDmarc(ctx)), ...(await checkTlsRpt(ctx))];
}

test('the server refuses the default report addresses while no account or alias has them (the premise)', async (t) => {
  const server = await startTestServer();
  t.after(() => server.stop());
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  await client.command('EHLO reporter.example.net');
  assert.equal((await client.command('MAIL FROM:<>')).code, 250);
  for (const address of ['dmarc-reports@example.com', 'tls-reports@example.com']) {
    const rcpt = await client.command(`RCPT TO:<${address}>`);
    assert.equal(`${rcpt.code} ${rcpt.enhanced}`, '550 5.1.1', address);
  }
});

test('dns check: a report address at our domain without account or alias warns, naming the command', async (t) => {
  const store = await emptyStore(t);
  const found = await checks(store, { '_dmarc.example.com': DMARC, '_smtp._tls.example.com': TLSRPT });
  const dmarc = found.find((c) => c.id === 'dmarc.reports');
  assert.equal(dmarc?.status, 'warn', JSON.stringify(dmarc));
  assert.equal(
    dmarc?.summary,
    'dmarc-reports@example.com has no account or alias here: this server refuses the reports sent there (550 5.1.1)',
  );
  assert.match(
    dmarc?.fix ?? '',
    /^Create the account or alias: postern alias add dmarc-reports@example\.com <an account>/,
  );
  const tls = found.find((c) => c.id === 'tls-rpt.reports');
  assert.equal(tls?.status, 'warn', JSON.stringify(found));
  assert.match(tls?.summary ?? '', /^tls-reports@example\.com has no account or alias here: .*refuses the TLS reports/);
  assert.match(tls?.fix ?? '', /postern alias add tls-reports@example\.com <an account>/);
  assert.equal(found.find((c) => c.id === 'tls-rpt.record')?.status, 'pass', 'the record itself is fine');
});

test('dns check: an alias, an account, or an address the server would take all pass', async (t) => {
  const store = await emptyStore(t);
  await store.addAlias('dmarc-reports@example.com', 'alice@example.com');
  await store.createAccount('tls-reports@example.com', TEST_PASSWORD_HASH);
  const found = await checks(store, { '_dmarc.example.com': DMARC, '_smtp._tls.example.com': TLSRPT });
  assert.equal(found.find((c) => c.id === 'dmarc.reports')?.status, 'pass', JSON.stringify(found));
  assert.equal(found.find((c) => c.id === 'tls-rpt.reports')?.status, 'pass', JSON.stringify(found));

  // RFC 5321 §4.5.1: postmaster@ a second domain reaches the first domain's (local-address.ts), so
  // reports to it are taken once postmaster@example.com exists; an address at a domain not ours is not looked up.
  await store.addAlias('postmaster@example.com', 'alice@example.com');
  const org = await checks(
    store,
    {
      '_dmarc.example.org': 'v=DMARC1; p=none; rua=mailto:postmaster@example.org,mailto:a@example.org',
      '_smtp._tls.example.org': 'v=TLSRPTv1; rua=mailto:tls@elsewhere.example.net',
    },
    'example.org',
  );
  assert.equal(org.find((c) => c.id === 'tls-rpt.reports')?.status, 'pass', JSON.stringify(org));
  const dmarc = org.find((c) => c.id === 'dmarc.reports');
  assert.equal(dmarc?.status, 'warn', JSON.stringify(org));
  assert.match(dmarc?.summary ?? '', /^a@example\.org has no account or alias here/, 'only the refused one is named');
});

test('dns records: the default report addresses get a TO DO saying they would be refused, with the command', async (t) => {
  const store = await emptyStore(t);
  const records = await recordsFor('example.com', { config: configOf(), store });
  const purpose = (name: string) => records.find((r) => r.name === name && r.type === 'TXT')?.purpose ?? '';
  assert.match(
    purpose('_dmarc.example.com'),
    /TO DO: dmarc-reports@example\.com has no account or alias, so this server refuses every report sent there: create the account or alias, postern alias add dmarc-reports@example\.com <an account>/,
  );
  assert.match(purpose('_smtp._tls.example.com'), /TO DO: tls-reports@example\.com has no account or alias/);
  const lines = zoneLines('example.com', records);
  assert.match(lines, /^; DMARC .*TO DO: dmarc-reports@example\.com has no account or alias/m);
  // The record itself is right to publish: it stays a live line, not commented out.
  assert.match(
    lines,
    /^_dmarc\.example\.com\. +3600 IN TXT +"v=DMARC1; p=none; rua=mailto:dmarc-reports@example\.com"$/m,
  );

  await store.addAlias('dmarc-reports@example.com', 'alice@example.com');
  await store.addAlias('tls-reports@example.com', 'alice@example.com');
  const done = await recordsFor('example.com', { config: configOf(), store });
  assert.ok(
    done.every((r) => !r.purpose.includes('TO DO')),
    JSON.stringify(done.map((r) => r.purpose)),
  );
});
