/**
 * Runs once before the test files (node --test --test-global-setup): makes sure a PostgreSQL server
 * is there for the PostgreSQL store tests, and passes its URL to every test process.
 */

import { execFileSync } from 'node:child_process';
import path from 'node:path';

export async function globalSetup(): Promise<void> {
  if (process.env.POSTERN_TEST_PG_URL) return;
  const script = path.join(import.meta.dirname, '../../.ci/postgres.sh');
  const url = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 }).trim();
  process.env.POSTERN_TEST_PG_URL = url;
}
