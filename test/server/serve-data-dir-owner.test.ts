// `serve` on a data directory its user owns: files a root command left there stop it at start, with the
// chown that fixes them, and a serve started as root says what it will leave behind. It does not switch.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { POSTERN, spawnServer } from '../support/child-server.ts';
import { OWNER, ownedDir } from '../support/owned-data-dir.ts';

// Switching to another user needs root. .ci/run runs as root (it installs Debian packages), so these run
// in CI; they skip only on a developer's unprivileged machine, and say so.
const asRoot = process.getuid?.() === 0;

test('serve run as the data directory’s owner stops at start on root’s TLS files, naming them and the chown', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  // What a `serve` started as root leaves: tls/ and its key, root's.
  fs.mkdirSync(path.join(d.data, 'tls'), { mode: 0o700 });
  fs.writeFileSync(path.join(d.data, 'tls', 'self-signed.key'), 'key', { mode: 0o600 });
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'setpriv',
      [`--reuid=${OWNER}`, `--regid=${OWNER}`, '--clear-groups', POSTERN, 'serve', '--config', d.file],
      { cwd: '/', timeout: 20_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
  assert.equal(result.code, 1, result.stdout);
  assert.equal(
    result.stderr,
    `postern: ${path.join(d.data, 'tls')} is root's, in the data directory ${d.data}: the server, run as nobody, cannot write it ` +
      `(made by a postern command run as root?). Give it back: chown -R nobody:nogroup ${d.data}\n`,
  );
  assert.doesNotMatch(result.stdout, /SMTP on/, 'stopped before listening');
  assert.deepEqual(fs.readdirSync(d.data).sort(), ['tls'], 'nothing made: no store, no lock');
});

test('serve started as root on its user’s data directory warns that the files it makes will be root’s', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  const server = await spawnServer(d.file);
  t.after(() => server.stop());
  const warning = server
    .output()
    .split('\n')
    .find((line) => line.includes('serve runs as root'));
  assert.ok(warning, server.output());
  assert.match(
    warning,
    new RegExp(
      `serve runs as root and the data directory ${d.data} is nobody's: the files it makes there .* will be root's, ` +
        'and the server run as nobody .* will not be able to write them. Start it as nobody: runuser -u nobody -- postern serve',
    ),
  );
  assert.match(warning, /"level":40/);
  assert.equal(await server.stop(), 0);
  // Unchanged behaviour: it ran as root, and what it made is root's (the warning said so).
  assert.equal(fs.statSync(path.join(d.data, 'tls')).uid, 0);
});
