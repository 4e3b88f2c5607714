/**
 * A real server gives a burst's memory back once it is quiet: both long-lived threads (the event
 * loop and the SQLite writer) collect, say so at debug level, and the process's RSS falls.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { addUser, configDir, spawnServer } from '../support/child-server.ts';
import { type Load, sender } from '../support/smtp-load.ts';
import { waitFor } from '../support/wait.ts';

const MB = 1024 * 1024;
const SESSIONS = 10;
const PER_SESSION = 150;

function rssBytes(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

const collected = (output: string, thread: string) =>
  output.split('\n').filter((line) => line.includes(`"msg":"memory: ${thread} is quiet; heap collected"`)).length;

test('after a burst of mail, a quiet server collects in both threads and its RSS falls', async (t) => {
  const dir = configDir({ log: { level: 'debug' } });
  t.after(() => dir.cleanup());
  await addUser(dir.file, 'alice@example.com');
  const server = await spawnServer(dir.file);
  t.after(() => server.stop('SIGKILL'));
  const pid = server.child.pid as number;

  // What the start itself left is given back first (the reducer's first collection).
  await waitFor(() => collected(server.output(), 'the event loop') >= 1, 10_000);
  const loop = collected(server.output(), 'the event loop');
  const writer = collected(server.output(), 'the store writer thread');

  const load: Load = { acked: new Set(), attempted: 0 };
  let counter = 0;
  const options = { max: PER_SESSION, recipients: () => ['alice@example.com'] };
  await Promise.all(Array.from({ length: SESSIONS }, () => sender(server.port, () => ++counter, load, options)));
  assert.equal(load.acked.size, SESSIONS * PER_SESSION);
  const afterBurst = rssBytes(pid);

  await waitFor(
    () =>
      collected(server.output(), 'the event loop') > loop &&
      collected(server.output(), 'the store writer thread') > writer,
    10_000,
  );
  await new Promise((resolve) => setTimeout(resolve, 200)); // the unmapped pages leave RSS
  const quiet = rssBytes(pid);
  t.diagnostic(`RSS ${(afterBurst / MB).toFixed(1)} MB after the burst, ${(quiet / MB).toFixed(1)} MB once quiet`);
  assert.ok(afterBurst - quiet > 5 * MB, `RSS fell by ${((afterBurst - quiet) / MB).toFixed(1)} MB`);
  assert.equal(await server.stop(), 0);
});
