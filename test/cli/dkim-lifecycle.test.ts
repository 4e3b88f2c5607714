// `postern dkim` advice around a pending key, as admins run it (bin/postern in a child process): after
// a forced removal of the active key, rotate and remove point at the pending key's DNS record and
// rotate --advance, never round in a circle; rotate decides the algorithm before judging --bits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configDir, postern } from '../support/child-server.ts';

function dir(t: { after(fn: () => unknown): void }) {
  const d = configDir({ domains: ['example.com'] });
  t.after(() => d.cleanup());
  return ['--config', d.file];
}

test('dkim remove --force of the active key while one is pending: publish it and --advance; rotate says the same', async (t) => {
  const config = dir(t);
  const run = (...args: string[]) => postern(['dkim', ...args, '--domain', 'example.com', ...config]);
  assert.equal((await run('keygen', '--selector', 'one')).code, 0);
  assert.equal((await run('rotate', '--selector', 'two')).code, 0);
  const forced = await run('remove', '--selector', 'one', '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(
    forced.stdout,
    /two \(pending\) becomes the rsa key to sign with once DNS serves its record: publish two\._domainkey\.example\.com .*postern dkim rotate --advance/,
  );
  assert.doesNotMatch(forced.stdout, /rotate a key|dkim keygen/, 'neither rotate (no active key) nor keygen (refused)');

  const rotate = await run('rotate');
  assert.equal(rotate.code, 1);
  assert.match(
    rotate.stderr,
    /its pending rsa key two waits for its DNS record two\._domainkey\.example\.com; publish it .* postern dkim rotate --advance/,
  );
  assert.doesNotMatch(rotate.stderr, /keygen/);
});

test('dkim remove --force of the only active key, nothing pending: keygen, not rotate', async (t) => {
  const config = dir(t);
  const run = (...args: string[]) => postern(['dkim', ...args, '--domain', 'example.com', ...config]);
  assert.equal((await run('keygen', '--selector', 'one', '--algo', 'ed25519')).code, 0);
  const forced = await run('remove', '--selector', 'one', '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /Create a key with postern dkim keygen --domain example\.com --algo ed25519/);
  assert.doesNotMatch(forced.stdout, /rotate/);
});

test('dkim rotate --algo ed25519 while an Ed25519 key is pending beside the RSA one names it and its record', async (t) => {
  const config = dir(t);
  const run = (...args: string[]) => postern(['dkim', ...args, '--domain', 'example.com', ...config]);
  assert.equal((await run('keygen', '--selector', 'r1')).code, 0);
  assert.equal((await run('keygen', '--selector', 'e1', '--algo', 'ed25519')).code, 0);
  const rotate = await run('rotate', '--algo', 'ed25519');
  assert.equal(rotate.code, 1);
  assert.match(
    rotate.stderr,
    /its pending ed25519 key e1 waits for its DNS record e1\._domainkey\.example\.com; publish it .*dkim rotate --advance/,
  );
  assert.doesNotMatch(rotate.stderr, /add it with postern dkim keygen/, 'keygen would refuse it');
});

test('dkim rotate --bits on a domain whose active key is Ed25519: noted as ignored, whatever the size', async (t) => {
  const config = dir(t);
  const run = (...args: string[]) => postern(['dkim', ...args, '--domain', 'example.com', ...config]);
  assert.equal((await run('keygen', '--selector', 'e1', '--algo', 'ed25519')).code, 0);
  const big = await run('rotate', '--selector', 'e2', '--bits', '4096');
  assert.equal(big.code, 0, big.stderr);
  assert.match(big.stderr, /note: --bits is ignored for ed25519 keys/);
  assert.match(big.stdout, /^Created DKIM key e2 for example\.com \(Ed25519\), pending: it replaces e1\./);
  assert.equal((await run('remove', '--selector', 'e2')).code, 0);
  const small = await run('rotate', '--selector', 'e3', '--bits', '1024');
  assert.equal(small.code, 0, small.stderr);
  assert.match(small.stderr, /note: --bits is ignored for ed25519 keys/);
  assert.doesNotMatch(small.stderr, /RSA keys are/);
  // RSA sizes are still checked for an RSA rotation.
  assert.equal((await run('remove', '--selector', 'e3')).code, 0);
  assert.equal((await run('remove', '--selector', 'e1', '--force')).code, 0);
  assert.equal((await run('keygen', '--selector', 'r1')).code, 0);
  const rsa = await run('rotate', '--bits', '1024');
  assert.equal(rsa.code, 2);
  assert.match(rsa.stderr, /--bits: RSA keys are 2048, 3072, 4096 bits; 1024 is not one of them/);
});
