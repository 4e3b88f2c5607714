// Connecting to PostgreSQL in the setups admins meet, and the errors they get when it fails:
// - no password configured where the server asks for one (SCRAM): a clear error at once, and the
//   socket closed (node-postgres left it open until the server's 60 s authentication_timeout). The
//   shared test server trusts loopback, so a small fake server on loopback plays the part: it
//   sends AuthenticationSASL and AuthenticationSASLContinue (PostgreSQL docs, "Message Formats"),
//   which is all the client reads before it finds it has no password;
// - PgBouncer in session mode in front of the server (docs/scaling.md): it refuses the `options`
//   startup parameter, so our settings (synchronous_commit, the timeouts) are SET per connection,
//   and must hold even where the database's own default differs. Run against a real pgbouncer,
//   started here on loopback; skipped where it is not installed;
// - max_connections exhausted (SQLSTATE 53300): a StoreUnavailableError that says what to change.
//   Played by a role whose CONNECTION LIMIT is 0, which the server refuses with the same code.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { createPool } from '../../src/store/postgres/postgres-store.ts';
import { StoreUnavailableError } from '../../src/store/store.ts';
import { freePort, waitForPort } from '../support/ports.ts';
import { queryPostgres as query, testPostgresServerUrl, withTestDatabase } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';
import { sampleDelivery } from './contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

/** An authentication request ('R') of the given kind (10 SASL, 11 SASLContinue) with its body. */
function authentication(kind: number, body: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.write('R', 0);
  header.writeInt32BE(8 + body.length, 1);
  header.writeInt32BE(kind, 5);
  return Buffer.concat([header, body]);
}

/**
 * A loopback server that speaks just enough of the protocol to ask for a SCRAM-SHA-256 password:
 * AuthenticationSASL after the startup message, AuthenticationSASLContinue after the client's first
 * SASL message. It then waits, as a server would until its authentication_timeout.
 */
async function passwordAskingServer() {
  const open = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let startupSeen = false;
    socket.on('data', (data) => {
      buffered = Buffer.concat([buffered, data]);
      for (;;) {
        // The startup message has no type byte; every later message does.
        const offset = startupSeen ? 1 : 0;
        if (buffered.length < offset + 4) return;
        const length = buffered.readInt32BE(offset);
        if (buffered.length < offset + length) return;
        const type = startupSeen ? String.fromCharCode(buffered[0]!) : 'startup';
        buffered = buffered.subarray(offset + length);
        if (type === 'startup') {
          startupSeen = true;
          socket.write(authentication(10, Buffer.from('SCRAM-SHA-256\0\0')));
        } else if (type === 'p') {
          const serverFirst = `r=${randomBytes(18).toString('base64')},s=${randomBytes(16).toString('base64')},i=4096`;
          socket.write(authentication(11, Buffer.from(serverFirst)));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    /** Connections the client has not closed. */
    get open() {
      return open.size;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('postgres: no password configured where the server asks for one is a clear error at once, and the socket is closed', async () => {
  // No password from the environment or a password file either (node-postgres reads both).
  const saved = { PGPASSWORD: process.env.PGPASSWORD, PGPASSFILE: process.env.PGPASSFILE };
  delete process.env.PGPASSWORD;
  process.env.PGPASSFILE = path.join(os.tmpdir(), `postern-no-such-pgpass-${process.pid}`);
  const server = await passwordAskingServer();
  try {
    const url = `postgres://postern@127.0.0.1:${server.port}/postern`;
    const started = Date.now();
    await assert.rejects(openPostgresStore({ url }), (error: Error) => {
      assert.ok(error instanceof StoreUnavailableError, `${error.name}: ${error.message}`);
      assert.match(
        error.message,
        /^PostgreSQL asked for a password and none is configured: put it in store\.url, PGPASSWORD or ~\/\.pgpass/,
      );
      assert.match(error.message, new RegExp(`postgres://postern@127\\.0\\.0\\.1:${server.port}/postern`));
      return true;
    });
    assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`);
    assert.equal(server.connections, 1);
    // Closed by us, not left for the server's authentication_timeout (which keeps a CLI from exiting).
    await waitFor(() => server.open === 0, 1000).catch(() => assert.fail('the connection was left open'));
  } finally {
    await server.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

function which(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const pgbouncer = which('pgbouncer');

/**
 * A private PgBouncer on loopback in session mode, in front of the test server, with no
 * `ignore_startup_parameters`: as installed, it refuses any startup parameter it does not know.
 */
async function startPgBouncer(): Promise<{ url(database: string): string; stop(): Promise<void> }> {
  const server = new URL(testPostgresServerUrl());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-pgbouncer-'));
  // PgBouncer will not run as root; as root it is told to switch to the server's user (-u), who
  // must be able to read its files.
  const asRoot = process.getuid?.() === 0;
  await chmod(dir, 0o755);
  const port = await freePort();
  const user = decodeURIComponent(server.username || 'postgres');
  await writeFile(path.join(dir, 'users.txt'), `"${user}" ""\n`, { mode: 0o644 });
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      'pool_mode = session',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const args = [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')];
  const child: ChildProcess = spawn(pgbouncer!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (data) => {
    log += data;
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  try {
    await waitForPort(port, 10_000, 'pgbouncer', () => exited);
  } catch (error) {
    child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}: ${log}`);
  }
  return {
    url: (database) => `postgres://${user}@127.0.0.1:${port}/${database}`,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await exit;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test(
  'postgres: works through PgBouncer in session mode, with synchronous_commit and the timeouts in force on every connection',
  { skip: pgbouncer ? false : 'pgbouncer is not installed' },
  () =>
    withTestDatabase(async ({ url, name }) => {
      // Where the database's own defaults differ, ours must still hold: no 250 without a flushed commit.
      await query(url, `ALTER DATABASE ${name} SET synchronous_commit = off`);
      await query(url, `ALTER DATABASE ${name} SET statement_timeout = 0`);
      const bouncer = await startPgBouncer();
      try {
        const bounced = bouncer.url(name);
        const timeouts = { statementMs: 4321, lockMs: 1234 };
        const store = await openPostgresStore({ url: bounced, poolSize: 2, applicationName: 'bounced', timeouts });
        try {
          const bob = await store.createAccount('bob@example.com', PHC);
          const receipt = await store.deliver(sampleDelivery([bob], 'through the bouncer'));
          assert.equal(receipt.placements.length, 1);
        } finally {
          await store.close();
        }
        const pool = createPool({ url: bounced, poolSize: 2, applicationName: 'bounced', timeouts });
        try {
          // Two connections at once, so both are new server sessions, each set up on its own.
          const rows = await Promise.all(
            [1, 2].map(async () => {
              const client = await pool.connect();
              try {
                return (
                  await client.query(
                    `SELECT current_setting('synchronous_commit') AS synchronous_commit,
                            current_setting('statement_timeout') AS statement_timeout,
                            current_setting('lock_timeout') AS lock_timeout,
                            current_setting('application_name') AS application_name`,
                  )
                ).rows[0];
              } finally {
                client.release();
              }
            }),
          );
          for (const row of rows) {
            assert.deepEqual(row, {
              synchronous_commit: 'on',
              statement_timeout: '4321ms',
              lock_timeout: '1234ms',
              application_name: 'bounced',
            });
          }
        } finally {
          await pool.end();
        }
      } finally {
        await bouncer.stop();
      }
    }),
);

test('postgres: too many connections (SQLSTATE 53300) is a StoreUnavailableError that says what to change', async () => {
  const admin = testPostgresServerUrl();
  const role = `postern_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await query(admin, `CREATE ROLE ${role} LOGIN`);
  try {
    await withTestDatabase(async ({ url, name }) => {
      await query(admin, `ALTER DATABASE ${name} OWNER TO ${role}`);
      const asRole = new URL(url);
      asRole.username = role;
      const roleUrl = asRole.toString();
      const setup = await openPostgresStore({ url: roleUrl, poolSize: 1 });
      const bob = await setup.createAccount('bob@example.com', PHC);
      await setup.close();
      // Opened (and migrated) while connections were allowed; its pool has none open yet.
      const store = await openPostgresStore({ url: roleUrl, poolSize: 2 });
      await query(admin, `ALTER ROLE ${role} CONNECTION LIMIT 0`);
      const hint =
        /^PostgreSQL refused a connection: too many connections \(max_connections\); lower store\.poolSize on the nodes or raise max_connections \(the server said: too many connections for role/;
      try {
        // At the end of data (the 451 of a delivery) and at RCPT (an address lookup).
        await assert.rejects(store.deliver(sampleDelivery([bob], 'refused')), (error: Error) => {
          assert.ok(error instanceof StoreUnavailableError, `${error.name}: ${error.message}`);
          assert.match(
            error.message,
            /^delivery transaction failed: PostgreSQL refused a connection: too many connections/,
          );
          return true;
        });
        await assert.rejects(store.resolveAddress('bob@example.com'), (error: Error) => {
          assert.ok(error instanceof StoreUnavailableError, `${error.name}: ${error.message}`);
          assert.match(error.message, hint);
          return true;
        });
      } finally {
        await store.close();
      }
      // At start (serve and the CLI).
      await assert.rejects(openPostgresStore({ url: roleUrl }), (error: Error) => {
        assert.ok(error instanceof StoreUnavailableError, `${error.name}: ${error.message}`);
        assert.match(error.message, hint);
        return true;
      });
    });
  } finally {
    await query(admin, `DROP ROLE IF EXISTS ${role}`);
  }
});
