// How Postern reads the password file and quiets sslmode for node-postgres (src/store/postgres/pgpass.ts, pool.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { passwordFromFile } from '../../src/store/postgres/pgpass.ts';
import { PosternClient, withQuietSslMode } from '../../src/store/postgres/pool.ts';
import { tempDir } from '../support/server.ts';

test('only sslmode in the query is rewritten, and only the modes pg 8 takes for verify-full', () => {
  assert.equal(withQuietSslMode('postgres://u@h/db?sslmode=require'), 'postgres://u@h/db?sslmode=verify-full');
  assert.equal(
    withQuietSslMode('postgres://u@h/db?a=1&sslmode=prefer#x'),
    'postgres://u@h/db?a=1&sslmode=verify-full#x',
  );
  assert.equal(withQuietSslMode('postgres://u@h/db?sslmode=verify-ca'), 'postgres://u@h/db?sslmode=verify-full');
  for (const same of [
    'postgres://u@h/db?sslmode=disable',
    'postgres://u@h/db?sslmode=verify-full',
    'postgres://u:x&sslmode=require@h/db', // in the password, not the query
    'postgres://u@h/db?uselibpqcompat=true&sslmode=require', // libpq's meaning, asked for
    'postgres://u@h/db#?sslmode=require',
  ]) {
    assert.equal(withQuietSslMode(same), same);
  }
  // What pg makes of it: TLS with the certificate checked (no rejectUnauthorized: false).
  const client = new PosternClient('postgres://u@h/db?sslmode=require') as unknown as {
    connectionParameters: { ssl: unknown };
  };
  const { ssl } = client.connectionParameters;
  assert.ok(
    typeof ssl === 'object' && ssl !== null && (ssl as { rejectUnauthorized?: boolean }).rejectUnauthorized !== false,
  );
});

test('the password file is read as libpq reads it', async (t) => {
  const dir = tempDir('postern-pgpass-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'pgpass');
  fs.writeFileSync(
    file,
    [
      '# a comment',
      'db.example:5433:*:postern:on-5433',
      'db.example:*:mail:postern:for-mail',
      'localhost:5432:*:*:local',
      'db.example:*:*:postern:',
      '*:*:*:postern:any\\:host',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const target = { host: 'db.example', port: 5432, database: 'postern', user: 'postern' };
  assert.equal(await passwordFromFile({ ...target, port: 5433 }, file), 'on-5433');
  assert.equal(await passwordFromFile({ ...target, database: 'mail' }, file), 'for-mail');
  // The first match wins, and an empty password there is none (libpq).
  assert.equal(await passwordFromFile(target, file), undefined);
  assert.equal(await passwordFromFile({ ...target, host: 'other.example' }, file), 'any:host');
  // No host, or the default socket directory, is "localhost"; no port is 5432.
  assert.equal(await passwordFromFile({ database: 'x', user: 'x' }, file), 'local');
  assert.equal(await passwordFromFile({ host: '/var/run/postgresql', database: 'x', user: 'x' }, file), 'local');
  assert.equal(await passwordFromFile(target, path.join(dir, 'missing')), undefined);
  // Group or world access: ignored, as libpq ignores it.
  fs.chmodSync(file, 0o644);
  assert.equal(await passwordFromFile({ ...target, port: 5433 }, file), undefined);
});
