// A restore killed midway leaves its copy (the size of the store) in the data directory: the
// store's next open removes it, and leaves the copy of a restore that still runs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DATABASE_FILE_NAME, openSqliteStore } from '../../../src/store/sqlite/index.ts';

/** The PID of a process that ran and is gone. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

test('opening the store removes the copies of a restore whose process is gone, and only those', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-stale-restore-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const gone = await deadPid();
  const running = process.ppid; // the test runner: alive while this runs
  const stale = [`${DATABASE_FILE_NAME}.restore-${gone}`, `${DATABASE_FILE_NAME}.restore-${gone}-journal`];
  const kept = [
    `${DATABASE_FILE_NAME}.restore-${running}`,
    `${DATABASE_FILE_NAME}.restore-${running}-journal`,
    `${DATABASE_FILE_NAME}.restore-notapid`,
    'restore-1',
  ];
  for (const name of [...stale, ...kept]) fs.writeFileSync(path.join(dataDir, name), 'half a copy');

  const store = await openSqliteStore({ dataDir });
  await store.close();
  const left = fs.readdirSync(dataDir);
  for (const name of stale) assert.ok(!left.includes(name), `${name} removed`);
  for (const name of kept) assert.ok(left.includes(name), `${name} kept`);
  assert.deepEqual([...store.staleRestoresRemoved].sort(), [...stale].sort(), 'named, for serve to log');
});
