import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import {
  packDelivery,
  packReceipts,
  type StoredDelivery,
  unpackDelivery,
  unpackReceipts,
  type WriteResult,
} from '../../../src/store/sqlite/protocol.ts';

/** What the writer thread receives: the value after a real structured clone through a port. */
function cloned<T>(value: T): T {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(value);
  const received = receiveMessageOnPort(port2)?.message as T;
  port1.close();
  return received;
}

const stored: StoredDelivery = {
  mailFrom: 'alice@example.org',
  recipients: ['bob@example.test', 'carol@example.test'],
  content: new TextEncoder().encode('Subject: hi\r\n\r\nbody\r\n'),
  receivedAt: 1_790_000_000_123,
  from: 'Alice <alice@example.org>',
  subject: 'hi',
  date: null,
  messageId: '<1@example.org>',
  accountIds: [3, 7],
  mailboxes: ['INBOX', 'Junk'],
  flags: '$Phishing',
};

test('a delivery packed for the writer thread unpacks, after cloning, to the request it was', () => {
  const request = unpackDelivery(cloned(packDelivery(42, stored)));
  assert.deepEqual(
    { ...request, content: Buffer.from(request.content) },
    {
      id: 42,
      kind: 'deliver',
      ...stored,
      content: Buffer.from(stored.content),
    },
  );
});

test('receipts pack the stored deliveries of a batch and leave every other result as it is', () => {
  const results: WriteResult[] = [
    { id: 1, ok: true, kind: 'deliver', messageId: 10, placed: [3, 30, 1, 7, 70, 5] },
    { id: 2, ok: true, kind: 'addCounters' },
    { id: 3, ok: false, failure: 'no-recipient-account', message: 'gone' },
    { id: 4, ok: true, kind: 'deliver', messageId: 2 ** 40, placed: [3, 30, 2] },
  ];
  const { receipts, others } = cloned(packReceipts(results));
  assert.deepEqual(others, [results[1], results[2]]);
  assert.deepEqual(unpackReceipts(receipts), [results[0], results[3]]);
  assert.deepEqual(unpackReceipts(packReceipts([]).receipts), []);
});
