/**
 * A real PostgreSQL for the tests. The server comes from POSTERN_TEST_PG_URL, which the global
 * setup (test/support/global-setup.ts) sets when it is missing, finding or starting a server on
 * loopback with .ci/postgres.sh. Each caller gets its own fresh database, dropped afterwards.
 */

import { randomBytes } from 'node:crypto';
import pg from 'pg';

export function testPostgresServerUrl(): string {
  const url = process.env.POSTERN_TEST_PG_URL;
  if (!url) {
    throw new Error('POSTERN_TEST_PG_URL is not set: run the tests with `npm test` (its global setup finds a server)');
  }
  return url;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates an empty database named for this process, on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = testPostgresServerUrl();
  const name = `postern_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    // FORCE ends any connection a failed test left open (PostgreSQL 13+).
    drop: async () => {
      await withAdmin(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`the test PostgreSQL at ${url} is not reachable: ${(error as Error).message}`, { cause: error });
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `work` with a fresh database and always drops it. */
export async function withTestDatabase<T>(work: (database: TestDatabase) => Promise<T>): Promise<T> {
  const database = await createTestDatabase();
  try {
    return await work(database);
  } finally {
    await database.drop();
  }
}

/** One statement on its own connection (a test's view of the database, beside the store's pool). */
export async function queryPostgres(url: string, text: string, values?: unknown[]): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}
