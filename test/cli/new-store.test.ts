// A one-shot command that finds no store makes an empty one: it says so on stderr, naming where, so that
// `user list` run without --config (or with the wrong dataDir) is not taken for a server without accounts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { configDir, postern } from '../support/child-server.ts';
import { tempDir } from '../support/server.ts';

const NOTE = /^note: there was no Postern store at (.+): made a new, empty one\. .*--config FILE/m;

test('a command that has to make the store says where, once; the store it made is used afterwards', async (t) => {
  const d = configDir();
  t.after(() => d.cleanup());
  const first = await postern(['user', 'list', '--config', d.file]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, '');
  assert.equal(NOTE.exec(first.stderr)?.[1], path.join(d.root, 'data', 'postern.sqlite'));
  const again = await postern(['user', 'list', '--config', d.file]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr, '', 'the store exists now: nothing to note');
});

test('without a config file, the note names the store made in the working directory', async (t) => {
  const cwd = tempDir('postern-cli-nocfg-');
  t.after(() => fs.rmSync(cwd, { recursive: true, force: true }));
  const r = await postern(['mail', 'list', 'alice@example.com'], { cwd });
  assert.equal(r.code, 1);
  assert.equal(NOTE.exec(r.stderr)?.[1], path.join(fs.realpathSync(cwd), 'data', 'postern.sqlite'));
  assert.match(r.stderr, /no such account/);
});

test('quickstart, which makes the store on purpose, adds no note', async (t) => {
  const dir = tempDir('postern-cli-qs-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await postern(['quickstart', 'example.com', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});
