/**
 * A domain set up right, on loopback only: the test DNS server with a correct zone for example.com, an
 * HTTPS server (test CA) serving the MTA-STS policy and the BIMI logo at mta-sts.example.com and
 * bimi.example.com (both 127.0.0.1 in the zone), a real Postern with a certificate from the same CA for
 * the server checks, a DKIM key "store", and CAA answers. `run(defect)` checks the domain with one thing
 * changed; everything else is as in the good setup.
 */

import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { CaaRecord } from '../../../src/admin/dns-check/caa-lookup.ts';
import type { DnssecLookup } from '../../../src/admin/dns-check/context.ts';
import { createHttpsFetch } from '../../../src/admin/dns-check/https-fetch.ts';
import type { ProbeOptions } from '../../../src/admin/dns-check/probe.ts';
import type { Check } from '../../../src/admin/dns-check/report.ts';
import { runDnsCheck } from '../../../src/admin/dns-check/run.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import { createResolver } from '../../../src/dns/system-resolver.ts';
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../../src/dns/test-server.ts';
import type { DkimKey } from '../../../src/store/store.ts';
import { startTestServer, type TestServer, tempDir } from '../../support/server.ts';
import { createTestCa, type TestCa } from '../../support/test-ca.ts';

export const DOMAIN = 'example.com';
export const HOST = 'mx.example.com';

export const GOOD_POLICY = 'version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 604800\r\n';
export const GOOD_LOGO =
  '<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100">' +
  '<title>Example</title><circle cx="50" cy="50" r="40" fill="#2a6"/></svg>';

export interface Defect {
  /** Changes a copy of the good zone. */
  zone?: (zone: TestZone) => void;
  /** Serves this zone instead of the good one. */
  replaceZone?: TestZone;
  policy?: { status?: number; contentType?: string; body?: string };
  logo?: string;
  /** Replaces the stored DKIM keys. */
  keys?: (good: DkimKey) => DkimKey[];
  caa?: Record<string, CaaRecord[]>;
  config?: Partial<ConfigInput>;
  probe?: Partial<ProbeOptions>;
  /** null: no DNSSEC lookup (as with the production resolver). */
  dnssec?: DnssecLookup | null;
  now?: Date;
  /** Checks this domain instead of example.com (in the same zone, with the same config). */
  domain?: string;
}

export interface Fixture {
  ca: TestCa;
  postern: TestServer;
  dkimKey: DkimKey;
  /** The certificate the mail host serves (PEM). */
  mailCertificate: string;
  /** Hex SHA-256 of the served certificate's SPKI: the data of a 3 1 1 TLSA record. */
  spkiSha256: string;
  goodZone(): TestZone;
  run(defect?: Defect): Promise<Check[]>;
  close(): Promise<void>;
}

export function dkimKey(selector: string, bits: number): DkimKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    id: 1,
    domain: DOMAIN,
    selector,
    algorithm: 'rsa',
    bits,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    state: 'active',
    createdAt: new Date(),
    activatedAt: new Date(),
    retireAfter: null,
  };
}

export async function startFixture(): Promise<Fixture> {
  const ca = await createTestCa();
  const dir = tempDir('postern-dns-check-');
  const mail = await ca.issue([HOST]);
  fs.writeFileSync(path.join(dir, 'mx.crt'), mail.cert);
  fs.writeFileSync(path.join(dir, 'mx.key'), mail.key, { mode: 0o600 });
  const web = await ca.issue(['mta-sts.example.com', 'bimi.example.com']);
  const spkiSha256 = createHash('sha256')
    .update(new X509Certificate(mail.cert).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
  const key = dkimKey('s1', 2048);

  const served = { policy: { status: 200, contentType: 'text/plain', body: GOOD_POLICY }, logo: GOOD_LOGO };
  const web443 = https.createServer({ cert: web.cert, key: web.key }, (request, response) => {
    const host = request.headers.host?.split(':')[0];
    if (host === 'mta-sts.example.com' && request.url === '/.well-known/mta-sts.txt') {
      response.writeHead(served.policy.status, { 'content-type': served.policy.contentType });
      response.end(served.policy.body);
    } else if (host === 'bimi.example.com' && request.url === '/logo.svg') {
      response.writeHead(200, { 'content-type': 'image/svg+xml' });
      response.end(served.logo);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found');
    }
  });
  await new Promise<void>((resolve) => web443.listen(0, '127.0.0.1', resolve));
  const webPort = (web443.address() as AddressInfo).port;

  const goodZone = (): TestZone => ({
    records: {
      [DOMAIN]: { MX: [{ priority: 10, exchange: HOST }], TXT: ['v=spf1 mx -all', 'site-verification=abc123'] },
      // The HELO name's own SPF record, as dns records prints it (RFC 7208 §2.3).
      [HOST]: { A: ['192.0.2.1'], AAAA: ['2001:db8::25'], TXT: ['v=spf1 a -all'] },
      '192.0.2.1': { PTR: [HOST] },
      '2001:db8::25': { PTR: [HOST] },
      's1._domainkey.example.com': { TXT: [`v=DKIM1; k=rsa; p=${key.publicKey}`] },
      '_dmarc.example.com': {
        TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com,mailto:dmarc@reports.example.net'],
      },
      'example.com._report._dmarc.reports.example.net': { TXT: ['v=DMARC1'] },
      '_smtp._tls.example.com': { TXT: ['v=TLSRPTv1; rua=mailto:tls-reports@example.com'] },
      '_mta-sts.example.com': { TXT: ['v=STSv1; id=20250101T000000'] },
      'mta-sts.example.com': { A: ['127.0.0.1'] },
      'default._bimi.example.com': { TXT: ['v=BIMI1; l=https://bimi.example.com/logo.svg'] },
      'bimi.example.com': { A: ['127.0.0.1'] },
      '_25._tcp.mx.example.com': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: spkiSha256 }] },
    },
  });
  const dns: TestDnsServer = await startTestDnsServer(goodZone());
  let postern: TestServer;
  try {
    postern = await startTestServer({
      tls: { certificates: [{ cert: path.join(dir, 'mx.crt'), key: path.join(dir, 'mx.key') }] },
    });
  } catch (err) {
    await dns.close();
    web443.close();
    throw err;
  }

  return {
    ca,
    postern,
    dkimKey: key,
    mailCertificate: mail.cert,
    spkiSha256,
    goodZone,
    async run(defect = {}) {
      const zone = defect.replaceZone ?? goodZone();
      defect.zone?.(zone);
      dns.setZone(zone);
      served.policy = { status: 200, contentType: 'text/plain', body: GOOD_POLICY, ...defect.policy };
      served.logo = defect.logo ?? GOOD_LOGO;
      const keys = defect.keys ? defect.keys(key) : [key];
      const caa = defect.caa ?? { [DOMAIN]: [{ critical: false, tag: 'issue', value: 'ca.example.net' }] };
      const config = parseConfig(
        { ...configInput(defect.config), dns: { servers: [dns.server], timeoutMs: 1000, tries: 1 } },
        'test',
      );
      // No answer cache: each run sees its own zone.
      const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000, tries: 1, cacheTtlMs: 0 });
      return runDnsCheck(defect.domain ?? DOMAIN, {
        config,
        resolver,
        store: {
          listDkimKeys: async (domain?: string) => keys.filter((k) => domain === undefined || k.domain === domain),
        },
        probe: {
          host: '127.0.0.1',
          ports: { smtp: postern.port, submission: postern.submissionPort, submissions: postern.submissionsPort },
          ca: [ca.ca],
          timeoutMs: 5000,
          ...defect.probe,
        },
        fetch: createHttpsFetch({ resolver, ca: [ca.ca], port: webPort, timeoutMs: 5000 }),
        caa: async (name) => {
          const records = caa[name];
          return records ? { ok: true, records } : { ok: false, error: 'nodata' };
        },
        ...(defect.dnssec === null ? {} : { dnssec: defect.dnssec ?? (async () => 'signed' as const) }),
        ...(defect.now ? { now: defect.now } : {}),
      });
    },
    async close() {
      await postern.stop();
      await dns.close();
      await new Promise<void>((resolve) => {
        web443.closeAllConnections();
        web443.close(() => resolve());
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The configuration of the good setup (without dns, which the fixture adds), with `overrides`. */
export function configInput(overrides: Partial<ConfigInput> = {}): ConfigInput {
  return {
    hostname: HOST,
    domains: [DOMAIN],
    serverAddresses: ['192.0.2.1', '2001:db8::25'],
    publish: { caaIssuers: ['ca.example.net'], dmarcPolicy: 'reject' },
    mtaSts: { mode: 'enforce' },
    ...overrides,
  };
}

/** The ids of the checks that did not pass, sorted and without repeats: what a defect should produce. */
export function nonPass(checks: readonly Check[]): string[] {
  return [...new Set(checks.filter((c) => c.status !== 'pass').map((c) => c.id))].sort();
}
