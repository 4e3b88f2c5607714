// The writer thread's commit delay (src/store/sqlite/commit-delay.ts), with a real second thread
// posting writes as the main thread does: when it waits, that it wakes as soon as the writes it waits
// for are posted (no lost wake-up), and that it never waits when one write at a time is the load.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { CommitGatherer, CommitSignal } from '../../../src/store/sqlite/commit-delay.ts';

const SIGNAL_MODULE = new URL('../../../src/store/sqlite/commit-delay.ts', import.meta.url).href;

/** A thread that, after `afterMs`, posts `writes` one-write messages on `port`, counting each as the main thread does. */
async function postFromAnotherThread(buffer: SharedArrayBuffer, port: MessagePort, writes: number, afterMs: number) {
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     import(workerData.module).then(({ CommitSignal }) => {
       const signal = new CommitSignal(workerData.buffer);
       setTimeout(() => {
         for (let i = 0; i < workerData.writes; i++) {
           workerData.port.postMessage({ kind: 'requests', requests: [i] });
           signal.posted(1);
         }
       }, workerData.afterMs);
     });`,
    { eval: true, workerData: { module: SIGNAL_MODULE, buffer, port, writes, afterMs }, transferList: [port] },
  );
  return new Promise<void>((resolve, reject) => worker.once('exit', () => resolve()).once('error', reject));
}

/** The writer's drain(): takes every message on the port, counting its writes. */
function drainer(port: MessagePort, gatherer: CommitGatherer, batch: { size: number }) {
  return () => {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const count = (m.message as { requests: unknown[] }).requests.length;
      gatherer.took(count);
      batch.size += count;
    }
    return batch.size;
  };
}

test('commit delay: one write at a time never waits', () => {
  const signal = new CommitSignal();
  const gatherer = new CommitGatherer(signal.buffer, 60_000);
  let drains = 0;
  const started = performance.now();
  for (let i = 0; i < 5; i++) {
    gatherer.took(1);
    assert.equal(
      gatherer.gather(1, () => ++drains),
      1,
    );
  }
  assert.equal(drains, 0, 'nothing waited for');
  assert.ok(performance.now() - started < 5_000);
});

test('commit delay: after a batch of three, a lone write waits for two more and commits as soon as they come', async () => {
  const { port1, port2 } = new MessageChannel();
  const signal = new CommitSignal();
  const gatherer = new CommitGatherer(signal.buffer, 20_000);
  // Both counters just below 2^31, so that the writes waited for take them past the wrap.
  signal.posted(0x7fff_fffe);
  gatherer.took(0x7fff_fffe);
  assert.equal(
    gatherer.gather(3, () => 3),
    3,
  );

  const poster = postFromAnotherThread(signal.buffer, port2, 2, 200);
  const batch = { size: 1 };
  const started = performance.now();
  const size = gatherer.gather(1, drainer(port1, gatherer, batch));
  const waited = performance.now() - started;
  await poster;
  port1.close();
  assert.equal(size, 3, 'the two later writes joined the batch');
  assert.ok(waited >= 150, `waited ${waited} ms: it should have waited for the other thread`);
  assert.ok(waited < 10_000, `waited ${waited} ms: the wake-up was lost, it sat out the delay`);
});

test('commit delay: waits no longer than the delay, and a batch cut short does not lower what is expected', () => {
  const signal = new CommitSignal();
  const gatherer = new CommitGatherer(signal.buffer, 100);
  gatherer.gather(4, () => 4);
  for (let round = 0; round < 2; round++) {
    const started = performance.now();
    gatherer.took(1);
    signal.posted(1);
    assert.equal(
      gatherer.gather(1, () => 1),
      1,
    );
    const waited = performance.now() - started;
    assert.ok(waited >= 90 && waited < 5_000, `round ${round}: waited ${waited} ms, not the 100 ms delay`);
  }
  // Sixteen batches of one in all: a batch of four is no longer expected.
  for (let i = 0; i < 14; i++) gatherer.gather(1, () => 1);
  const started = performance.now();
  gatherer.gather(1, () => 1);
  assert.ok(performance.now() - started < 90, 'still waited after sixteen batches of one');
});
