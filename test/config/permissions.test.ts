// What `serve` warns about at start: modes of the admin's own directory and config file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { permissionWarnings } from '../../src/config/permissions.ts';

test('a data directory open to others, and a readable config file holding the store password, are warned about', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-modes-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dataDir = path.join(root, 'data');
  const file = path.join(root, 'postern.yaml');
  fs.mkdirSync(dataDir);
  fs.writeFileSync(file, 'x');
  const sqlite = parseConfig({ dataDir }, 'test');
  const withPassword = parseConfig(
    { dataDir, store: { engine: 'postgres', url: 'postgres://postern:s3cret@127.0.0.1/postern' } },
    'test',
  );
  const withoutPassword = parseConfig(
    { dataDir, store: { engine: 'postgres', url: 'postgres://postern@127.0.0.1/postern' } },
    'test',
  );

  fs.chmodSync(dataDir, 0o755);
  fs.chmodSync(file, 0o644);
  const [open, ...rest] = permissionWarnings(sqlite, file);
  assert.equal(
    open,
    `dataDir ${dataDir} is open to other users (mode 0755); it holds the mail and the TLS keys: chmod 700 ${dataDir}`,
  );
  assert.deepEqual(rest, [], 'no password in this config: its mode does not matter');
  const both = permissionWarnings(withPassword, file);
  assert.equal(both.length, 2);
  assert.match(
    both[1]!,
    /postern\.yaml holds the store password and other users can read it \(mode 0644\): chmod 600 /,
  );
  assert.doesNotMatch(both.join(' '), /s3cret/);
  assert.equal(permissionWarnings(withoutPassword, file).length, 1, 'a URL without a password');
  // libpq's sslpassword: the passphrase of the client's TLS key, as secret as the password.
  const withKeyPassphrase = parseConfig(
    {
      dataDir,
      store: { engine: 'postgres', url: 'postgres://postern@127.0.0.1/postern?sslmode=verify-full&sslpassword=k3y' },
    },
    'test',
  );
  const passphrase = permissionWarnings(withKeyPassphrase, file);
  assert.equal(passphrase.length, 2, 'sslpassword= is a secret too');
  assert.doesNotMatch(passphrase.join(' '), /k3y/);

  fs.chmodSync(dataDir, 0o700);
  fs.chmodSync(file, 0o600);
  assert.deepEqual(permissionWarnings(withPassword, file), []);
  assert.deepEqual(permissionWarnings(sqlite, undefined), [], 'embedded defaults: no file');
  assert.deepEqual(permissionWarnings(parseConfig({ dataDir: path.join(root, 'not-yet') }, 'test'), file), []);
});
