// `postern check`: what serve would stop at or warn about, found without starting anything.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { checkConfig } from '../../src/cli/commands/check.ts';
import { loadConfig } from '../../src/config/load.ts';
import { migrateSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { addUser, configDir, postern, spawnServer } from '../support/child-server.ts';
import { withTestDatabase } from '../support/postgres.ts';
import { createTestCa } from '../support/test-ca.ts';
import { waitFor } from '../support/wait.ts';

type Context = { after(fn: () => unknown): void };

/**
 * A config in a temp dir. With `store` (and SQLite), its store is made as a first start would, so that
 * `check` has no "no store yet" warning to give: the tests that count warnings are about something else.
 */
function dir(t: Context, extra: Record<string, unknown> = {}, { store = false } = {}) {
  const d = configDir(extra);
  t.after(() => d.cleanup());
  if (store) migrateSqliteStore(path.join(d.root, 'data'));
  return d;
}

test('check: a good config is OK, exit 0, and nothing is created, bound or opened', async (t) => {
  const { root, file } = dir(t);
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    `warning: there is no Postern store at ${path.join(root, 'data', 'postern.sqlite')} yet: serve will make a new, empty one (no accounts, no mail). Expected on a first start; otherwise point dataDir at the server's store\n` +
      `${file}: OK (1 warning)\n`,
  );
  assert.deepEqual(fs.readdirSync(root), ['postern.yaml'], 'no data directory, no database');
  await addUser(file, 'alice@example.com');
  const again = await postern(['check', '--config', file]);
  assert.equal(again.stdout, `${file}: OK (0 warnings)\n`, 'the store is there now');
});

test('check: every part serve would stop at is named, the others still checked; exit 1', async (t) => {
  const { file } = dir(
    t,
    {
      restrictions: { recipient: ['reject_non_fqdn_recipient', 'reject_unlisted_recipeint'] },
      filter: { phishing: { enabled: false }, headerChecks: './missing.rules' },
      tls: { certificates: [{ cert: './nope.pem', key: './nope.key' }] },
    },
    { store: true },
  );
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1);
  const lines = result.stdout.trim().split('\n');
  assert.match(lines[0]!, /^error: restrictions\.recipient\[1\]: unknown restriction "reject_unlisted_recipeint"/);
  assert.match(lines[1]!, /^error: filter\.headerChecks: cannot read the rule file .*missing\.rules: ENOENT$/);
  assert.match(lines[2]!, /^error: tls\.certificates: .*nope\.(pem|key): cannot read: ENOENT$/);
  assert.equal(lines[3], `${file}: 3 errors; serve would not start`);

  const json = await postern(['check', '--config', file, '--json']);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, false);
  assert.equal(report.errors.length, 3);
});

test('check: a restriction at a stage where it cannot work, and an open relay, are errors', async (t) => {
  const misplaced = dir(t, { restrictions: { client: ['reject_unauth_pipelining'] } });
  const openRelay = dir(t, { restrictions: { relay: ['permit'] } });
  const [first, second] = await Promise.all([
    postern(['check', '--config', misplaced.file]),
    postern(['check', '--config', openRelay.file]),
  ]);
  assert.equal(first.code, 1);
  assert.match(
    first.stdout,
    /error: restrictions\.client\[0\]: reject_unauth_pipelining cannot work at the client stage/,
  );
  assert.equal(second.code, 1);
  assert.match(second.stdout, /error: restrictions\.relay: .*relay/i);
});

test('check: a schema error stops at once, each problem an error line naming the key; --json too', async (t) => {
  const { file } = dir(t, { smtp: { maxRecipients: 'many' }, bogus: 1 });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1);
  assert.equal(result.stderr, '');
  const lines = result.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 3, result.stdout);
  assert.ok(
    lines.some((line) => /^error: unknown key "bogus"/.test(line)),
    result.stdout,
  );
  assert.ok(
    lines.some((line) => /^error: smtp\.maxRecipients: "many" is invalid/.test(line)),
    result.stdout,
  );
  assert.equal(lines[2], `${file}: 2 errors; serve would not start`);

  // Before, --json printed nothing on stdout for a config that failed the schema.
  const json = await postern(['check', '--json', '--config', file]);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as { ok: boolean; config: string; errors: string[]; warnings: string[] };
  assert.equal(report.ok, false);
  assert.equal(report.config, file);
  assert.equal(report.errors.length, 2);
  assert.deepEqual(report.warnings, []);

  fs.writeFileSync(file, 'hostname: [unclosed\n');
  const yaml = await postern(['check', '--json', '--config', file]);
  assert.equal(yaml.code, 1);
  assert.match(
    (JSON.parse(yaml.stdout) as { errors: string[] }).errors[0] ?? '',
    /^not valid YAML at line \d+, column \d+: /,
  );
  // A mistake on the command line, not in the config: a usage error, as for every command.
  const empty = await postern(['check', '--config', '']);
  assert.equal(empty.code, 2);
  assert.equal(empty.stdout, '');
  assert.match(
    empty.stderr,
    /^postern: check: --config needs the config file's path\nRun 'postern help' for usage\.\n$/,
  );
  const missing = await postern(['check', '--json', '--config', `${file}.gone`]);
  assert.equal(missing.code, 1);
  assert.match((JSON.parse(missing.stdout) as { errors: string[] }).errors[0] ?? '', /does not exist/);
});

test('check: two listeners on one port are an error naming both keys, not a start that fails later', async (t) => {
  const { file } = dir(t, { listen: { smtp: '127.0.0.1:32541', submission: '0.0.0.0:32541', submissions: null } });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(
    result.stdout,
    /^error: listen\.smtp and listen\.submission take 127\.0\.0\.1:32541 and 0\.0\.0\.0:32541, the same port: one port serves one listener/m,
  );
});

test('check: certificates are listed; a key others can read, a hostname no certificate names and a near expiry are warnings', async (t) => {
  const ca = await createTestCa();
  const { cert, key } = await ca.issue(['other.example.net']);
  const { root, file } = dir(t, { tls: { certificates: [{ cert: './cert.pem', key: './key.pem' }] } }, { store: true });
  fs.writeFileSync(path.join(root, 'cert.pem'), cert);
  fs.writeFileSync(path.join(root, 'key.pem'), key, { mode: 0o644 });
  fs.chmodSync(path.join(root, 'key.pem'), 0o644);

  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /warning: TLS: the private key file .*key\.pem is readable by other users; chmod 600 it/);
  assert.match(result.stdout, /warning: TLS: no certificate names the hostname mx\.example\.com/);
  assert.match(result.stdout, /certificate .*cert\.pem: other\.example\.net, valid until \d{4}-/);
  assert.match(result.stdout, /: OK \(2 warnings\)\n$/);

  // The test CA's certificates live 30 days: 20 days on, 10 are left.
  const { config } = loadConfig(file);
  const report = await checkConfig(config, file, new Date(Date.now() + 20 * 86_400_000));
  assert.ok(
    report.warnings.some((w) => /the certificate .*cert\.pem expires in (9|10) days/.test(w)),
    report.warnings.join('\n'),
  );
});

test('check without a config file says serve would run on the embedded defaults', async (t) => {
  const { root } = dir(t);
  const result = await postern(['check'], { cwd: root });
  // The config in the folder is found as ./postern.yaml; from an empty folder the defaults apply.
  assert.equal(result.code, 0, result.stderr);
  const empty = fs.mkdtempSync(path.join(root, 'empty-'));
  const bare = await postern(['check'], { cwd: empty });
  assert.equal(bare.code, 0, bare.stderr);
  assert.match(bare.stdout, /warning: no config file: serve would run on the embedded defaults/);
  assert.match(bare.stdout, /warning: there is no Postern store at .*empty-\w+\/data\/postern\.sqlite yet/);
  assert.match(bare.stdout, /^embedded defaults: OK \(2 warnings\)$/m);
});

test('a config file that sets nothing (empty, comments only, ~) is said, not run on the defaults in silence', async (t) => {
  const { root } = dir(t);
  for (const [name, text] of [
    ['empty.yaml', ''],
    ['comments.yaml', '# hostname: mx.example.com\n# domains: [example.com]\n'],
    ['null.yaml', '~\n'],
  ] as const) {
    const file = path.join(root, name);
    fs.writeFileSync(file, text);
    assert.equal(loadConfig(file).empty, true, name);
    const result = await postern(['check', '--config', file], { cwd: root });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(
        `^warning: the config file ${file} sets nothing: serve would run on the embedded defaults \\(hostname `,
      ),
      name,
    );
  }
  assert.equal(loadConfig(path.join(root, 'postern.yaml')).empty, false);
});

test('check and serve warn when the phishing allowlist has no DMARC result to go on', async (t) => {
  const { file } = dir(t, {
    authentication: { enabled: false },
    filter: { phishing: { enabled: true, allowlist: ['partner.example'] } },
  });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    /warning: filter\.phishing\.allowlist exempts its senders without any check while authentication\.enabled is false/,
  );
  const server = await spawnServer(file);
  try {
    const warned = /filter\.phishing\.allowlist exempts its senders without any check/;
    await waitFor(() => warned.test(server.output()), 5000).catch(() => {});
    assert.match(server.output(), warned);
  } finally {
    await server.stop();
  }
  const { file: checked } = dir(t, { filter: { phishing: { enabled: true, allowlist: ['partner.example'] } } });
  const fine = await postern(['check', '--config', checked]);
  assert.doesNotMatch(fine.stdout, /allowlist/, 'with DMARC checked the allowlist is safe');
  assert.equal(fine.code, 0);
});

test('check: a data directory serve could not write is an error naming it', async (t) => {
  const { root, file } = dir(t);
  const data = path.join(root, 'data');
  fs.writeFileSync(data, 'a file where the data directory should be');
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /^error: dataDir: .*data is not a directory$/m);
});

test('check: a data directory reached through a link to nothing, which serve could not make, is an error naming the link', async (t) => {
  const { root, file } = dir(t, { dataDir: './gone/data' });
  fs.symlinkSync(path.join(root, 'missing'), path.join(root, 'gone'));
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stdout,
    new RegExp(
      `^error: dataDir: ${path.join(root, 'gone')} is a symbolic link to ${path.join(root, 'missing')}, which leads nowhere \\(ENOENT\\); serve could not make ${path.join(root, 'gone', 'data')}$`,
      'm',
    ),
  );
  // serve stops there indeed (check said OK before).
  const served = await postern(['serve', '--config', file]);
  assert.equal(served.code, 1, served.stderr);
  assert.match(served.stderr, /ENOENT/);
  assert.deepEqual(fs.readdirSync(root).sort(), ['gone', 'postern.yaml'], 'check left nothing behind');
});

test('check: a data directory not made yet must be makeable where it would go, which access(2) cannot tell root', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('root only: for others access(2) already finds a directory they cannot write');
    return;
  }
  // Past the load (which refuses /proc, src/config/load.ts): a parent access(2) calls writable for root
  // in which no directory can be made, as on NFS with root squashed.
  const { file } = dir(t);
  const { config } = loadConfig(file);
  config.dataDir = '/proc/postern/data';
  const report = await checkConfig(config, file);
  assert.deepEqual(report.errors, [
    'dataDir: /proc/postern/data does not exist, and no directory can be made in /proc (ENOENT); serve would make it there',
  ]);
  // Where it can be made, nothing is left of the try.
  const { root, file: good } = dir(t);
  const fine = await checkConfig(loadConfig(good).config, good);
  assert.deepEqual(fine.errors, []);
  assert.deepEqual(fs.readdirSync(root), ['postern.yaml']);
});

test('check: an http:// BIMI logo is refused saying https is needed, not "Invalid URL"', async (t) => {
  const { file } = dir(t, { publish: { bimi: { logo: 'http://example.com/logo.svg' } } });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stdout,
    /^error: publish\.bimi\.logo: "http:\/\/example\.com\/logo\.svg" is invalid: expected an https:\/\/ URL: BIMI \(draft §4\.2\) allows no other scheme, http:\/\/ included$/m,
  );
  assert.doesNotMatch(result.stdout, /Invalid URL/);
});

test('check finds in the data directory what serve would stop at: a lock file that is no database, a tls file', async (t) => {
  for (const [make, say] of [
    [
      (data: string) => fs.writeFileSync(path.join(data, 'postern.lock'), 'not a database'),
      /^error: the lock file .*postern\.lock is not an empty SQLite database: remove it/m,
    ],
    [
      (data: string) => fs.writeFileSync(path.join(data, 'tls'), 'a file where serve keeps its keys'),
      /^error: dataDir: .*tls is not a directory; serve keeps its TLS keys and certificates there$/m,
    ],
  ] as const) {
    const { root, file } = dir(t, {}, { store: true });
    make(path.join(root, 'data'));
    const checked = await postern(['check', '--config', file]);
    assert.equal(checked.code, 1, checked.stdout);
    assert.match(checked.stdout, say);
    // serve stops at it too (it did, while check said OK).
    const served = await postern(['serve', '--config', file]);
    assert.equal(served.code, 1, served.stderr);
  }
  // An empty lock file is what serve leaves: fine.
  const { root, file } = dir(t, {}, { store: true });
  fs.writeFileSync(path.join(root, 'data', 'postern.lock'), '');
  assert.doesNotMatch((await postern(['check', '--config', file])).stdout, /lock file/);
});

test('serve on a data directory that is a file says so, as check does (it said "EEXIST: file already exists, mkdir")', async (t) => {
  const { root, file } = dir(t);
  fs.writeFileSync(path.join(root, 'data'), 'a file where the data directory should be');
  const served = await postern(['serve', '--config', file]);
  assert.equal(served.code, 1);
  assert.match(served.stderr, /dataDir: .*data is not a directory/);
});

test('check warns when the data directory has less room than 1.5 × maxMessageSize (serve would answer every MAIL 452)', async (t) => {
  const { file } = dir(t, { smtp: { maxMessageSize: 10 ** 15 } }, { store: true });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 0, result.stdout);
  assert.match(
    result.stdout,
    /^warning: dataDir: its file system has \d+ MB free, less than 1\.5 × smtp\.maxMessageSize \(1500000000 MB\)/m,
  );
});

test('check: a store that cannot be read is one error among the others, and --json still reports', async (t) => {
  const { root, file } = dir(t);
  fs.mkdirSync(path.join(root, 'data'), { mode: 0o700 });
  fs.writeFileSync(path.join(root, 'data', 'postern.sqlite'), 'not a database, whatever it was'.repeat(200));
  const json = await postern(['check', '--config', file, '--json']);
  assert.equal(json.code, 1, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, false);
  assert.ok(
    report.errors.some((e: string) => /cannot read the SQLite store .*postern\.sqlite: file is not a database/.test(e)),
    report.errors.join('\n'),
  );
});

test('check with PostgreSQL: the server is asked; down, or a URL that cannot be read, is an error', (t) =>
  withTestDatabase(async ({ url }) => {
    const good = dir(t, { store: { engine: 'postgres', url } });
    const ok = await postern(['check', '--config', good.file]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const down = dir(t, { store: { engine: 'postgres', url: 'postgres://postern:not-shown@127.0.0.1:1/postern' } });
    const refused = await postern(['check', '--config', down.file]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stdout,
      /error: cannot connect to PostgreSQL at postgres:\/\/postern:\*\*\*@127\.0\.0\.1:1\/postern/,
    );
    assert.doesNotMatch(refused.stdout + refused.stderr, /not-shown/);
    const broken = dir(t, { store: { engine: 'postgres', url: 'postgresql://postern:s3cr%20PW@[::1:5432/postern' } });
    const unreadable = await postern(['check', '--config', broken.file]);
    assert.equal(unreadable.code, 1);
    assert.match(unreadable.stdout + unreadable.stderr, /store\.url.*not a URL that can be read/s);
    assert.doesNotMatch(unreadable.stdout + unreadable.stderr, /s3cr/);
  }));

test('tls.acme: a directoryCa without a certificate, or missing, and a taken challenge port are one line naming the key', async (t) => {
  const acme = (extra: Record<string, unknown>) => ({
    tls: {
      acme: {
        directory: 'https://127.0.0.1:9/dir',
        termsOfServiceAgreed: true,
        http01: { listen: '127.0.0.1:0' },
        ...extra,
      },
    },
  });
  const garbage = dir(t, acme({ directoryCa: './ca.pem' }));
  fs.writeFileSync(path.join(garbage.root, 'ca.pem'), 'not a certificate\n');
  const checked = await postern(['check', '--config', garbage.file]);
  assert.equal(checked.code, 1, checked.stdout);
  assert.match(checked.stdout, /^error: tls\.acme\.directoryCa: .*ca\.pem holds no PEM certificate/m);
  const served = await postern(['serve', '--config', garbage.file]);
  assert.equal(served.code, 1, served.stderr);
  assert.match(served.stderr, /^postern: tls\.acme\.directoryCa: .*ca\.pem holds no PEM certificate .*\n$/);

  const missing = dir(t, acme({ directoryCa: './nope.pem' }));
  const noFile = await postern(['serve', '--config', missing.file]);
  assert.equal(noFile.code, 1, noFile.stderr);
  assert.match(noFile.stderr, /^postern: tls\.acme\.directoryCa: cannot read .*nope\.pem: ENOENT\n$/);

  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const taken = `127.0.0.1:${(holder.address() as net.AddressInfo).port}`;
  const busy = dir(t, acme({ http01: { listen: taken } }));
  const inUse = await postern(['serve', '--config', busy.file]);
  assert.equal(inUse.code, 1, inUse.stderr);
  assert.match(
    inUse.stderr,
    new RegExp(`^postern: tls\\.acme\\.http01\\.listen: ${taken} is in use by another program \\(`),
  );
  assert.equal(inUse.stderr.trim().split('\n').length, 1, inUse.stderr);
});

test('tls.acme: check lists the certificates ACME stored and says which names are failing, with the reason and next try', async (t) => {
  const acme = {
    directory: 'https://127.0.0.1:9/dir',
    termsOfServiceAgreed: true,
    hostnames: ['mx.example.com', 'new.example.com'],
    http01: { listen: '127.0.0.1:0' },
  };
  const { root, file } = dir(t, { tls: { acme } }, { store: true });
  const acmeDir = path.join(root, 'data', 'tls', 'acme');
  fs.mkdirSync(acmeDir, { recursive: true, mode: 0o700 });
  const ca = await createTestCa();
  const { cert } = await ca.issue(['mx.example.com']);
  fs.writeFileSync(path.join(acmeDir, 'mx.example.com.crt'), cert);
  const at = new Date(Date.now() - 60_000).toISOString();
  const failed = {
    failures: 2,
    at,
    error: 'ACME: the CA could not reach http://new.example.com/.well-known/acme-challenge/x',
  };
  fs.writeFileSync(path.join(acmeDir, 'new.example.com.failures.json'), JSON.stringify(failed));
  const result = await postern(['check', '--json', '--config', file]);
  assert.equal(result.code, 0, result.stdout);
  const report = JSON.parse(result.stdout) as { certificates: { file: string; names: string[] }[]; warnings: string[] };
  assert.deepEqual(
    report.certificates.map((c) => [path.basename(c.file), c.names]),
    [['mx.example.com.crt', ['mx.example.com']]],
  );
  const failing = report.warnings.find((w) => w.startsWith('tls.acme: new.example.com: 2 failed orders'));
  assert.ok(failing, report.warnings.join('\n'));
  assert.match(
    failing,
    /the last: ACME: the CA could not reach http:\/\/new\.example\.com.*; the next at \d{4}-\d\d-\d\dT/,
  );
  assert.match(failing, /systemctl reload postern/);
});

test('check: submission listeners with no certificate to serve are a warning, as serve gives at its start', async (t) => {
  const off = dir(t, { tls: { selfSigned: false } }, { store: true });
  const result = await postern(['check', '--config', off.file]);
  assert.equal(result.code, 0, result.stdout);
  assert.match(result.stdout, /^warning: submission listeners would be off: they need a TLS certificate/m);
  // Self-signed (the default), or no submission listener: nothing to say.
  for (const extra of [
    {},
    { tls: { selfSigned: false }, listen: { smtp: '127.0.0.1:0', submission: null, submissions: null } },
  ]) {
    const d = dir(t, extra, { store: true });
    const quiet = await postern(['check', '--config', d.file]);
    assert.doesNotMatch(quiet.stdout, /submission listeners/, JSON.stringify(extra));
  }
});

test('check: publish.spfInclude that would make a broken SPF record is a warning naming the term', async (t) => {
  const { file } = dir(t, { publish: { spfInclude: ['spf.example.net'] } }, { store: true });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 0, result.stdout);
  assert.match(
    result.stdout,
    /^warning: publish\.spfInclude makes an SPF record receivers refuse .*bad term spf\.example\.net/m,
  );
});

/** An address no interface of this machine has, for a listener serve could not bind; undefined where the kernel binds any. */
function foreignAddress(): string | undefined {
  const nonLocal = (family: string) => {
    try {
      return fs.readFileSync(`/proc/sys/net/${family}/ip_nonlocal_bind`, 'utf8').trim() === '1';
    } catch {
      return false;
    }
  };
  const address = '203.0.113.77'; // RFC 5737 TEST-NET-3
  const mine = Object.values(os.networkInterfaces()).some((list) => list?.some((entry) => entry.address === address));
  return mine || nonLocal('ipv4') ? undefined : address;
}

test("check: a listen address that is not this machine's, or a name that does not resolve, is an error worded as serve's", async (t) => {
  const foreign = foreignAddress();
  if (foreign === undefined) return t.skip('this machine may bind any address');
  const { file } = dir(t, { listen: { smtp: `${foreign}:0`, submission: null, submissions: null } }, { store: true });
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1, result.stdout);
  assert.equal(
    result.stdout,
    `error: listen.smtp: ${foreign}:0 is not an address of this machine\n${file}: 1 error; serve would not start\n`,
  );
  // serve says the same at its start.
  const served = await postern(['serve', '--config', file]);
  assert.equal(served.code, 1);
  assert.match(
    served.stderr,
    new RegExp(`listen\\.smtp: ${foreign.replaceAll('.', '\\.')}:0 is not an address of this machine`),
  );

  // A wildcard, loopback (all of 127.0.0.0/8 binds on Linux) and localhost are fine; a submission
  // listener that stays off for want of a certificate is a warning, not a start that fails.
  const good = dir(
    t,
    {
      tls: { selfSigned: false },
      listen: { smtp: '0.0.0.0:0', submission: `${foreign}:0`, submissions: 'localhost:0' },
      mtaSts: { listen: '127.0.0.2:0' },
    },
    { store: true },
  );
  const quiet = await postern(['check', '--config', good.file]);
  assert.equal(quiet.code, 0, quiet.stdout);
  assert.match(
    quiet.stdout,
    new RegExp(
      `^warning: listen\\.submission: ${foreign.replaceAll('.', '\\.')}:0 is not an address of this machine; the listener is off until there is a TLS certificate`,
      'm',
    ),
  );

  // A name: resolved as serve's listen resolves it (dns.lookup); here a resolver that knows none.
  const { config } = loadConfig(file);
  config.listen.smtp = 'mx.nowhere.invalid:25';
  const report = await checkConfig(config, file, new Date(), {
    lookup: async (host) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    },
  });
  assert.deepEqual(report.errors, [
    'listen.smtp: the host of mx.nowhere.invalid:25 does not resolve to an address (give an IP address, or a name in /etc/hosts or DNS)',
  ]);
});

test('check: two listeners whose names resolve to one socket are an error naming both (serve blamed "another program")', async (t) => {
  const { file } = dir(t);
  const { config } = loadConfig(file);
  // vm is 127.0.0.1 in this machine's /etc/hosts, say: spelt apart, the load-time check cannot tell.
  config.listen.smtp = 'vm:2587';
  config.listen.submission = '127.0.0.1:2587';
  config.listen.submissions = null;
  const lookup = async (host: string) => {
    if (host === 'vm') return { address: '127.0.0.1', family: 4 };
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };
  const report = await checkConfig(config, file, new Date(), { lookup });
  assert.ok(
    report.errors.includes(
      'listen.smtp (vm:2587) and listen.submission (127.0.0.1:2587) are one socket, 127.0.0.1 port 2587: one port serves one listener; give one of them another port',
    ),
    report.errors.join('\n'),
  );
  // A wildcard takes every address: a name beside it on its port clashes too; another port does not.
  config.listen.submission = '0.0.0.0:2587';
  assert.ok((await checkConfig(config, file, new Date(), { lookup })).errors.some((e) => /are one socket/.test(e)));
  config.listen.submission = '127.0.0.1:2588';
  assert.ok(!(await checkConfig(config, file, new Date(), { lookup })).errors.some((e) => /are one socket/.test(e)));
});

test('check: a certificate with only a subject CN shows the CN and warns there is no subjectAltName (RFC 6125 §6.4.4)', async (t) => {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=mx.example.com',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 30 * 86_400_000),
    signingAlgorithm: algorithm,
    keys,
  });
  const key = createPrivateKey({
    key: Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    format: 'der',
    type: 'pkcs8',
  }).export({ format: 'pem', type: 'pkcs8' });
  const { root, file } = dir(t, { tls: { certificates: [{ cert: './cert.pem', key: './key.pem' }] } }, { store: true });
  fs.writeFileSync(path.join(root, 'cert.pem'), cert.toString('pem'));
  fs.writeFileSync(path.join(root, 'key.pem'), key, { mode: 0o600 });

  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 0, result.stdout);
  assert.match(
    result.stdout,
    /^certificate .*cert\.pem: no subjectAltName \(subject CN mx\.example\.com\), valid until \d{4}-/m,
  );
  assert.match(
    result.stdout,
    /^warning: tls\.certificates: .*cert\.pem has no subjectAltName DNS names, only the subject CN mx\.example\.com: clients that verify expect the names in subjectAltName \(RFC 6125 §6\.4\.4\)/m,
  );
  const json = JSON.parse((await postern(['check', '--config', file, '--json'])).stdout);
  assert.deepEqual(json.certificates[0].names, []);
  assert.equal(json.certificates[0].commonName, 'mx.example.com');
});

test('check: a data directory that is a file is an error, with no chmod advice for it', async (t) => {
  const { root, file } = dir(t);
  fs.writeFileSync(path.join(root, 'data'), 'a file', { mode: 0o644 });
  fs.chmodSync(path.join(root, 'data'), 0o644);
  const result = await postern(['check', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /^error: dataDir: .*data is not a directory$/m);
  assert.doesNotMatch(result.stdout, /chmod 700|open to other users/);
});

test('check --json names the missing file $POSTERN_CONFIG points at (it said "the config")', async (t) => {
  const { root } = dir(t);
  const missing = path.join(root, 'gone.yaml');
  const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(
      path.resolve(import.meta.dirname, '../../bin/postern'),
      ['check', '--json'],
      { cwd: root, env: { ...process.env, POSTERN_CONFIG: missing }, timeout: 20_000 },
      (error, stdout) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout }),
    );
  });
  assert.equal(result.code, 1);
  const report = JSON.parse(result.stdout);
  assert.equal(report.config, missing);
  assert.deepEqual(report.errors, [`config file ${missing} (named by $POSTERN_CONFIG) does not exist`]);
});

test('check: a data directory that is a loop of links or has a name too long is a dataDir error; the rest is still checked, --json too', async (t) => {
  const long = 'x'.repeat(300); // over NAME_MAX (255 octets on Linux file systems): ENAMETOOLONG
  const cases = [
    // The data directory is the loop itself, or below it: the link that starts it is named.
    {
      dataDir: './loop',
      say: (root: string) =>
        `dataDir: ${path.join(root, 'loop')} is a symbolic link to loop, which leads nowhere (ELOOP); serve could not make the data directory`,
    },
    {
      dataDir: './loop/data',
      say: (root: string) =>
        `dataDir: ${path.join(root, 'loop')} is a symbolic link to loop, which leads nowhere (ELOOP); serve could not make ${path.join(root, 'loop', 'data')}`,
    },
    {
      dataDir: `./${long}`,
      say: (root: string) =>
        `dataDir: ${path.join(root, long)} has a name too long for the file system (a part over 255 octets, or over 4096 in all) (ENAMETOOLONG); serve could not use it`,
    },
    {
      dataDir: `./${long}/data`,
      say: (root: string) =>
        `dataDir: ${path.join(root, long, 'data')} has a name too long for the file system (a part over 255 octets, or over 4096 in all) (ENAMETOOLONG); serve could not use it`,
    },
  ];
  for (const { dataDir, say } of cases) {
    // A second problem elsewhere: check goes on past the data directory and names it too.
    const { root, file } = dir(t, { dataDir, restrictions: { recipient: ['reject_unlisted_recipeint'] } });
    fs.symlinkSync('loop', path.join(root, 'loop'));
    const result = await postern(['check', '--config', file]);
    assert.equal(result.code, 1, `${dataDir}: ${result.stderr}`);
    assert.equal(result.stderr, '', dataDir);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0]!, /^error: restrictions\.recipient\[0\]: unknown restriction "reject_unlisted_recipeint"/);
    assert.equal(lines[1], `error: ${say(root)}`, dataDir);
    assert.equal(lines.at(-1), `${file}: 2 errors; serve would not start`, dataDir);
    const json = await postern(['check', '--config', file, '--json']);
    assert.equal(json.code, 1, `${dataDir}: ${json.stderr}`);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.config, file);
    assert.deepEqual(report.errors.slice(1), [say(root)], dataDir);
    assert.deepEqual(Object.keys(report), ['ok', 'config', 'errors', 'warnings', 'certificates']);
  }
});

test('check: a lock file or tls entry in the data directory that is a loop of links is a dataDir error, not a crash', async (t) => {
  for (const name of ['postern.lock', 'tls']) {
    const { root, file } = dir(t, {}, { store: true });
    const entry = path.join(root, 'data', name);
    fs.symlinkSync(name, entry);
    const result = await postern(['check', '--config', file]);
    assert.equal(result.code, 1, `${name}: ${result.stderr}`);
    assert.equal(result.stderr, '', name);
    assert.match(
      result.stdout,
      new RegExp(
        `^error: dataDir: ${entry} leads into a loop of symbolic links \\(ELOOP\\); serve could not use it$`,
        'm',
      ),
    );
    assert.match(result.stdout, new RegExp(`^${file}: 1 error; serve would not start$`, 'm'));
    const report = JSON.parse((await postern(['check', '--config', file, '--json'])).stdout);
    assert.deepEqual(report.errors, [
      `dataDir: ${entry} leads into a loop of symbolic links (ELOOP); serve could not use it`,
    ]);
  }
});

test('check: an spfInclude open to much of the Internet, or an SPF record over 450 octets, is a warning as dns records gives', async (t) => {
  // Before: both clean here, while dns records printed them ready to publish and dns check failed or warned.
  const open = dir(t, { publish: { spfInclude: ['ip4:0.0.0.0/0'] } }, { store: true });
  const wide = await postern(['check', '--config', open.file]);
  assert.equal(wide.code, 0, wide.stdout);
  assert.match(
    wide.stdout,
    /^warning: publish\.spfInclude has ip4:0\.0\.0\.0\/0, which passes a network wider than \/8/m,
  );
  const terms = Array.from({ length: 26 }, (_, i) => `ip4:198.51.100.${i + 1}`);
  const long = dir(t, { publish: { spfInclude: terms } }, { store: true });
  const big = await postern(['check', '--config', long.file]);
  assert.equal(big.code, 0, big.stdout);
  assert.match(
    big.stdout,
    /^warning: publish\.spfInclude makes the SPF record of example\.com 484 octets with its name, over the 450 RFC 7208 §3\.4 advises/m,
  );
  const records = await postern(['dns', 'records', 'example.com', '--json', '--config', long.file]);
  const spf = JSON.parse(records.stdout).records.find((r: { name: string; value: string }) =>
    r.value.startsWith('v=spf1 mx'),
  );
  assert.match(spf.todo, /484 octets/);
});
