/**
 * A test server with the phishing filter on, and its own DNS server on loopback serving `zone`: for
 * tests of the filter stage over SMTP, where senders' SPF must pass (sendingDomain).
 */
import { startTestDnsServer, type TestZone } from '../../src/dns/test-server.ts';
import { startTestServer, type TestOverrides, type TestServer } from './server.ts';

type Context = { after(fn: () => unknown): void };

/** A sending domain: its MX host, and an SPF record that passes for mail from 127.0.0.0/8. */
export function sendingDomain(name: string): TestZone['records'] {
  return {
    [name]: { MX: [{ priority: 10, exchange: `mx.${name}` }], A: ['192.0.2.50'], TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
    [`mx.${name}`]: { A: ['192.0.2.50'] },
  };
}

export async function filteringServer(t: Context, zone: TestZone, overrides: TestOverrides = {}): Promise<TestServer> {
  const dns = await startTestDnsServer(zone);
  t.after(() => dns.close());
  // filter: {} turns phishing scoring back on (the test support server turns it off).
  const server = await startTestServer({
    dns: { servers: [dns.server], timeoutMs: 300, tries: 1 },
    filter: {},
    ...overrides,
  });
  t.after(() => server.stop());
  return server;
}
