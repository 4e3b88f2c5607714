/**
 * The loopback DNS server every server-level test points Postern at (ARCHITECTURE.md principle 6):
 * the domains test senders use exist, with MX and A records, so the default sender restrictions
 * (reject_unknown_sender_domain) pass them; nothing is ever asked of a real resolver.
 * The test run's global setup starts one and passes it in POSTERN_TEST_DNS; a test file run on its
 * own starts its own.
 */
import { startTestDnsServer, type TestDnsServer, type TestZone } from '../../src/dns/test-server.ts';

export const DEFAULT_TEST_ZONE: TestZone = {
  records: {
    'example.com': { MX: [{ priority: 10, exchange: 'mx.example.com' }], A: ['192.0.2.1'] },
    'mx.example.com': { A: ['192.0.2.1'] },
    'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }], A: ['192.0.2.10'] },
    'mx.example.net': { A: ['192.0.2.10'] },
    'example.org': { MX: [{ priority: 10, exchange: 'mx.example.org' }], A: ['192.0.2.20'] },
    'mx.example.org': { A: ['192.0.2.20'] },
    'client.example': { A: ['192.0.2.30'] },
  },
};

let own: Promise<TestDnsServer> | undefined;
let users = 0;

/**
 * `127.0.0.1:PORT` of the shared test DNS server, starting one in this process if none runs; call
 * `release` when done, so a server started here closes with its last user and the process can exit.
 */
export async function acquireTestDns(): Promise<{ server: string; release(): Promise<void> }> {
  const shared = process.env.POSTERN_TEST_DNS;
  if (shared && !own) return { server: shared, release: async () => {} };
  users++;
  own ??= startTestDnsServer(DEFAULT_TEST_ZONE);
  const started = await own;
  return {
    server: started.server,
    async release() {
      if (--users > 0 || !own) return;
      own = undefined;
      await started.close();
    },
  };
}
