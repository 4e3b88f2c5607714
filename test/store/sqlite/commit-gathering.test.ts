import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommitGathering } from '../../../src/store/sqlite/commit-gathering.ts';

test('a lone sender never waits: batches of one request keep the target at 0', () => {
  const gathering = new CommitGathering();
  assert.equal(gathering.enough(), 0, 'before any batch');
  for (let i = 0; i < 50; i++) {
    gathering.committed(1);
    assert.equal(gathering.enough(), 0, `after ${i + 1} batches of one`);
  }
});

test('concurrent sessions: a batch waits for three quarters of the recent batches', () => {
  const gathering = new CommitGathering();
  for (let i = 0; i < 5; i++) gathering.committed(8);
  assert.equal(gathering.enough(), 6);
  gathering.committed(20); // a larger batch raises the target at once
  assert.equal(gathering.enough(), 15);
});

test('the target fades after a burst, and waiting stops when batches are single again', () => {
  const gathering = new CommitGathering();
  for (let i = 0; i < 5; i++) gathering.committed(20);
  assert.equal(gathering.enough(), 15);
  for (let i = 0; i < 20; i++) gathering.committed(4);
  const faded = gathering.enough();
  assert.ok(faded < 15 && faded >= 3, `the target fades toward the batches now seen (${faded})`);
  for (let i = 0; i < 20; i++) gathering.committed(1);
  assert.equal(gathering.enough(), 0, 'a lone sender again');
});
