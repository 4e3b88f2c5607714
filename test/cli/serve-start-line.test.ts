/** `postern serve`'s start line says what listens where (README, "postern serve"). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configDir, spawnServer } from '../support/child-server.ts';

test('the start line names the MTA-STS policy host among the listeners when mtaSts.listen is set', async (t) => {
  const dir = configDir({ mtaSts: { listen: '127.0.0.1:0' } });
  t.after(() => dir.cleanup());
  const server = await spawnServer(dir.file);
  t.after(() => server.stop());
  const start = server
    .output()
    .split('\n')
    .map((line) => (line.startsWith('{') ? (JSON.parse(line) as { msg: string; mtaSts?: string }) : undefined))
    .find((line) => line?.msg.startsWith('Postern '));
  assert.ok(start, server.output());
  // It named SMTP and submission only: the policy host was on a line of its own, further down.
  assert.match(start.msg, /, MTA-STS policy on 127\.0\.0\.1:\d+, data in /);
  assert.match(start.mtaSts ?? '', /^127\.0\.0\.1:\d+$/);
});
