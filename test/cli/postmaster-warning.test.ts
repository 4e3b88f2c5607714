// The "no postmaster now" warning of `alias remove` and `user remove` names exactly the names whose
// postmaster@ RCPT TO refuses now and accepted before, as the server looks it up: a domain without its
// own postmaster falls back to the first domain's (RFC 5321 §4.5.1, src/policy/local-address.ts), and
// postmaster@ the host name is the first domain's. Checked against a real server's RCPT answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addUser, configDir, postern, spawnServer } from '../support/child-server.ts';
import { SmtpClient } from '../support/smtp-client.ts';

type Context = { after(fn: () => unknown): void };

const NAMES = ['example.com', 'shop.example', 'xn--bcher-kva.example', 'mx.example.com'];

function setup(t: Context) {
  const d = configDir({ domains: ['example.com', 'shop.example', 'bücher.example'] });
  t.after(() => d.cleanup());
  const run = (...args: string[]) => postern([...args, '--config', d.file]);
  return { ...d, run };
}

/** RCPT TO:<postmaster@ name>'s code for each name, from a server started now (no cached look-ups). */
async function postmasterCodes(file: string): Promise<Record<string, number>> {
  const server = await spawnServer(file);
  try {
    const { client } = await SmtpClient.open(server.port);
    assert.equal((await client.command('EHLO client.example.net')).code, 250);
    assert.equal((await client.command('MAIL FROM:<>')).code, 250);
    const codes: Record<string, number> = {};
    for (const name of NAMES) codes[name] = (await client.command(`RCPT TO:<postmaster@${name}>`)).code;
    await client.close();
    return codes;
  } finally {
    await server.stop();
  }
}

test("removing a domain's own postmaster while the first domain's takes its mail warns of nothing", async (t) => {
  const { file, run } = setup(t);
  await Promise.all([addUser(file, 'alice@example.com'), addUser(file, 'bob@shop.example')]);
  await addUser(file, 'carol@shop.example');
  assert.equal((await run('alias', 'add', 'postmaster@example.com', 'alice@example.com')).code, 0);
  assert.equal((await run('alias', 'add', 'postmaster@shop.example', 'bob@shop.example')).code, 0);

  // Before: "warning: shop.example has no postmaster now … refused (550)", and RCPT still got 250.
  const removed = await run('user', 'remove', 'bob@shop.example');
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /^removed its aliases: postmaster@shop\.example$/m);
  assert.equal(removed.stderr, '');

  assert.equal((await run('alias', 'add', 'postmaster@shop.example', 'carol@shop.example')).code, 0);
  const alias = await run('alias', 'remove', 'postmaster@shop.example');
  assert.equal(alias.code, 0, alias.stderr);
  assert.equal(alias.stdout, 'removed postmaster@shop.example\n');
  assert.equal(alias.stderr, '');

  const codes = await postmasterCodes(file);
  assert.deepEqual(codes, Object.fromEntries(NAMES.map((name) => [name, 250])));
});

test('removing the first domain postmaster names every domain that shared it, and the host name', async (t) => {
  const { file, run } = setup(t);
  await Promise.all([addUser(file, 'alice@example.com'), addUser(file, 'carol@shop.example')]);
  assert.equal((await run('alias', 'add', 'postmaster@example.com', 'alice@example.com')).code, 0);
  assert.equal((await run('alias', 'add', 'postmaster@shop.example', 'carol@shop.example')).code, 0);

  // shop.example keeps its own: not named. Before, only example.com was, though bücher.example and
  // postmaster@ the host name lost theirs with it.
  const first = await run('alias', 'remove', 'postmaster@example.com');
  assert.equal(first.code, 0, first.stderr);
  assert.equal(
    first.stderr,
    'warning: example.com, xn--bcher-kva.example and mx.example.com (the host name) have no postmaster now: ' +
      'RFC 5321 §4.5.1 requires one at every domain served, and mail to postmaster@ each is refused (550) until ' +
      'there is one: postern alias add postmaster@example.com <account> (the others fall back to it)\n',
  );
  let codes = await postmasterCodes(file);
  assert.deepEqual(codes, {
    'example.com': 550,
    'shop.example': 250,
    'xn--bcher-kva.example': 550,
    'mx.example.com': 550,
  });

  // Then shop.example's own goes with its account: only shop.example lost anything now.
  const carol = await run('user', 'remove', 'carol@shop.example');
  assert.equal(carol.code, 0, carol.stderr);
  assert.equal(
    carol.stderr,
    'warning: shop.example has no postmaster now: RFC 5321 §4.5.1 requires one at every domain served, and mail ' +
      'to postmaster@shop.example is refused (550) until there is one: postern alias add postmaster@shop.example ' +
      '<account>, or postmaster@example.com for every domain without its own\n',
  );
  codes = await postmasterCodes(file);
  assert.deepEqual(codes, Object.fromEntries(NAMES.map((name) => [name, 550])));

  // Back to one postmaster for all: removing it names all four; removing what was never one, none.
  assert.equal((await run('alias', 'add', 'postmaster@example.com', 'alice@example.com')).code, 0);
  assert.equal((await run('alias', 'add', 'info@example.com', 'alice@example.com')).code, 0);
  assert.equal((await run('alias', 'remove', 'info@example.com')).stderr, '');
  const all = await run('user', 'remove', 'alice@example.com');
  assert.equal(all.code, 0, all.stderr);
  assert.equal(
    all.stderr,
    'warning: example.com, shop.example, xn--bcher-kva.example and mx.example.com (the host name) have no ' +
      'postmaster now: RFC 5321 §4.5.1 requires one at every domain served, and mail to postmaster@ each is ' +
      'refused (550) until there is one: postern alias add postmaster@example.com <account> (the others fall back to it)\n',
  );
});

test('a host name that is one of the domains has the first domain postmaster, as RCPT reads it', async (t) => {
  const d = configDir({ hostname: 'shop.example', domains: ['example.com', 'shop.example'] });
  t.after(() => d.cleanup());
  const run = (...args: string[]) => postern([...args, '--config', d.file]);
  await addUser(d.file, 'alice@example.com');
  // postmaster@ the host name always means the first domain's (local-address.ts): this alias is never
  // reached, so removing it takes nothing, while the first domain's takes both names' postmaster.
  assert.equal((await run('alias', 'add', 'postmaster@shop.example', 'alice@example.com')).code, 0);
  assert.equal((await run('alias', 'add', 'postmaster@example.com', 'alice@example.com')).code, 0);
  assert.equal((await run('alias', 'remove', 'postmaster@shop.example')).stderr, '');
  assert.match(
    (await run('alias', 'remove', 'postmaster@example.com')).stderr,
    /^warning: example\.com and shop\.example have no postmaster now: /,
  );
});
