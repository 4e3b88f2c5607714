// `postern check` says what serve stops at in the data directory and at bind, as the user serve runs as:
// a store, a tls/ directory or a port that user may not have, and a PID file that is a directory.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { migrateSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { type CliResult, configDir, POSTERN, postern } from '../support/child-server.ts';
import { OWNER, ownedDir } from '../support/owned-data-dir.ts';

// The cases of another user need root to make its files and to become it. .ci/run runs as root, so
// these run in CI; they skip only on a developer's unprivileged machine, and say so.
const asRoot = process.getuid?.() === 0;

/** bin/postern run as the data directory's owner (nobody), as systemd's User= runs serve. */
function asOwner(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      'setpriv',
      [`--reuid=${OWNER}`, `--regid=${OWNER}`, '--clear-groups', POSTERN, ...args],
      { cwd: '/', timeout: 20_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

test('check: a store its user cannot write (mode 0400) is an error naming it and the chmod, as serve stops', async (t) => {
  if (!asRoot) return t.skip('needs root to give the store to nobody and check as nobody');
  const d = ownedDir(t, { listen: { smtp: '127.0.0.1:0', submission: null, submissions: null } });
  migrateSqliteStore(d.data);
  for (const name of fs.readdirSync(d.data)) fs.chownSync(path.join(d.data, name), OWNER, OWNER);
  const store = path.join(d.data, 'postern.sqlite');
  fs.chmodSync(store, 0o400);
  const checked = await postern(['check', '--config', d.file]);
  assert.equal(checked.code, 1, checked.stdout);
  assert.match(
    checked.stdout,
    new RegExp(
      `^error: dataDir: the SQLite store ${store} cannot be written by nobody, who runs serve \\(mode 0400\\): serve would stop \\(cannot hold the SQLite store: EACCES\\); chmod 600 ${store}$`,
      'm',
    ),
  );
  // serve stops there indeed (check said OK before).
  const served = await postern(['serve', '--config', d.file]);
  assert.equal(served.code, 1, served.stderr);
  assert.match(served.stderr, /cannot hold the SQLite store: EACCES/);

  // Writable, it is fine; a -wal of the user's in mode 0400 is too: serve sets it to 0600 itself.
  fs.chmodSync(store, 0o600);
  fs.writeFileSync(`${store}-wal`, '', { mode: 0o400 });
  fs.chownSync(`${store}-wal`, OWNER, OWNER);
  const fine = await postern(['check', '--config', d.file]);
  assert.doesNotMatch(fine.stdout, /^error:/m, fine.stdout);
});

test('check: a port below ip_unprivileged_port_start is an error as serve words it, for a user without CAP_NET_BIND_SERVICE; not when run as root', async (t) => {
  if (!asRoot) return t.skip('needs root to check as nobody');
  const start = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  if (!(start > 1)) return t.skip(`net.ipv4.ip_unprivileged_port_start is ${start}: every user may bind every port`);
  const port = start - 1;
  const d = ownedDir(t, {
    listen: { smtp: `127.0.0.1:${port}`, submission: null, submissions: null },
    mtaSts: { listen: `127.0.0.1:${port - 1}` },
  });
  const said = (key: string, p: number) =>
    `${key}: no permission to listen on 127.0.0.1:${p}: ports below 1024 need root or CAP_NET_BIND_SERVICE (setcap 'cap_net_bind_service=+ep' on the node binary)`;
  const checked = await asOwner(['check', '--config', d.file]);
  assert.equal(checked.code, 1, checked.stdout);
  assert.match(checked.stdout, new RegExp(`^error: ${regexText(said('listen.smtp', port))}$`, 'm'));
  assert.match(checked.stdout, new RegExp(`^error: ${regexText(said('mtaSts.listen', port - 1))}$`, 'm'));
  // serve run as that user stops with the same words.
  const served = await asOwner(['serve', '--config', d.file]);
  assert.equal(served.code, 1, served.stderr);
  assert.match(served.stderr, new RegExp(regexText(said('listen.smtp', port))));
  // Run as root, check becomes nobody as serve does, but serve started as root binds first: no error.
  const asRootChecked = await postern(['check', '--config', d.file]);
  assert.doesNotMatch(asRootChecked.stdout, /no permission to listen/, asRootChecked.stdout);
});

test('check: a postern.pid that is a directory is an error, as serve stops at it (EISDIR)', async (t) => {
  const d = configDir({ listen: { smtp: '127.0.0.1:0', submission: null, submissions: null } });
  t.after(() => d.cleanup());
  const data = path.join(d.root, 'data');
  migrateSqliteStore(data);
  const pid = path.join(data, 'postern.pid');
  fs.mkdirSync(pid);
  const checked = await postern(['check', '--config', d.file]);
  assert.equal(checked.code, 1, checked.stdout);
  assert.match(
    checked.stdout,
    new RegExp(
      `^error: dataDir: ${pid} is a directory; serve writes its PID file there: remove it \\(rmdir ${pid}\\)$`,
      'm',
    ),
  );
  const served = await postern(['serve', '--config', d.file]);
  assert.equal(served.code, 1, served.stderr);
  assert.match(served.stderr, /cannot write the PID file .*EISDIR/);
});

test('check: an MTA-STS listener with no certificate naming mta-sts.<domain> gets serve’s warning', async (t) => {
  const d = configDir({
    listen: { smtp: '127.0.0.1:0', submission: null, submissions: null },
    mtaSts: { listen: '127.0.0.1:0' },
  });
  t.after(() => d.cleanup());
  migrateSqliteStore(path.join(d.root, 'data'));
  const checked = await postern(['check', '--config', d.file]);
  assert.equal(checked.code, 0, checked.stdout);
  assert.equal(
    checked.stdout,
    'warning: MTA-STS: no certificate names mta-sts.example.com; senders will not use the policy until one does ' +
      '(add the names to tls.acme.hostnames or to a certificate in tls.certificates)\n' +
      `${d.file}: OK (1 warning)\n`,
  );
});

test('check: with tls.acme, a tls/ directory its user cannot write is an error, as serve stops making tls/acme', async (t) => {
  if (!asRoot) return t.skip('needs root to give tls/ to nobody and check as nobody');
  const acme = {
    directory: 'https://127.0.0.1:9/dir',
    termsOfServiceAgreed: true,
    http01: { listen: '127.0.0.1:0' },
  };
  const d = ownedDir(t, { listen: { smtp: '127.0.0.1:0', submission: null, submissions: null }, tls: { acme } });
  const tls = path.join(d.data, 'tls');
  fs.mkdirSync(tls);
  fs.chownSync(tls, OWNER, OWNER);
  fs.chmodSync(tls, 0o500);
  const checked = await postern(['check', '--config', d.file]);
  assert.equal(checked.code, 1, checked.stdout);
  assert.match(
    checked.stdout,
    new RegExp(
      `^error: dataDir: ${tls} cannot be written by nobody \\(owner nobody, mode 0500\\): serve cannot make ${tls}/acme for its TLS keys and certificates; chmod 700 ${tls}$`,
      'm',
    ),
  );
  const served = await postern(['serve', '--config', d.file]);
  assert.equal(served.code, 1, served.stderr);
  assert.match(served.stderr, /(EACCES: permission denied, mkdir|cannot be written by nobody).*tls\/acme/);

  // Without ACME, the self-signed certificate's tls/ is set to 0700 by serve itself: no error.
  const { tls: _acme, ...withoutAcme } = parse(fs.readFileSync(d.file, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(d.file, stringify(withoutAcme));
  const selfSigned = await postern(['check', '--config', d.file]);
  assert.doesNotMatch(selfSigned.stdout, /^error:/m, selfSigned.stdout);
});

function regexText(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
