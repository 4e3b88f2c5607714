import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { ReplyBatch } from '../../src/smtp/reply-batch.ts';

/** A connected pair on loopback: the server's end (which the batch writes to) and what the client reads. */
async function pair(): Promise<{ server: net.Socket; client: net.Socket; received: () => string; close(): void }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, 'connection');
  const client = net.connect(port, '127.0.0.1');
  const [server] = (await accepted) as [net.Socket];
  let text = '';
  client.setEncoding('latin1');
  client.on('data', (chunk: string) => {
    text += chunk;
  });
  return {
    server,
    client,
    received: () => text,
    close() {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

test('replies queued in one turn go out together after it, in order, one write per socket', async () => {
  const a = await pair();
  const b = await pair();
  try {
    const writes: string[] = [];
    const original = a.server.write.bind(a.server);
    a.server.write = ((chunk: string) => {
      writes.push(chunk);
      return original(chunk);
    }) as typeof a.server.write;
    const batch = new ReplyBatch();
    batch.send(a.server, '250 first\r\n');
    batch.send(b.server, '250 other\r\n');
    batch.send(a.server, '354 second\r\n');
    assert.equal(batch.pendingBytes(a.server), '250 first\r\n354 second\r\n'.length);
    assert.deepEqual(writes, [], 'nothing is written before the turn ends');
    await turn();
    assert.deepEqual(writes, ['250 first\r\n354 second\r\n']);
    assert.equal(batch.pendingBytes(a.server), 0);
    await settle();
    assert.equal(a.received(), '250 first\r\n354 second\r\n');
    assert.equal(b.received(), '250 other\r\n');
  } finally {
    a.close();
    b.close();
  }
});

test('flush writes a socket’s queued replies at once, before what is written to it next', async () => {
  const a = await pair();
  try {
    const batch = new ReplyBatch();
    batch.send(a.server, '250 queued\r\n');
    batch.flush(a.server);
    a.server.end('221 bye\r\n'); // what the listener does when it closes a session
    await once(a.client, 'end');
    assert.equal(a.received(), '250 queued\r\n221 bye\r\n');
    await turn(); // the scheduled turn finds nothing more for this socket
    assert.equal(batch.pendingBytes(a.server), 0);
  } finally {
    a.close();
  }
});

test('a socket destroyed before the turn ends is skipped; replies queued while writing wait for the next turn', async () => {
  const a = await pair();
  const b = await pair();
  try {
    const batch = new ReplyBatch();
    batch.send(a.server, '250 lost\r\n');
    a.server.destroy();
    const original = b.server.write.bind(b.server);
    let nested = false;
    b.server.write = ((chunk: string) => {
      if (!nested) {
        nested = true;
        batch.send(b.server, '250 later\r\n');
      }
      return original(chunk);
    }) as typeof b.server.write;
    batch.send(b.server, '250 now\r\n');
    await turn();
    assert.equal(batch.pendingBytes(b.server), '250 later\r\n'.length, 'queued for the next turn, not dropped');
    await settle();
    assert.equal(b.received(), '250 now\r\n250 later\r\n');
    assert.equal(batch.pendingBytes(a.server), 0);
  } finally {
    a.close();
    b.close();
  }
});
