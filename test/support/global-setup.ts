/**
 * Runs once before the test files (node --test --test-global-setup): makes sure a PostgreSQL server
 * is there for the PostgreSQL store tests, passes its URL to every test process, drops test
 * databases that runs killed half-way left behind (their process is gone), and starts the loopback
 * DNS server the servers under test use (test/support/dns.ts).
 */

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { startTestDnsServer, type TestDnsServer } from '../../src/dns/test-server.ts';
import { DEFAULT_TEST_ZONE } from './dns.ts';

let dns: TestDnsServer | undefined;

export async function globalSetup(): Promise<void> {
  if (!process.env.POSTERN_TEST_PG_URL) {
    const script = path.join(import.meta.dirname, '../../.ci/postgres.sh');
    const url = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 });
    process.env.POSTERN_TEST_PG_URL = url.trim();
  }
  await dropLeftovers(process.env.POSTERN_TEST_PG_URL);
  // One loopback DNS server for the whole run, so servers under test never ask a real resolver.
  if (!process.env.POSTERN_TEST_DNS) {
    dns = await startTestDnsServer(DEFAULT_TEST_ZONE);
    process.env.POSTERN_TEST_DNS = dns.server;
  }
}

export async function globalTeardown(): Promise<void> {
  await dns?.close();
}

async function dropLeftovers(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch {
    return; // the tests that need the server will say it is unreachable
  }
  try {
    const { rows } = await client.query("SELECT datname FROM pg_database WHERE datname LIKE 'postern\\_test\\_%'");
    for (const { datname } of rows as { datname: string }[]) {
      const pid = Number(/^postern_test_(\d+)_/.exec(datname)?.[1]);
      if (pid && !alive(pid)) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
  } finally {
    await client.end();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
