// A PostgreSQL that holds a lock or answers nothing must cost a delivery a bounded wait, then a
// StoreUnavailableError (the SMTP side's 451), with nothing stored: an SMTP client gives up after
// 10 minutes at the final dot (RFC 5321 §4.5.3.2.6) and sends the message again, so a commit after
// that would store it twice. The bounds (src/store/postgres/pool.ts) are shortened here to seconds.
// - a lock (LOCK TABLE from another connection): lock_timeout/statement_timeout cancel the statement
//   on the server and the transaction rolls back;
// - a server that answers nothing (a loopback proxy that stops forwarding, a network black hole):
//   the client's query_timeout fails the delivery and destroys the connection;
// - close() while a delivery hangs: it ends on time, and the server rolls the delivery back.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { StoreUnavailableError } from '../../src/store/store.ts';
import { queryPostgres as query, testPostgresServerUrl, withTestDatabase } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';
import { sampleDelivery } from './contract.ts';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

type Outcome =
  | { settled: false }
  | { settled: true; ok: true; value: unknown }
  | { settled: true; ok: false; error: Error };

/** How `promise` turned out within `ms` (a hang is an outcome too, not a test that never ends). */
async function within(promise: Promise<unknown>, ms: number): Promise<Outcome & { elapsedMs: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race<Outcome>([
    promise.then(
      (value) => ({ settled: true, ok: true, value }),
      (error: Error) => ({ settled: true, ok: false, error }),
    ),
    new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ settled: false }), ms);
    }),
  ]);
  clearTimeout(timer);
  return { ...outcome, elapsedMs: Date.now() - started };
}

function assertUnavailable(outcome: Outcome & { elapsedMs: number }, what: string, maxMs: number): Error {
  assert.ok(outcome.settled, `${what} still pending after ${outcome.elapsedMs} ms`);
  assert.ok(!outcome.ok, `${what} succeeded`);
  assert.ok(outcome.error instanceof StoreUnavailableError, `${outcome.error.name}: ${outcome.error.message}`);
  assert.ok(outcome.elapsedMs < maxMs, `${what} took ${outcome.elapsedMs} ms`);
  return outcome.error;
}

async function storedMessages(url: string): Promise<number> {
  return Number((await query(url, 'SELECT count(*) AS n FROM messages'))[0]?.n);
}

/** Holds `LOCK TABLE messages IN ACCESS EXCLUSIVE MODE` in an open transaction until released. */
async function lockMessages(url: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE messages IN ACCESS EXCLUSIVE MODE');
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query('ROLLBACK').catch(() => {});
      await client.end().catch(() => {});
    },
  };
}

test('postgres: a delivery behind a held lock fails within lock_timeout as unavailable, and is not stored once the lock goes', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({
      url,
      poolSize: 2,
      timeouts: { statementMs: 2000, lockMs: 1000, queryMs: 5000, closeMs: 5000 },
    });
    const bob = await store.createAccount('bob@example.com', PHC);
    const lock = await lockMessages(url);
    try {
      const outcome = await within(store.deliver(sampleDelivery([bob], 'while locked')), 6000);
      const error = assertUnavailable(outcome, 'the delivery', 4000);
      assert.ok(outcome.elapsedMs >= 900, `failed after ${outcome.elapsedMs} ms, before the lock_timeout`);
      assert.match(error.message, /lock timeout/);
      await lock.release();
      assert.equal(await storedMessages(url), 0, 'the cancelled delivery was rolled back');
      const after = await store.deliver(sampleDelivery([bob], 'after the lock'));
      assert.equal(after.placements.length, 1, 'the store delivers again');
      assert.equal(await storedMessages(url), 1);
    } finally {
      await lock.release();
      await store.close();
    }
  }));

test('postgres: statement_timeout bounds a statement where no lock_timeout is set', () =>
  withTestDatabase(async ({ url }) => {
    const store = await openPostgresStore({
      url,
      poolSize: 2,
      timeouts: { statementMs: 1000, lockMs: 0, queryMs: 5000, closeMs: 5000 },
    });
    const bob = await store.createAccount('bob@example.com', PHC);
    const lock = await lockMessages(url);
    try {
      const outcome = await within(store.deliver(sampleDelivery([bob], 'while locked')), 6000);
      assert.match(assertUnavailable(outcome, 'the delivery', 4000).message, /statement timeout/);
      await lock.release();
      assert.equal(await storedMessages(url), 0);
    } finally {
      await lock.release();
      await store.close();
    }
  }));

/** TCP sockets open in this process. */
function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'TCPSocketWrap').length;
}

async function waitUntil(condition: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A TCP proxy on loopback to the test server that can stop forwarding (both ways) without closing
 * anything: what a frozen database host or a network black hole looks like from Postern's side. It
 * keeps half-open sockets open, as a frozen peer would not answer a FIN either.
 */
async function blackHoleProxy(target: { host: string; port: number }) {
  let frozen = false;
  /** Freezes at the first chunk from Postern holding this text, before forwarding it. */
  let freezeAt: string | undefined;
  /** What Postern sent while frozen, per upstream socket, for thaw() to deliver late. */
  const held = new Map<net.Socket, Buffer[]>();
  const sockets = new Set<net.Socket>();
  let clientsHungUp = 0;
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (data) => {
      if (freezeAt !== undefined && data.includes(freezeAt)) {
        frozen = true;
        freezeAt = undefined;
      }
      if (!frozen) upstream.write(data);
      else held.set(upstream, [...(held.get(upstream) ?? []), data]);
    });
    upstream.on('data', (data) => frozen || client.write(data));
    client.on('end', () => {
      clientsHungUp++; // Postern closed this connection (FIN)
      if (!frozen) upstream.end();
    });
    upstream.on('end', () => frozen || client.end());
    client.on('close', () => {
      sockets.delete(client);
      if (!frozen) upstream.destroy();
    });
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze() {
      frozen = true;
    },
    freezeAt(text: string) {
      freezeAt = text;
    },
    /** The path heals: what was held reaches the server, then each connection Postern closed ends. */
    thaw() {
      frozen = false;
      for (const [upstream, chunks] of held) {
        for (const chunk of chunks) upstream.write(chunk);
        upstream.end();
      }
      held.clear();
    },
    /** The proxy's own open sockets (both sides of each connection). */
    get sockets() {
      return sockets.size;
    },
    /** Connections Postern has closed. */
    get clientsHungUp() {
      return clientsHungUp;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A store of the test database reached through a blackHoleProxy, with client bounds of a second. */
async function storeBehindProxy(url: string, applicationName: string) {
  const target = new URL(testPostgresServerUrl());
  const proxy = await blackHoleProxy({ host: target.hostname, port: Number(target.port || 5432) });
  const proxied = new URL(url);
  proxied.host = `127.0.0.1:${proxy.port}`;
  const store = await openPostgresStore({
    url: proxied.toString(),
    poolSize: 2,
    applicationName,
    timeouts: { connectMs: 1000, statementMs: 10_000, lockMs: 10_000, queryMs: 1000, closeMs: 1000 },
  });
  return { proxy, store };
}

test('postgres: a server that answers nothing fails a delivery within query_timeout, drops that connection, and close() still ends', () =>
  withTestDatabase(async ({ url }) => {
    const { proxy, store } = await storeBehindProxy(url, 'blackhole');
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      await store.deliver(sampleDelivery([bob], 'before'));
      // Two connections open, both idle (the delivery's NOTIFY answered too): the delivery below is
      // sent to a server it is connected to, and close() has an idle connection to say goodbye on.
      await Promise.all([store.findAccount('bob@example.com'), store.findAccount('bob@example.com')]);
      await waitUntil(async () => {
        const rows = await query(url, "SELECT state FROM pg_stat_activity WHERE application_name = 'blackhole'");
        return rows.length === 2 && rows.every((row) => row.state === 'idle');
      }, 5000);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the answers reach the client
      const hungUpBefore = proxy.clientsHungUp;
      proxy.freeze();
      const outcome = await within(store.deliver(sampleDelivery([bob], 'into the void')), 6000);
      assert.match(assertUnavailable(outcome, 'the delivery', 3000).message, /did not answer in time/);
      // Destroyed, not returned to the pool (where its late answer could meet the next caller).
      await waitFor(() => proxy.clientsHungUp > hungUpBefore, 1000);
      // The idle connection's goodbye is never answered either: close() gives up at closeMs.
      const closing = await within(store.close(), 6000);
      assert.ok(closing.settled, `close() still pending after ${closing.elapsedMs} ms`);
      assert.ok(closing.elapsedMs < 2500, `close() took ${closing.elapsedMs} ms`);
      // ...and leaves no socket of the store open (one would keep the process from exiting).
      await waitFor(() => tcpSockets() === proxy.sockets, 500).catch(() => {
        assert.fail(`${tcpSockets() - proxy.sockets} sockets of the store still open after close()`);
      });
    } finally {
      await proxy.close();
      await store.close().catch(() => {});
    }
    assert.equal(await storedMessages(url), 1, 'only the message sent before the freeze');
  }));

test('postgres: a delivery whose statement reaches the server only after the client gave up is not stored (no duplicate on retry)', () =>
  withTestDatabase(async ({ url }) => {
    // A path that stalls with the delivery's statement on it, then heals after the 451: sent as one
    // autocommitted statement, it ran and committed when its bytes arrived, and the sender's retry
    // stored the message again.
    const { proxy, store } = await storeBehindProxy(url, 'stall');
    try {
      const bob = await store.createAccount('bob@example.com', PHC);
      await store.deliver(sampleDelivery([bob], 'before'));
      const hungUpBefore = proxy.clientsHungUp;
      proxy.freezeAt('postern_deliver');
      const outcome = await within(store.deliver(sampleDelivery([bob], 'held on the way')), 6000);
      assertUnavailable(outcome, 'the delivery', 3000);
      await waitFor(() => proxy.clientsHungUp > hungUpBefore, 1000);
      proxy.thaw();
      // The server has read the statement, run it and seen the connection end.
      await waitUntil(
        async () =>
          (await query(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'stall'"))[0]
            ?.n === 1,
        5000,
      );
    } finally {
      await proxy.close();
      await store.close().catch(() => {});
    }
    assert.equal(await storedMessages(url), 1, 'only the message delivered before the stall');
  }));

test('postgres: close() ends within closeMs while a delivery waits on a lock, the delivery fails, and the server rolls it back', () =>
  withTestDatabase(async ({ url }) => {
    // No server-side or query bound at all: only close()'s own deadline can end the wait.
    const store = await openPostgresStore({
      url,
      poolSize: 2,
      applicationName: 'closing',
      timeouts: { statementMs: 0, lockMs: 0, queryMs: 0, closeMs: 1000 },
    });
    const bob = await store.createAccount('bob@example.com', PHC);
    const lock = await lockMessages(url);
    const backends = async (where: string) =>
      Number(
        (await query(url, `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'closing' ${where}`))[0]
          ?.n,
      );
    try {
      const delivery = store.deliver(sampleDelivery([bob], 'at shutdown'));
      delivery.catch(() => {}); // looked at below
      await waitUntil(async () => (await backends("AND wait_event_type = 'Lock'")) > 0, 5000);
      const closing = await within(store.close(), 6000);
      assert.ok(closing.settled, `close() still pending after ${closing.elapsedMs} ms`);
      assert.ok(closing.elapsedMs < 2500, `close() took ${closing.elapsedMs} ms`);
      assertUnavailable(await within(delivery, 1000), 'the delivery', 1000);
      // The backend sees the closed socket (client_connection_check_interval) and rolls back, even
      // before the lock goes: it would otherwise commit, unseen, as soon as the lock is released.
      await waitUntil(async () => (await backends('')) === 0, 5000);
      await lock.release();
      assert.equal(await storedMessages(url), 0, 'the abandoned delivery was not committed');
    } finally {
      await lock.release();
      await store.close().catch(() => {});
    }
  }));
