// `serve` and a dataDir/tls it cannot use: a file there, or a directory its user cannot write with
// tls.acme set. It had stopped with Node's bare "EEXIST: file already exists, mkdir …" or "EACCES:
// permission denied, mkdir …"; now with the key, the path and what to do, as `check` says it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { configDir, POSTERN } from '../support/child-server.ts';
import { OWNER, ownedDir } from '../support/owned-data-dir.ts';

const asRoot = process.getuid?.() === 0;

function serve(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(POSTERN, ['serve', '--config', file], { cwd: '/', timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

test('serve with dataDir/tls a regular file stops naming dataDir, the file and what to do', async (t) => {
  const d = configDir();
  t.after(() => d.cleanup());
  const data = path.join(d.root, 'data');
  fs.mkdirSync(data, { mode: 0o700 });
  fs.writeFileSync(path.join(data, 'tls'), 'x\n');
  const result = await serve(d.file);
  assert.equal(result.code, 1, result.stdout);
  assert.equal(
    result.stderr,
    `postern: dataDir: ${path.join(data, 'tls')} is not a directory; serve keeps its TLS keys and certificates there: move it away, and serve makes the directory\n`,
  );
});

test('serve with tls.acme and a dataDir/tls its user cannot write stops naming dataDir, the user and the chmod', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t, {
    listen: { smtp: '127.0.0.1:0', submission: null, submissions: null },
    tls: {
      acme: {
        directory: 'https://127.0.0.1:9/directory',
        termsOfServiceAgreed: true,
        http01: { listen: '127.0.0.1:0' },
      },
    },
  });
  const tls = path.join(d.data, 'tls');
  fs.mkdirSync(tls);
  fs.chownSync(tls, OWNER, OWNER);
  fs.chmodSync(tls, 0o500);
  const result = await serve(d.file);
  assert.equal(result.code, 1, result.stdout);
  assert.equal(
    result.stderr.split('\n')[0],
    `postern: dataDir: ${tls} cannot be written by nobody (owner nobody, mode 0500): serve cannot make ${path.join(tls, 'acme')} for its TLS keys and certificates; chmod 700 ${tls}`,
  );
});
