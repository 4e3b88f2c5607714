// `serve` on a data directory its user owns: files a root command left there stop it at start, with the
// chown that fixes them; started as root, it binds its ports and then becomes that user.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { addUser, MAIN, POSTERN, postern, spawnServer } from '../support/child-server.ts';
import { OWNER, ownedDir, unreachableByOwner } from '../support/owned-data-dir.ts';
import { freePort } from '../support/ports.ts';
import { readUntil } from '../support/read-until.ts';
import { SmtpClient } from '../support/smtp-client.ts';

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

/**
 * A loopback port free now that only root may bind (below net.ipv4.ip_unprivileged_port_start, 1024 by
 * default; containers often set 0, and then there is none: undefined).
 */
async function privilegedPort(): Promise<number | undefined> {
  const start = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  if (!(start > 1)) return undefined;
  for (let port = start - 1; port > Math.max(0, start - 120); port--) {
    const server = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false)).listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new Error(`no free loopback port below ${start}`);
}

/** What binding 127.0.0.1:port does for the data directory's owner: 'EACCES' when only root may. */
function ownerBinds(port: number): Promise<string> {
  const script = `require('net').createServer().once('error', (e) => { console.log(e.code); process.exit(0) })
    .listen(${port}, '127.0.0.1', () => { console.log('bound'); process.exit(0) })`;
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [`--reuid=${OWNER}`, `--regid=${OWNER}`, '--clear-groups', process.execPath, '-e', script],
      { timeout: 10_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
    );
  });
}

/** Every entry under `dir` (itself included) with its owner's uid and gid, for one assertion. */
function owners(dir: string): string[] {
  return [dir, ...fs.readdirSync(dir, { recursive: true }).map((name) => path.join(dir, String(name)))].map((file) => {
    const stat = fs.lstatSync(file);
    return `${path.relative(dir, file) || '.'} ${stat.uid}:${stat.gid}`;
  });
}

test('serve started as root on its user’s data directory binds its ports, one below 1024 too, then runs as that user', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users and bind a port below 1024');
  const low = await privilegedPort();
  if (low === undefined) return t.skip('net.ipv4.ip_unprivileged_port_start is 0: no port needs root here');
  assert.equal(await ownerBinds(low), 'EACCES', 'the owner alone cannot bind it: serve bound it as root');
  const d = ownedDir(t, {
    listen: { smtp: `127.0.0.1:${low}`, submission: '127.0.0.1:0', submissions: '127.0.0.1:0' },
    tls: { selfSigned: true },
  });
  await addUser(d.file, 'alice@example.com'); // as root: it becomes the owner too
  const server = await spawnServer(d.file);
  t.after(() => server.stop());
  assert.equal(server.port, low);
  // All of the process, for good: real, effective, saved and file-system IDs, and the groups.
  const status = fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\t${OWNER}\\t${OWNER}\\t${OWNER}\\t${OWNER}$`, 'm'));
  assert.match(status, new RegExp(`^Gid:\\t${OWNER}\\t${OWNER}\\t${OWNER}\\t${OWNER}$`, 'm'));
  assert.match(status, new RegExp(`^Groups:\\t${OWNER} ?$`, 'm'));
  assert.match(
    server.output(),
    new RegExp(`started as root: the ports are bound, and the server now runs as nobody, the owner of ${d.data}`),
  );
  assert.doesNotMatch(server.output(), /will be root's/);
  const submissions = Number(/"submissions":"127\.0\.0\.1:(\d+)"/.exec(server.output())?.[1]);
  const { client } = await SmtpClient.open(low);
  t.after(() => client.close());
  assert.equal((await client.command('EHLO c.example.net')).code, 250);
  assert.equal((await client.command('MAIL FROM:<sender@example.net>')).code, 250);
  assert.equal((await client.command('RCPT TO:<alice@example.com>')).code, 250);
  assert.equal((await client.command('DATA')).code, 354);
  assert.equal((await client.command('From: sender@example.net\r\nSubject: low port\r\n\r\nHello.\r\n.')).code, 250);
  const secure = await SmtpClient.openTls(submissions);
  t.after(() => secure.client.close());
  assert.equal((await secure.client.command('EHLO c.example.net')).code, 250, 'the TLS key it made is readable');
  assert.equal(await server.stop(), 0);
  const list = await postern(['mail', 'list', 'alice@example.com', '--json', '--config', d.file]);
  assert.deepEqual(
    (JSON.parse(list.stdout) as { subject: string }[]).map((m) => m.subject),
    ['low port'],
  );
  // The store, the lock and PID files, the TLS key and certificate: all the owner's.
  const made = owners(d.data);
  assert.ok(
    made.some((line) => line.startsWith('tls/self-signed.key ')),
    made.join('\n'),
  );
  assert.deepEqual(
    made.filter((line) => !line.endsWith(` ${OWNER}:${OWNER}`)),
    [],
  );
});

test('serve started as root follows no link its user planted in the data directory with root’s rights', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  // The owner makes tls/ a link to a directory only root may write: as root, serve made its key there.
  const rootOnly = path.join(d.root, 'root-only');
  fs.mkdirSync(rootOnly, { mode: 0o700 });
  fs.symlinkSync(rootOnly, path.join(d.data, 'tls'));
  fs.lchownSync(path.join(d.data, 'tls'), OWNER, OWNER);
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(POSTERN, ['serve', '--config', d.file], { cwd: '/', timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stderr,
    new RegExp(
      `^postern: dataDir: ${path.join(d.data, 'tls')} is a symbolic link to ${rootOnly}, which belongs to root: nobody ` +
        `cannot make it private \\(chmod 700\\) for the TLS keys kept there; replace the link with a directory of nobody's$`,
      'm',
    ),
  );
  assert.match(
    result.stderr,
    new RegExp(
      `^postern: note: started as root, the server became nobody, the owner of ${d.data}, once its ports were bound: ` +
        'a file it reads or writes elsewhere must be open to nobody too$',
      'm',
    ),
  );
  assert.deepEqual(fs.readdirSync(rootOnly), [], 'nothing written through the link');
});

test('serve started as root looks through its user’s data directory with that user’s rights', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  // A directory of root's in it that its owner cannot read: named, never listed (as root, a link the
  // owner swapped in between our look and our readdir made root list any directory into the log).
  fs.mkdirSync(path.join(d.data, 'sub'), { mode: 0o700 });
  fs.writeFileSync(path.join(d.data, 'sub', 'secret-name'), '');
  const server = await spawnServer(d.file);
  t.after(() => server.stop());
  const warning = server
    .output()
    .split('\n')
    .find((line) => line.includes("sub is root's"));
  assert.ok(warning, server.output());
  assert.doesNotMatch(server.output(), /secret-name/);
});

test('serve started as root: a client that connects while the server starts is greeted once it is ready', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const port = await freePort();
  const d = ownedDir(t, { listen: { smtp: `127.0.0.1:${port}`, submission: null, submissions: null } });
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', d.file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  // Connect as soon as the port is bound: the store and TLS are not set up yet.
  let early: net.Socket | undefined;
  for (let tries = 0; !early && tries < 1000; tries++) {
    early = await new Promise<net.Socket | undefined>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', () => resolve(undefined));
    });
    if (!early) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(early, 'the port was bound');
  t.after(() => early.destroy());
  const connectedBeforeReady = !output.includes('SMTP on');
  early.write('EHLO early.example.net\r\n');
  const replies = await readUntil(early, /^250 /m);
  assert.match(replies, /^220 mx\.example\.com/);
  assert.match(replies, /^250-mx\.example\.com/m);
  // Bound a moment before the store's writer thread and TLS are up (tens of ms); polled every 5 ms.
  assert.ok(connectedBeforeReady, `connected only after the server was ready:\n${output}`);
  assert.match(output, /started as root/);
});

test('serve started as root on its user’s data directory that user cannot reach: refused, nothing done there as root', async (t) => {
  if (!asRoot) return t.skip('needs root to switch users');
  const d = ownedDir(t);
  fs.chmodSync(d.root, 0o700); // root's: nobody cannot reach data/ inside
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(POSTERN, ['serve', '--config', d.file], { cwd: '/', timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
  assert.equal(result.code, 1, result.stdout);
  assert.equal(result.stderr, `postern: ${unreachableByOwner(d.data)}\n`);
  assert.deepEqual(fs.readdirSync(d.data), [], 'no lock, no store');
});
