// Forced TLS on port 25 (tls.requireOnSmtp) with no certificate to serve: serve runs, but answers every
// MAIL FROM with 454 4.7.0 (RFC 3207 §4), so no mail arrives. `postern check` called that OK and serve
// said nothing; now check reports an error (a warning while ACME has yet to deliver) and serve warns.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { migrateSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { configDir, postern } from '../support/child-server.ts';
import { startTestServer } from '../support/server.ts';
import { SmtpClient } from '../support/smtp-client.ts';

type Context = { after(fn: () => unknown): void };

function dir(t: Context, tls: Record<string, unknown>) {
  const d = configDir({ tls });
  t.after(() => d.cleanup());
  migrateSqliteStore(path.join(d.root, 'data'));
  return d;
}

const acme = {
  directory: 'https://127.0.0.1:9/dir',
  termsOfServiceAgreed: true,
  http01: { listen: '127.0.0.1:0' },
};

test('check: requireOnSmtp with no certificate source is an error: serve would start but take no mail (exit 1)', async (t) => {
  const { file } = dir(t, { requireOnSmtp: true, selfSigned: false });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(
    result.stdout,
    /^error: tls\.requireOnSmtp is true but there is no TLS certificate .*every MAIL FROM on the MX listener with 454 4\.7\.0 .*no mail arrives/m,
  );
  assert.match(result.stdout, /: 1 error; serve would start, but take no mail\n$/);
  const json = JSON.parse((await postern(['check', '--json', '--config', file])).stdout) as {
    ok: boolean;
    errors: string[];
    startsDespite?: string[];
  };
  assert.equal(json.ok, false);
  assert.deepEqual(json.startsDespite, json.errors);
});

test('check: requireOnSmtp with ACME that has no certificate yet is a warning (mail waits for it)', async (t) => {
  const { file } = dir(t, { requireOnSmtp: true, selfSigned: false, acme });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(
    result.stdout,
    /^warning: tls\.requireOnSmtp is true and ACME has stored no certificate yet: until it delivers one, serve answers every MAIL FROM .* 454 4\.7\.0/m,
  );
});

test('check: requireOnSmtp with the self-signed certificate, or without requireOnSmtp, says nothing of it', async (t) => {
  for (const tls of [{ requireOnSmtp: true }, { selfSigned: false }]) {
    const { file } = dir(t, tls);
    const result = await postern(['check', '--config', file]);
    assert.doesNotMatch(result.stdout, /requireOnSmtp/, JSON.stringify(tls));
  }
});

test('serve warns at start when requireOnSmtp leaves port 25 taking no mail, and MAIL does get 454', async (t) => {
  const server = await startTestServer({ tls: { selfSigned: false, requireOnSmtp: true }, log: { level: 'info' } });
  t.after(() => server.stop());
  const warned = server
    .logs()
    .filter((line) => line.level === 40 && String(line.msg).startsWith('tls.requireOnSmtp is true but there is no'));
  assert.equal(warned.length, 1, JSON.stringify(server.logs()));
  assert.match(String(warned[0]!.msg), /every MAIL FROM on the MX listener gets 454 4\.7\.0 .*no mail arrives/);
  const { client } = await SmtpClient.open(server.port);
  t.after(() => client.close());
  await client.command('EHLO client.example.net');
  const mail = await client.command('MAIL FROM:<sender@example.net>');
  assert.equal(`${mail.code} ${mail.enhanced}`, '454 4.7.0', 'what the warning says');
});
