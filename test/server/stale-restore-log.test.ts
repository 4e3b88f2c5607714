// serve says what it removed of a killed restore: an admin who finds a store-sized file gone from the
// data directory finds why in the log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DATABASE_FILE_NAME } from '../../src/store/sqlite/index.ts';
import { configDir, spawnServer } from '../support/child-server.ts';
import { waitFor } from '../support/wait.ts';

test('serve logs each copy a killed restore left that the store removed at open', async (t) => {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  const copy = `${DATABASE_FILE_NAME}.restore-${child.pid}`;
  const dir = configDir();
  t.after(() => dir.cleanup());
  const dataDir = path.join(dir.root, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  fs.writeFileSync(path.join(dataDir, copy), 'half a copy', { mode: 0o600 });
  const server = await spawnServer(dir.file);
  t.after(() => server.stop('SIGKILL'));
  await waitFor(() => server.output().includes('a copy left by a postern restore that was killed'), 5000);
  const line = server
    .output()
    .split('\n')
    .find((l) => l.includes('a copy left by a postern restore'));
  assert.match(line ?? '', new RegExp(`"file":"${copy.replaceAll('.', '\\.')}"`));
  assert.ok(!fs.existsSync(path.join(dataDir, copy)));
  assert.equal(await server.stop(), 0);
});
