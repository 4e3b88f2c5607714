// SubmissionAuth on its own: an exchange never outlives its session, even one that ends while the
// first step waits on the store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { SubmissionAuth } from '../../src/server/submission-auth.ts';
import type { Peer } from '../../src/smtp/envelope.ts';
import { NullStore } from '../../src/store/null-store.ts';
import {
  type Account,
  type LoginFailureOptions,
  type LoginFailureRecord,
  StoreUnavailableError,
} from '../../src/store/store.ts';

/** A store whose block check answers only when told to. */
class SlowStore extends NullStore {
  release: () => void = () => {};
  override loginBlockedUntil(): Promise<Date | null> {
    return new Promise((resolve) => {
      this.release = () => resolve(null);
    });
  }
}

const peer: Peer = {
  sessionId: 's1',
  remoteAddress: '192.0.2.7',
  remotePort: 4000,
  localAddress: '127.0.0.1',
  localPort: 587,
};

/** The server-first message's attributes (RFC 5802 §5.1: r, s, i) for a SCRAM exchange begun as `user`. */
async function serverFirst(auth: SubmissionAuth, user: string): Promise<Record<string, string>> {
  const first = await auth.step(
    { type: 'auth', mechanism: 'SCRAM-SHA-256', response: Buffer.from(`n,,n=${user},r=abcdefghijklmnop`), first: true },
    peer,
  );
  auth.forget(peer);
  assert.equal(first.action, 'challenge');
  const data = first.action === 'challenge' ? first.data.toString() : '';
  return Object.fromEntries(data.split(',').map((attribute) => [attribute.slice(0, 1), attribute.slice(2)]));
}

test('a session that ends while AUTH waits on the store leaves no exchange behind', async () => {
  const store = new SlowStore([]);
  const auth = new SubmissionAuth(store, parseConfig({}, 'test').auth, createLogger('silent'));
  const step = auth.step({ type: 'auth', mechanism: 'PLAIN', response: undefined, first: true }, peer);
  auth.forget(peer); // the client hung up: the session ends before the store answers
  store.release();
  const outcome = await step;
  assert.equal(outcome.action, 'reject');
  assert.equal(auth.pendingExchanges, 0, 'nothing kept for a session that is gone');
  // A live session's exchange is kept while its 334 waits for the answer.
  const other: Peer = { ...peer, sessionId: 's2' };
  const waiting = auth.step({ type: 'auth', mechanism: 'PLAIN', response: undefined, first: true }, other);
  store.release();
  assert.equal((await waiting).action, 'challenge');
  assert.equal(auth.pendingExchanges, 1);
  auth.forget(other);
  assert.equal(auth.pendingExchanges, 0);
});

test("SCRAM: an unknown user's made-up salt comes from the store's secret: the same on two nodes and after a restart", async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { openSqliteStore } = await import('../../src/store/sqlite/index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'postern-salt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({}, 'test').auth;
  const saltFrom = async (auth: SubmissionAuth, user: string) => (await serverFirst(auth, user)).s;
  const one = await openSqliteStore({ dataDir: join(dir, 'data') });
  const before = await saltFrom(new SubmissionAuth(one, config, createLogger('silent')), 'ghost@example.com');
  const beside = await saltFrom(new SubmissionAuth(one, config, createLogger('silent')), 'ghost@example.com');
  await one.close();
  const again = await openSqliteStore({ dataDir: join(dir, 'data') });
  t.after(() => again.close());
  const after = await saltFrom(new SubmissionAuth(again, config, createLogger('silent')), 'ghost@example.com');
  assert.ok(before);
  assert.equal(beside, before, 'another node on the same store');
  assert.equal(after, before, 'after a restart');
  assert.notEqual(
    await saltFrom(new SubmissionAuth(again, config, createLogger('silent')), 'other@example.com'),
    before,
  );
});

test('SCRAM: an unknown user is offered the iteration count accounts are given (auth.scramIterations)', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { openSqliteStore } = await import('../../src/store/sqlite/index.ts');
  const { hashPassword } = await import('../../src/accounts/password.ts');
  const { deriveScramCredentials, formatScramCredentials } = await import('../../src/accounts/sasl/scram.ts');
  const dir = mkdtempSync(join(tmpdir(), 'postern-iterations-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({ auth: { scramIterations: 100_000 } }, 'test').auth;
  const store = await openSqliteStore({ dataDir: join(dir, 'data') });
  t.after(() => store.close());
  // As `user add` stores it with that setting (src/cli/commands/user.ts).
  const scram = formatScramCredentials(deriveScramCredentials('a right password', { iterations: 100_000 }));
  await store.createAccount('dave@example.com', await hashPassword('a right password'), scram);
  const auth = new SubmissionAuth(store, config, createLogger('silent'));
  const iterationsFor = async (user: string) => (await serverFirst(auth, user)).i;
  assert.equal(await iterationsFor('dave@example.com'), '100000');
  // RFC 5802 §7: were it 4,096, the count alone would tell which addresses are accounts.
  assert.equal(await iterationsFor('nosuchuser@example.com'), '100000');
});

test('a blocked client: its right password is refused as its wrong ones are, delay and all', async () => {
  const { hashPassword } = await import('../../src/accounts/password.ts');
  const account: Account = {
    id: 1,
    address: 'carol@example.com',
    passwordHash: await hashPassword('right'),
    scram: null,
    disabled: false,
    createdAt: new Date(),
  };
  /**
   * Another node blocks the address while this one checks the password: the block is not there when
   * the step starts, and is when it ends.
   */
  class BlockedMeanwhile extends NullStore {
    asked = 0;
    override async loginBlockedUntil(): Promise<Date | null> {
      return this.asked++ % 2 === 0 ? null : new Date(Date.now() + 60_000);
    }
    // The other node's block is in the row a failure is counted in, as in the real stores.
    override async recordLoginFailure(key: string, options: LoginFailureOptions): Promise<LoginFailureRecord> {
      const record = await super.recordLoginFailure(key, options);
      return key.startsWith('ip:') ? { ...record, blockedUntil: new Date(Date.now() + 60_000) } : record;
    }
  }
  const options = parseConfig({ auth: { failureDelayMs: 300 } }, 'test').auth;
  const answer = async (password: string) => {
    const store = new BlockedMeanwhile([account]);
    const auth = new SubmissionAuth(store, options, createLogger('silent'));
    const started = performance.now();
    const outcome = await auth.step(
      {
        type: 'auth',
        mechanism: 'PLAIN',
        response: Buffer.from(`\0carol@example.com\0${password}`),
        first: true,
      },
      peer,
    );
    return { outcome, ms: performance.now() - started };
  };
  const right = await answer('right');
  const wrong = await answer('wrong');
  assert.equal(right.outcome.action, 'reject');
  assert.equal(wrong.outcome.action, 'reject');
  const code = (o: typeof right.outcome) => ('reply' in o ? o.reply.code : undefined);
  assert.equal(code(right.outcome), 454, 'blocked');
  assert.equal(code(wrong.outcome), 454, 'blocked');
  // Before, the right password's 454 came at once and the wrong ones' after the failure delay.
  assert.ok(right.ms >= 290, `the right password waits the failure delay too (${right.ms.toFixed(0)} ms)`);
  assert.ok(wrong.ms >= 290, `${wrong.ms.toFixed(0)} ms`);
});

test('a guess whose client hangs up before the answer is counted all the same', async () => {
  const store = new NullStore([]);
  const options = parseConfig({ auth: { failureDelayMs: 0 } }, 'test').auth;
  const auth = new SubmissionAuth(store, options, createLogger('silent'));
  const step = auth.step(
    { type: 'auth', mechanism: 'PLAIN', response: Buffer.from('\0nobody@example.com\0guess'), first: true },
    peer,
  );
  auth.forget(peer); // the client wrote its guess and closed the connection at once
  assert.equal((await step).action, 'reject');
  // Before, a guess from a session gone by the time it was checked was not counted.
  const next = await store.recordLoginFailure('ip:192.0.2.7', {
    now: new Date(),
    windowMs: 60_000,
    threshold: 100,
    blockMs: 0,
  });
  assert.equal(next.count, 2, 'the guess was counted before this one');
  assert.equal(auth.pendingExchanges, 0);
});

test('a store that fails while a login is checked: 454 4.7.0, the temporary failure RFC 4954 §6 names, and no exchange kept', async () => {
  class Down extends NullStore {
    override async findAccount(): Promise<Account | undefined> {
      throw new StoreUnavailableError('database is locked');
    }
  }
  const auth = new SubmissionAuth(new Down([]), parseConfig({}, 'test').auth, createLogger('silent'));
  const response = Buffer.from('\0carol@example.com\0correct horse');
  const outcome = await auth.step({ type: 'auth', mechanism: 'PLAIN', response, first: true }, peer);
  assert.equal(outcome.action, 'reject');
  assert.deepEqual(outcome.action === 'reject' && [outcome.reply.code, outcome.reply.enhanced], [454, '4.7.0']);
  assert.equal(auth.pendingExchanges, 0);
});

test('a username whose domain is in U-labels logs in to the A-label account: looked up, counted and named in A-labels', async () => {
  const { hashPassword } = await import('../../src/accounts/password.ts');
  const { deriveScramCredentials, formatScramCredentials } = await import('../../src/accounts/sasl/scram.ts');
  const account: Account = {
    id: 7,
    address: 'bob@xn--bcher-kva.example',
    passwordHash: await hashPassword('right'),
    scram: formatScramCredentials(deriveScramCredentials('right')),
    disabled: false,
    createdAt: new Date(),
  };
  class Watched extends NullStore {
    readonly looked: string[] = [];
    readonly counted: string[] = [];
    override findAccount(address: string): Promise<Account | undefined> {
      this.looked.push(address);
      return super.findAccount(address);
    }
    override recordLoginFailure(key: string, options: LoginFailureOptions): Promise<LoginFailureRecord> {
      this.counted.push(key);
      return super.recordLoginFailure(key, options);
    }
  }
  const store = new Watched([account]);
  const auth = new SubmissionAuth(
    store,
    parseConfig({ auth: { failureDelayMs: 0 } }, 'test').auth,
    createLogger('silent'),
  );
  const plain = (user: string, password: string) =>
    auth.step({ type: 'auth', mechanism: 'PLAIN', response: Buffer.from(`\0${user}\0${password}`), first: true }, peer);
  // RFC 5890 §2.3.2.1: U-labels and A-labels are one name; NFD is the same U-label (RFC 5891 §5.2).
  for (const user of [
    'bob@bücher.example',
    'bob@bu\u0308cher.example',
    'Bob@BÜCHER.Example',
    'bob@xn--bcher-kva.example',
  ]) {
    const outcome = await plain(user, 'right');
    assert.deepEqual(
      outcome.action === 'success' && [outcome.username.toLowerCase(), outcome.accountId],
      ['bob@xn--bcher-kva.example', 7],
      user,
    );
  }
  assert.equal((await plain('bob@bücher.example', 'wrong')).action, 'reject');
  assert.ok(store.counted.includes('account:bob@xn--bcher-kva.example'), store.counted.join(' '));
  assert.ok(!store.looked.some((name) => /[^\x00-\x7f]/.test(name)), store.looked.join(' '));
  // A username that is not an address, or whose domain converts to nothing, is looked up as before.
  store.looked.length = 0;
  await plain('Bob', 'wrong');
  await plain('bob@bü/cher.example', 'wrong');
  assert.deepEqual(store.looked, ['bob', 'bob@bü/cher.example']);
  // SCRAM: the U-label name gets the account's own salt, and an unknown one the salt its A-label
  // spelling gets: were the made-up salts to differ where real ones agree, they would tell which
  // accounts exist (RFC 5802 §7).
  const saltOf = async (user: string) => (await serverFirst(auth, user)).s;
  assert.equal(await saltOf('bob@bücher.example'), await saltOf('bob@xn--bcher-kva.example'));
  const ghost = await saltOf('ghost@xn--bcher-kva.example');
  assert.ok(ghost);
  assert.equal(await saltOf('ghost@bücher.example'), ghost);
  assert.equal(await saltOf('ghost@bu\u0308cher.example'), ghost);
  // And letter case, as the look-up ignores it: a made-up salt that changed with it told the same.
  assert.equal(await saltOf('Ghost@XN--BCHER-KVA.example'), ghost);
  assert.equal(await saltOf('BOB@bücher.example'), await saltOf('bob@xn--bcher-kva.example'));
  const plainGhost = await saltOf('nobody@example.com');
  assert.equal(await saltOf('NoBody@Example.COM'), plainGhost);
});

test('a failed login whose name is no address (a password in the user field) is not logged as typed', async () => {
  const lines: Record<string, unknown>[] = [];
  const { Writable } = await import('node:stream');
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const auth = new SubmissionAuth(
    new NullStore([]),
    parseConfig({ auth: { failureDelayMs: 0 } }, 'test').auth,
    createLogger('info', sink),
  );
  const plain = (user: string) =>
    auth.step({ type: 'auth', mechanism: 'PLAIN', response: Buffer.from(`\0${user}\0guess`), first: true }, peer);
  for (const user of ['s3cret-pässwörd!', 'p@ssw0rd', 'carol@example.com']) {
    assert.equal((await plain(user)).action, 'reject', user);
  }
  await new Promise((resolve) => setImmediate(resolve));
  const names = lines.filter((line) => String(line.msg).startsWith('login failed')).map((line) => line.user);
  assert.deepEqual(names, [
    '(not an address, 16 characters: not logged, it may be a password)',
    '(not an address, 8 characters: not logged, it may be a password)',
    'carol@example.com',
  ]);
  assert.ok(!JSON.stringify(lines).includes('s3cret'), JSON.stringify(lines));
});

test('serve warns of accounts whose SCRAM count is below auth.scramIterations: the count tells they are accounts', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { openSqliteStore } = await import('../../src/store/sqlite/index.ts');
  const { startTestServer, TEST_PASSWORD_HASH } = await import('../support/server.ts');
  const { deriveScramCredentials, formatScramCredentials } = await import('../../src/accounts/sasl/scram.ts');
  const dir = mkdtempSync(join(tmpdir(), 'postern-old-count-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const store = await openSqliteStore({ dataDir });
  const scram = (iterations: number) => formatScramCredentials(deriveScramCredentials('a password', { iterations }));
  await store.createAccount('old@example.com', TEST_PASSWORD_HASH, scram(4096));
  await store.createAccount('new@example.com', TEST_PASSWORD_HASH, scram(100_000));
  await store.close();
  const server = await startTestServer({ dataDir, auth: { scramIterations: 100_000 }, log: { level: 'warn' } });
  t.after(() => server.stop());
  const warning = server.logs().find((line) => String(line.msg).startsWith('auth.scramIterations:'));
  assert.ok(warning, 'a warning at start');
  assert.equal(warning.accounts, 1);
  assert.match(String(warning.msg), /old@example\.com/);
  assert.doesNotMatch(String(warning.msg), /new@example\.com/);
  assert.match(String(warning.msg), /postern user passwd/);
});
