// A client that hangs up (a FIN: the listener allows half-open connections) while the tarpit delays
// its refusal does not keep its connection slot for the rest of the delay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer } from '../support/server.ts';
import { codeOf, SmtpClient } from '../support/smtp-client.ts';

test('a client that disconnects during a tarpit delay frees its slot at once: a reconnect gets 220, not 421', async (t) => {
  const server = await startTestServer({
    tarpit: { threshold: 1, stepMs: 60_000, maxMs: 60_000 },
    limits: { maxConnectionsPerClient: 1 },
  });
  t.after(() => server.stop());
  const { client } = await SmtpClient.open(server.port);
  await client.command('EHLO client.example');
  await client.command('MAIL FROM:<x@example.net>');
  assert.equal(codeOf(await client.command('RCPT TO:<nobody1@example.com>')), '550 5.1.1');
  client.send('RCPT TO:<nobody2@example.com>\r\n'); // delayed a minute
  await sleep(300);
  client.socket.destroy(); // a FIN
  await sleep(200);
  const { client: again, greeting } = await SmtpClient.open(server.port);
  assert.equal(greeting.code, 220, greeting.text);
  await again.close();
});
