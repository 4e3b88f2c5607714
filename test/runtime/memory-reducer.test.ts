/**
 * The memory reducer on this test process's own V8 heap: it collects once the event loop has been
 * quiet and the heap has grown, never while the loop is busy, and not again until the heap grows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Collection, MemoryReducer } from '../../src/runtime/memory-reducer.ts';

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Until `condition` holds, looked at every 100 ms; throws after `ms`. Not test/support's waitFor: its
 * look every 10 ms is load of its own, and on a slow machine five of them made a 50 ms check window
 * count as busy (2 % is 1 ms), so no collection ever came.
 */
async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(100);
  }
}

/** About `mb` MB of arrays that survive a scavenge or two, then dropped: garbage that only a full collection frees. */
async function burst(mb: number): Promise<void> {
  let junk: number[][] | undefined = [];
  for (let i = 0; i < mb * 4; i++) {
    junk.push(new Array(32 * 1024).fill(i)); // 256 KB each
    if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(junk.length > 0);
  junk = undefined;
}

/** Keeps the event loop busy for `ms`: turns of 5 ms of work. */
async function busy(ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const turn = Date.now() + 5;
    while (Date.now() < turn) {
      // spin
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('a quiet thread whose heap grew is collected, and the heap shrinks', async () => {
  const collections: Collection[] = [];
  await burst(40);
  const reducer = MemoryReducer.start({ checkMs: 50, quietChecks: 2, onCollect: (c) => collections.push(c) });
  assert.ok(reducer, 'V8 hands out its collector');
  try {
    await until(() => collections.length > 0, 5000);
    const [first] = collections as [Collection];
    assert.ok(first.before - first.after > 20 * MB, `heap ${first.before / MB} MB -> ${first.after / MB} MB`);
    assert.ok(first.ms >= 0);
  } finally {
    reducer.stop();
  }
});

test('a busy event loop is never collected; once it goes quiet it is', async () => {
  const collections: Collection[] = [];
  await burst(20);
  const reducer = MemoryReducer.start({ checkMs: 50, quietChecks: 2, onCollect: (c) => collections.push(c) });
  assert.ok(reducer);
  try {
    await busy(800); // 16 checks, each of a loop busy nearly all the time
    assert.equal(collections.length, 0, 'collected while the loop was busy');
    await until(() => collections.length > 0, 5000);
  } finally {
    reducer.stop();
  }
});

test('no second collection until the heap has grown by regrowBytes again', async () => {
  const collections: Collection[] = [];
  const reducer = MemoryReducer.start({
    checkMs: 50,
    quietChecks: 2,
    regrowBytes: 8 * MB,
    onCollect: (c) => collections.push(c),
  });
  assert.ok(reducer);
  try {
    await burst(20);
    // At least one: a collection in the middle of the burst, the heap growing by regrowBytes again after
    // it, earns a second one by rights.
    await until(() => collections.length >= 1, 5000);
    await sleep(300); // a collection the burst's end earned has had its checks
    const after = collections.length;
    await sleep(600); // a dozen quiet checks with nothing grown
    assert.equal(collections.length, after, 'collected again with nothing to give back');
    await burst(30);
    await until(() => collections.length > after, 5000);
  } finally {
    reducer.stop();
  }
});
