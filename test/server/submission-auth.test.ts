// SubmissionAuth on its own: an exchange never outlives its session, even one that ends while the
// first step waits on the store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { SubmissionAuth } from '../../src/server/submission-auth.ts';
import type { Peer } from '../../src/smtp/envelope.ts';
import { NullStore } from '../../src/store/null-store.ts';

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
