// The documented PostgreSQL set-ups (sslmode=require, a password in ~/.pgpass) say nothing on stderr
// but their errors, and keep what they promise: the certificate checked, the password from the file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { type CliResult, configDir, POSTERN } from '../support/child-server.ts';
import { tempDir } from '../support/server.ts';
import { createTestCa } from '../support/test-ca.ts';

type Context = { after(fn: () => unknown): void };

/**
 * A PostgreSQL server as far as a client's password goes, on loopback: it takes TLS when asked
 * (SSLRequest, protocol docs "SSL Session Encryption"), asks for a cleartext password
 * (AuthenticationCleartextPassword), records it, and refuses it (28P01).
 */
async function passwordTaker(t: Context, tlsOptions: { key: string; cert: string }) {
  const seen: { tls: boolean; password: string | undefined }[] = [];
  const server = net.createServer((raw) => {
    const record = { tls: false, password: undefined as string | undefined };
    seen.push(record);
    let socket: net.Socket = raw;
    let buffer = Buffer.alloc(0);
    let phase: 'startup' | 'password' = 'startup';
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (phase === 'startup') {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          if (code === 80877103) {
            socket.off('data', onData);
            socket.write('S');
            record.tls = true;
            socket = new tls.TLSSocket(socket, { isServer: true, ...tlsOptions });
            socket.on('error', () => {});
            socket.on('data', onData);
            return;
          }
          socket.write(message('R', int32(3)));
          phase = 'password';
        } else {
          if (buffer.length < 5) return;
          const length = buffer.readInt32BE(1);
          if (buffer.length < length + 1) return;
          if (buffer[0] === 0x70) record.password = buffer.subarray(5, length).toString('utf8').replace(/\0$/, '');
          buffer = buffer.subarray(length + 1);
          const fields = ['SFATAL', 'C28P01', 'Mpassword authentication failed for user "pwuser"'];
          socket.end(message('E', Buffer.from(`${fields.join('\0')}\0\0`)));
          return;
        }
      }
    };
    raw.on('error', () => {});
    raw.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}

function run(args: string[], cwd: string, env: Record<string, string | undefined>): Promise<CliResult> {
  const childEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[key];
  return new Promise((resolve) => {
    execFile(POSTERN, args, { cwd, env: childEnv, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

test('sslmode=require and a password in ~/.pgpass: no warning on stderr, the certificate checked, the password sent', async (t) => {
  const ca = await createTestCa();
  const { port, seen } = await passwordTaker(t, await ca.issue(['localhost']));
  const home = tempDir('postern-home-');
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const caFile = path.join(home, 'root.crt');
  fs.writeFileSync(caFile, ca.ca);
  // libpq's format: "\:" and "\\" escape; the first line that matches wins; mode 0600.
  fs.writeFileSync(
    path.join(home, '.pgpass'),
    `# comment\nother.example:*:*:*:wrong\nlocalhost:${port}:postern:pwuser:pa\\:ss\\\\word\n*:*:*:*:wrong-too\n`,
    { mode: 0o600 },
  );
  const env = { HOME: home, PGPASSFILE: undefined, PGPASSWORD: undefined, PGSSLMODE: undefined };
  const quiet = (result: CliResult) => {
    assert.doesNotMatch(result.stderr, /SECURITY WARNING|Warning:|deprecated|pgpass/i, result.stderr);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr); // the error's one line
  };

  const trusted = configDir({
    store: {
      engine: 'postgres',
      url: `postgres://pwuser@localhost:${port}/postern?sslmode=require&sslrootcert=${caFile}`,
    },
  });
  t.after(() => trusted.cleanup());
  const withCa = await run(['migrate', '--status', '--config', trusted.file], trusted.root, env);
  assert.equal(withCa.code, 1);
  assert.match(withCa.stderr, /password authentication failed/);
  quiet(withCa);
  assert.deepEqual(seen.at(-1), { tls: true, password: 'pa:ss\\word' });

  // sslmode=require still checks the certificate, as pg 8 does (verify-full): an unknown CA is refused.
  const untrusted = configDir({
    store: { engine: 'postgres', url: `postgres://pwuser@localhost:${port}/postern?sslmode=require` },
  });
  t.after(() => untrusted.cleanup());
  const before = seen.length;
  const withoutCa = await run(['migrate', '--status', '--config', untrusted.file], untrusted.root, env);
  assert.equal(withoutCa.code, 1);
  assert.match(withoutCa.stderr, /certificate/);
  quiet(withoutCa);
  assert.equal(seen.length, before + 1);
  assert.deepEqual(seen.at(-1), { tls: true, password: undefined });
});
