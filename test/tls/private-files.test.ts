// The TLS directory in dataDir: what keeps serve from making it is said with the key, the path and the
// fix, not as Node's "EEXIST: file already exists, mkdir …".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ensurePrivateDir } from '../../src/tls/private-files.ts';
import { tempDir } from '../support/server.ts';

type Context = { after(fn: () => unknown): void };

function dataDir(t: Context): string {
  const d = tempDir('postern-private-');
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('the directory is made 0700, and an existing one closed to others', async (t) => {
  const data = dataDir(t);
  const tls = path.join(data, 'tls');
  await ensurePrivateDir(path.join(tls, 'acme'));
  assert.equal(fs.statSync(path.join(tls, 'acme')).mode & 0o777, 0o700);
  fs.chmodSync(tls, 0o755);
  await ensurePrivateDir(tls);
  assert.equal(fs.statSync(tls).mode & 0o777, 0o700);
});

test('a file at the directory’s place is named as dataDir’s, with what to do', async (t) => {
  const data = dataDir(t);
  const tls = path.join(data, 'tls');
  fs.writeFileSync(tls, 'x\n');
  const said = {
    name: 'Error',
    code: 'TLS_PRIVATE_DIR',
    message: `dataDir: ${tls} is not a directory; serve keeps its TLS keys and certificates there: move it away, and serve makes the directory`,
  };
  await assert.rejects(ensurePrivateDir(tls), said);
  // Further up (ACME's tls/acme): mkdir fails with ENOTDIR on the path below the file; the file is named.
  await assert.rejects(ensurePrivateDir(path.join(tls, 'acme')), said);
  assert.equal(fs.readFileSync(tls, 'utf8'), 'x\n', 'left as it was');
});
