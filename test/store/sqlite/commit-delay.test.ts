// The writer thread's commit delay (src/store/sqlite/commit-delay.ts), with a real second thread
// doing what the main thread does (posting writes, reporting the mail transactions under way, closing):
// the writer waits only for transactions under way, and wakes as soon as what it waits for is there
// (no lost wake-up), or at the delay's end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { CommitGatherer, CommitSignal } from '../../../src/store/sqlite/commit-delay.ts';

const SIGNAL_MODULE = new URL('../../../src/store/sqlite/commit-delay.ts', import.meta.url).href;

type Step = { kind: 'post'; writes: number } | { kind: 'underWay'; transactions: number } | { kind: 'close' };

/**
 * Another thread that, `afterMs` after it is ready, carries out `steps` on the shared counters and the
 * port. `ready` resolves once it has loaded the module, so that its start-up is not timed.
 */
function fromAnotherThread(buffer: SharedArrayBuffer, port: MessagePort, afterMs: number, steps: Step[]) {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.module).then(({ CommitSignal }) => {
       const signal = new CommitSignal(workerData.buffer);
       parentPort.once('message', () => setTimeout(() => {
         for (const step of workerData.steps) {
           if (step.kind === 'post') {
             workerData.port.postMessage({ kind: 'requests', requests: Array(step.writes).fill(0) });
             signal.posted(step.writes);
           } else if (step.kind === 'underWay') signal.underWay(step.transactions);
           else {
             workerData.port.postMessage({ kind: 'close' });
             signal.wake();
           }
         }
       }, workerData.afterMs));
       parentPort.postMessage('ready');
     });`,
    { eval: true, workerData: { module: SIGNAL_MODULE, buffer, port, afterMs, steps }, transferList: [port] },
  );
  const ready = new Promise<void>((resolve, reject) => worker.once('message', () => resolve()).once('error', reject));
  const exited = new Promise<void>((resolve, reject) => worker.once('exit', () => resolve()).once('error', reject));
  return { ready, go: () => worker.postMessage('go'), exited };
}

/** The writer's drain(): takes every message on the port, counting its writes; a close sets `closing`. */
function writer(port: MessagePort, gatherer: CommitGatherer, first: number) {
  const state = { size: first, closing: false };
  const drain = () => {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const message = m.message as { kind: string; requests?: unknown[] };
      if (message.kind === 'close') {
        state.closing = true;
        continue;
      }
      const count = message.requests?.length ?? 0;
      gatherer.took(count);
      state.size += count;
    }
    return state.size;
  };
  return { drain, closing: () => state.closing };
}

/** Times gather() for a batch of one whose write is already counted, with `underWay` transactions. */
async function gatherOne(underWay: number, delayMs: number, afterMs: number, steps: Step[]) {
  const { port1, port2 } = new MessageChannel();
  const signal = new CommitSignal();
  const gatherer = new CommitGatherer(signal.buffer, delayMs);
  // Both counters just below 2^31, so that the writes waited for take them past the wrap.
  signal.posted(0x7fff_fffe);
  gatherer.took(0x7fff_fffe);
  signal.posted(1);
  gatherer.took(1);
  signal.underWay(underWay);
  const other = fromAnotherThread(signal.buffer, port2, afterMs, steps);
  await other.ready;
  const { drain, closing } = writer(port1, gatherer, 1);
  other.go();
  const started = performance.now();
  const size = gatherer.gather(1, drain, closing);
  const waited = performance.now() - started;
  await other.exited;
  port1.close();
  return { size, waited };
}

test('commit delay: with no other mail transaction under way, a write never waits', () => {
  const signal = new CommitSignal();
  const gatherer = new CommitGatherer(signal.buffer, 60_000);
  const started = performance.now();
  let drains = 0;
  for (const underWay of [0, 1]) {
    signal.underWay(underWay); // none (the CLI, a test's store), or the write's own session alone
    signal.posted(1);
    gatherer.took(1);
    assert.equal(
      gatherer.gather(1, () => ++drains),
      1,
    );
  }
  assert.equal(drains, 0, 'nothing waited for');
  assert.ok(performance.now() - started < 5_000);
});

test('commit delay: with three transactions under way, a write waits for the two others and commits as soon as they come', async () => {
  const { size, waited } = await gatherOne(3, 20_000, 200, [
    { kind: 'post', writes: 1 },
    { kind: 'post', writes: 1 },
  ]);
  assert.equal(size, 3, 'the two later writes joined the batch');
  assert.ok(waited >= 150, `waited ${waited} ms: it should have waited for the other thread`);
  assert.ok(waited < 10_000, `waited ${waited} ms: the wake-up was lost, it sat out the delay`);
});

test('commit delay: transactions that end without a message end the wait', async () => {
  const { size, waited } = await gatherOne(3, 20_000, 200, [{ kind: 'underWay', transactions: 1 }]);
  assert.equal(size, 1);
  assert.ok(waited >= 150 && waited < 10_000, `waited ${waited} ms, not until the transactions ended`);
});

test('commit delay: a write posted and a transaction ended without one, in either order, end the wait', async () => {
  for (const steps of [
    [
      { kind: 'post', writes: 1 },
      { kind: 'underWay', transactions: 2 },
    ],
    [
      { kind: 'underWay', transactions: 2 },
      { kind: 'post', writes: 1 },
    ],
  ] as Step[][]) {
    const { size, waited } = await gatherOne(3, 20_000, 200, steps);
    assert.equal(size, 2);
    assert.ok(waited >= 150 && waited < 10_000, `${JSON.stringify(steps)}: waited ${waited} ms, the wake-up was lost`);
  }
});

test('commit delay: a close request ends the wait', async () => {
  const { size, waited } = await gatherOne(3, 20_000, 200, [{ kind: 'close' }]);
  assert.equal(size, 1);
  assert.ok(waited >= 150 && waited < 10_000, `waited ${waited} ms, not until the close`);
});

test('commit delay: waits no longer than the delay when the messages do not come', async () => {
  const { size, waited } = await gatherOne(5, 100, 0, [{ kind: 'post', writes: 1 }]);
  assert.equal(size, 2, 'the write that came joined the batch');
  assert.ok(waited >= 90 && waited < 5_000, `waited ${waited} ms, not the 100 ms delay`);
});

test('commit delay: after a wait in vain the next commits do not wait, more of them after each further one', () => {
  const signal = new CommitSignal();
  const gatherer = new CommitGatherer(signal.buffer, 50);
  const waits = (commits: number, gained = 0) => {
    const waited: boolean[] = [];
    for (let i = 0; i < commits; i++) {
      const started = performance.now();
      gatherer.gather(1, () => {
        gatherer.took(gained);
        return 1 + gained;
      });
      waited.push(performance.now() - started >= 40);
    }
    return waited;
  };
  // Two sessions under way: this write's, and one stuck in its DATA that never sends.
  signal.underWay(2);
  signal.posted(1);
  gatherer.took(1);
  const once = [true, ...Array(8).fill(false)];
  assert.deepEqual(waits(9), once, 'a wait in vain, then eight commits at once');
  assert.deepEqual(waits(17), [true, ...Array(16).fill(false)], 'then sixteen');
  // A wait that gains a write (posted, so it is drained without sleeping) resets the count.
  signal.posted(1);
  assert.deepEqual(waits(1, 1), [false], 'the write was there: no sleep');
  assert.deepEqual(waits(9), once, 'eight again after a wait that paid');
});
