// `postern quickstart` as an admin runs it: a new domain in an empty directory, then the files, the
// account and the keys it made, checked through the same code `serve` uses.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { verifyPassword } from '../../src/accounts/password.ts';
import { quickstartConfig } from '../../src/admin/quickstart.ts';
import { programName } from '../../src/cli/program-name.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openStore } from '../../src/store/open.ts';
import { POSTERN, postern, ROOT } from '../support/child-server.ts';
import { tempDir } from '../support/server.ts';

test('quickstart writes a valid config, the data, an account whose password it prints once, DKIM keys and the records', async (t) => {
  const root = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'site');
  const result = await postern(['quickstart', 'Example.org', '--dir', dir, '--address', '192.0.2.25']);
  assert.equal(result.code, 0, result.stderr);
  const file = path.join(dir, 'postern.yaml');
  assert.equal(fs.statSync(file).mode & 0o777, 0o640);
  const { config } = loadConfig(file);
  assert.equal(config.hostname, 'mail.example.org');
  assert.deepEqual(config.domains, ['example.org']);
  assert.deepEqual(config.serverAddresses, ['192.0.2.25']);
  assert.equal(config.listen.smtp, '0.0.0.0:25');
  assert.equal(config.dataDir, path.join(dir, 'data'));

  const password = /^Password: (\S+)$/m.exec(result.stdout)?.[1];
  assert.ok(password && password.length === 20, result.stdout);
  const store = await openStore(config, { applicationName: 'quickstart test' });
  try {
    const account = await store.findAccount('postmaster@example.org');
    assert.ok(account);
    assert.ok(await verifyPassword(password, account.passwordHash), 'the printed password is the stored one');
    const keys = await store.listDkimKeys('example.org');
    assert.deepEqual(keys.map((k) => k.algorithm).sort(), ['ed25519', 'rsa']);
  } finally {
    await store.close();
  }
  // The records printed are those `dns records` prints: MX to the host, SPF, DKIM, DMARC at p=none.
  assert.match(result.stdout, /^example\.org\.\s+3600 IN MX\s+10 mail\.example\.org\.$/m);
  assert.match(result.stdout, /^mail\.example\.org\.\s+3600 IN A\s+192\.0\.2\.25$/m);
  assert.match(result.stdout, /"v=DMARC1; p=none; rua=mailto:postmaster@example\.org"/);
  assert.match(result.stdout, /_domainkey\.example\.org\.\s+3600 IN TXT\s+"v=DKIM1; k=ed25519; p=/);
  assert.match(result.stdout, /Next steps:/);
  assert.equal(result.stdout.split(password).length, 2, 'the password appears once');
  // The config is checked with `postern check` (dns check is about DNS and the server), before serve starts.
  assert.match(fs.readFileSync(file, 'utf8'), /^# .*check it with\n# `postern check --config FILE`/m);
  const steps = result.stdout.slice(result.stdout.indexOf('Next steps:'));
  assert.ok(steps.indexOf(`postern check --config ${file}`) > 0, steps);
  assert.ok(steps.indexOf('postern check --config') < steps.indexOf('postern serve --config'), steps);
});

test('quickstart run again after a run that stopped before its config keeps the account and the keys', async (t) => {
  const root = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'site');
  const first = await postern(['quickstart', 'example.org', '--dir', dir]);
  assert.equal(first.code, 0, first.stderr);
  const file = path.join(dir, 'postern.yaml');
  const { config } = loadConfig(file);
  // As if the first run had stopped after the account: no config, and no Ed25519 key yet.
  fs.rmSync(file);
  let store = await openStore(config, { applicationName: 'quickstart test' });
  const rsaBefore = (await store.listDkimKeys('example.org')).find((k) => k.algorithm === 'rsa')!;
  const ed25519 = (await store.listDkimKeys('example.org')).find((k) => k.algorithm === 'ed25519')!;
  assert.equal(await store.removeDkimKey(ed25519.id), true);
  await store.close();

  const again = await postern(['quickstart', 'example.org', '--dir', dir]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    /held an earlier run's store: kept the account postmaster@example\.org .*the rsa DKIM key/,
  );
  const password = /^Password: (\S+)$/m.exec(again.stdout)?.[1];
  assert.ok(password);
  assert.ok(fs.existsSync(file), 'the config is written this time');
  store = await openStore(config, { applicationName: 'quickstart test' });
  try {
    const account = await store.findAccount('postmaster@example.org');
    assert.ok(account && (await verifyPassword(password, account.passwordHash)), 'the new password is the stored one');
    assert.equal((await store.listAccounts()).length, 1);
    const keys = await store.listDkimKeys('example.org');
    assert.deepEqual(keys.map((k) => k.algorithm).sort(), ['ed25519', 'rsa'], 'the missing key is made');
    assert.equal(keys.find((k) => k.algorithm === 'rsa')!.id, rsaBefore.id, 'the existing key is kept');
  } finally {
    await store.close();
  }
});

test('the next steps name the CLI as it can be run from here: ./bin/postern, its full path, or postern on the PATH', async (t) => {
  const root = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const run = promisify(execFile);
  const steps = async (site: string, options: { cwd: string; env?: NodeJS.ProcessEnv }, command = POSTERN) => {
    const dir = path.join(root, site);
    const { stdout } = await run(command, ['quickstart', 'example.org', '--dir', dir], { timeout: 60_000, ...options });
    const next = stdout.slice(stdout.indexOf('Next steps:'));
    const config = path.join(dir, 'postern.yaml');
    return { next, config: config.includes(' ') ? `'${config}'` : config };
  };
  // From the checkout's root, as README's tour runs it.
  const checkout = await steps('checkout', { cwd: ROOT });
  assert.match(
    checkout.next,
    new RegExp(`^ {2}3\\. Check the config: {2}\\./bin/postern check --config ${checkout.config} `, 'm'),
  );
  // From elsewhere (docs/deployment.md runs /opt/postern/bin/postern from anywhere): "./bin/postern" was
  // printed there too, which no shell found.
  const elsewhere = await steps('elsewhere', { cwd: root });
  const launcher = path.join(ROOT, 'bin', 'postern');
  assert.ok(
    elsewhere.next.includes(`  4. Start the server:   ${launcher} serve --config ${elsewhere.config}\n`),
    elsewhere.next,
  );
  assert.doesNotMatch(elsewhere.next, /\.\/bin\/postern/);
  // Through a link on the PATH (as deployment.md makes, and as npm links an installed package's bin),
  // the name typed, which the shell finds again; a config path with a space is quoted.
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(launcher, path.join(bin, 'postern'));
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` };
  const linked = await steps('linked site', { cwd: root, env }, 'postern');
  assert.ok(
    linked.next.includes(`  3. Check the config:  postern check --config ${linked.config}   (after`),
    linked.next,
  );
  assert.match(linked.config, /^'.*linked site\/postern\.yaml'$/);
  assert.ok(linked.next.includes(`  5. Check the domain:   postern dns check example.org --config ${linked.config}\n`));
});

test('programName for an installed package: Node runs dist/src/cli/main.js; its bin on the PATH is postern', (t) => {
  const root = tempDir('postern-installed-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const pkg = path.join(root, 'node_modules', 'postern');
  for (const dir of ['bin', 'dist/src/cli']) fs.mkdirSync(path.join(pkg, dir), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name": "postern"}\n');
  fs.writeFileSync(path.join(pkg, 'bin', 'postern'), '#!/bin/sh\n', { mode: 0o755 });
  const script = path.join(pkg, 'dist', 'src', 'cli', 'main.js');
  fs.writeFileSync(script, '');
  assert.equal(programName({ script, cwd: '/', searchPath: '/usr/bin' }), path.join(pkg, 'bin', 'postern'));
  assert.equal(programName({ script, cwd: pkg, searchPath: '' }), './bin/postern');
  assert.equal(programName({ script, cwd: root, searchPath: '' }), path.join(pkg, 'bin', 'postern'));
  // npm links the bin as node_modules/.bin/postern (and, installed globally, into a directory on the PATH).
  const dotBin = path.join(root, 'node_modules', '.bin');
  fs.mkdirSync(dotBin);
  fs.symlinkSync('../postern/bin/postern', path.join(dotBin, 'postern'));
  assert.equal(programName({ script, cwd: '/', searchPath: `/usr/bin${path.delimiter}${dotBin}` }), 'postern');
  // Another program called postern on the PATH is not this one; nor is a relative PATH entry trusted.
  const other = path.join(root, 'other');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'postern'), '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(programName({ script, cwd: root, searchPath: other }), path.join(pkg, 'bin', 'postern'));
  assert.equal(programName({ script, cwd: root, searchPath: 'node_modules/.bin' }), path.join(pkg, 'bin', 'postern'));
  assert.equal(programName({ script: '/nowhere/main.js', cwd: '/', searchPath: '' }), 'postern');
});

test('quickstart never overwrites a config, and refuses bad input with a clear error', async (t) => {
  const dir = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'postern.yaml'), '# mine\n');
  const again = await postern(['quickstart', 'example.org', '--dir', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists already; quickstart never overwrites/);
  assert.equal(fs.readFileSync(path.join(dir, 'postern.yaml'), 'utf8'), '# mine\n');

  const other = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(other, { recursive: true, force: true }));
  const badDomain = await postern(['quickstart', 'not a domain', '--dir', other]);
  assert.equal(badDomain.code, 2);
  assert.match(badDomain.stderr, /^postern: quickstart: "not a domain" is not a valid domain name\n/);
  assert.equal(fs.existsSync(path.join(other, 'postern.yaml')), false, 'nothing written');
  const badAccount = await postern(['quickstart', 'example.org', '--dir', other, '--account', 'bob@example.net']);
  assert.equal(badAccount.code, 2);
  assert.match(badAccount.stderr, /--account must be an address at example\.org/);
  const zoned = await postern(['quickstart', 'example.org', '--dir', other, '--address', 'fe80::1%eth0']);
  assert.equal(zoned.code, 2, 'a usage error, said once');
  assert.match(zoned.stderr, /^postern: quickstart: --address fe80::1%eth0: a zone ID \(%…\) is local to this host/);
  const badAddress = await postern(['quickstart', 'example.org', '--dir', other, '--address', 'mail.example.org']);
  assert.equal(badAddress.code, 2);
  assert.match(badAddress.stderr, /not an IP address/);
});

test('quickstart refuses an IP address as the host name in one line, before it stores anything (RFC 5321 §5.1)', async (t) => {
  const root = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'site');
  const r = await postern(['quickstart', 'example.org', '--hostname', '203.0.113.25', '--dir', dir]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    "postern: quickstart: --hostname 203.0.113.25 is an IP address; give the mail host's name, such as mail.example.org\n" +
      "Run 'postern help' for usage.\n",
  );
  assert.equal(r.stdout, '');
  assert.equal(fs.existsSync(dir), false, 'no directory, no data, no config');
  // The same into an existing, empty directory: it stays empty.
  const empty = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(empty, { recursive: true, force: true }));
  const again = await postern(['quickstart', 'example.org', '--hostname', '203.0.113.25', '--dir', empty]);
  assert.equal(again.code, 2, again.stderr);
  assert.deepEqual(fs.readdirSync(empty), []);
});

test('quickstart --account: the account gets postmaster as an alias, where the reports it publishes go', async (t) => {
  const dir = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = await postern(['quickstart', 'example.org', '--account', 'admin@example.org', '--dir', dir]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /postmaster@example\.org delivers to it \(an alias\)/);
  assert.match(run.stdout, /rua=mailto:postmaster@example\.org/);
  const aliases = await postern(['alias', 'list', '--json', '--config', path.join(dir, 'postern.yaml')]);
  assert.deepEqual(
    JSON.parse(aliases.stdout).map((a: { alias: string; account: string }) => [a.alias, a.account]),
    [['postmaster@example.org', 'admin@example.org']],
  );

  // Run again with another --account over an earlier run's store whose postmaster is an account: no
  // alias is made, and the output says where postmaster's mail goes instead of claiming one.
  fs.rmSync(path.join(dir, 'postern.yaml'));
  const other = await postern(['quickstart', 'example.org', '--account', 'boss@example.org', '--dir', dir]);
  assert.equal(other.code, 0, other.stderr);
  assert.doesNotMatch(other.stdout, /delivers to it \(an alias\)/);
  assert.match(other.stdout, /postmaster@example\.org is kept as it was: it delivers to admin@example\.org\./);
});

test('an internationalized domain is taken in either form and configured as its A-labels (RFC 5890)', async (t) => {
  const dir = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = await postern(['quickstart', 'bücher.example', '--dir', dir]);
  assert.equal(run.code, 0, run.stderr);
  const config = path.join(dir, 'postern.yaml');
  assert.deepEqual(loadConfig(config).config.domains, ['xn--bcher-kva.example']);
  assert.match(run.stdout, /Account: postmaster@xn--bcher-kva\.example/);
  for (const args of [
    ['dns', 'records', 'bücher.example'],
    ['dns', 'records', 'XN--BCHER-KVA.example.'],
    ['dkim', 'list', '--domain', 'bücher.example'],
  ]) {
    const r = await postern([...args, '--config', config]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('under umask 000 the directory quickstart makes is still closed to others, and the config 0640', async (t) => {
  const root = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'site');
  const run = promisify(execFile);
  await run(
    'sh',
    ['-c', `umask 000 && exec "$0" quickstart example.org --dir "$1" --address 192.0.2.25`, POSTERN, dir],
    {
      timeout: 60_000,
    },
  );
  assert.equal(fs.statSync(dir).mode & 0o777, 0o750);
  assert.equal(fs.statSync(path.join(dir, 'postern.yaml')).mode & 0o777, 0o640);
  assert.equal(fs.statSync(path.join(dir, 'data')).mode & 0o777, 0o700);
});

/** quickstart for example.org in a directory of its own, given these --address values. */
async function quickstartWith(t: TestContext, addresses: string[]) {
  const root = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'site');
  const result = await postern([
    'quickstart',
    'example.org',
    '--dir',
    dir,
    ...addresses.flatMap((a) => ['--address', a]),
  ]);
  return { dir, result };
}

test('quickstart with an IPv6 address listens on [::] (IPv4 too), so the AAAA it publishes reaches a listener', async (t) => {
  const { dir, result } = await quickstartWith(t, ['192.0.2.25', '2001:db8::25']);
  assert.equal(result.code, 0, result.stderr);
  const file = path.join(dir, 'postern.yaml');
  const { config } = loadConfig(file);
  assert.equal(config.listen.smtp, '[::]:25');
  assert.equal(config.listen.submission, '[::]:587');
  assert.equal(config.listen.submissions, '[::]:465');
  const check = await postern(['check', '--config', file]);
  assert.doesNotMatch(check.stdout, /takes IPv4 only/);
  // The same addresses with the IPv4-only listener the README once advised: `check` says what is wrong.
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('smtp: "[::]:25"', 'smtp: 0.0.0.0:25'));
  const warned = await postern(['check', '--config', file]);
  assert.match(
    warned.stdout,
    /warning: serverAddresses has IPv6 \(2001:db8::25\), published as AAAA, but listen\.smtp 0\.0\.0\.0:25 takes IPv4 only/,
  );
});

test('quickstart with a host name that makes no config: a usage error (exit 2) naming it once', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-quickstart-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const result = await postern(['quickstart', 'example.com', '--hostname', 'mx', '--dir', path.join(root, 'q')]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^postern: quickstart: invalid configuration\n {2}- hostname: "mx" is invalid/);
  assert.doesNotMatch(result.stderr, /quickstart: quickstart/);
  assert.equal(fs.existsSync(path.join(root, 'q')), false, 'nothing written');
});

test('quickstart warns, where it prints the records, of an --address the Internet cannot reach; its help has no --config footer', async (t) => {
  const { result } = await quickstartWith(t, ['10.0.0.5', '192.0.2.25']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /\bA\s+10\.0\.0\.5\b/);
  assert.match(result.stderr, /^warning: --address 10\.0\.0\.5 is not reachable from the Internet .*RFC 6890/m);
  assert.doesNotMatch(result.stderr, /192\.0\.2\.25/);
  const help = await postern(['quickstart', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /quickstart <domain>/);
  assert.doesNotMatch(help.stdout, /--config FILE/);
});

test("quickstart over another domain's store says it reuses it, and names the domains of its accounts and keys not configured", async (t) => {
  const root = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'site');
  const first = await postern(['quickstart', 'other.example', '--dir', dir]);
  assert.equal(first.code, 0, first.stderr);
  fs.rmSync(path.join(dir, 'postern.yaml'));
  const again = await postern(['quickstart', 'example.org', '--dir', dir]);
  assert.equal(again.code, 0, again.stderr);
  // Before: "Wrote …/postern.yaml and created …/data.", and nothing about other.example.
  assert.doesNotMatch(again.stdout, /created/);
  assert.match(again.stdout, /held a store already, which the new config uses\./);
  assert.match(
    again.stderr,
    /^warning: the store reused in .*\/data holds accounts of other\.example and DKIM keys of other\.example, not in domains \(example\.org\)/m,
  );
  // A run in a fresh directory still says it made the store, and warns of nothing.
  const fresh = await postern(['quickstart', 'example.org', '--dir', path.join(root, 'new')]);
  assert.match(fresh.stdout, /and created .*\/data\./);
  assert.doesNotMatch(fresh.stderr, /store reused/);
});

test("the ACME block, uncommented as it stands, is refused until the admin has read the CA's terms and set true", (t) => {
  const root = tempDir('postern-quickstart-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const text = quickstartConfig({
    domain: 'example.org',
    hostname: 'mail.example.org',
    dataDir: path.join(root, 'data'),
    addresses: ['192.0.2.25'],
    email: 'admin@example.org',
  });
  // Uncommenting the block must not agree to the terms for the admin: it wrote true already.
  const uncommented = text.replace(/^ {2}# ( {0,2}[a-zA-Z]\w*:.*)$/gm, (line, rest: string) =>
    /^ {0,2}(acme|directory|email|termsOfServiceAgreed|hostnames|http01):/.test(rest) ? `  ${rest}` : line,
  );
  assert.match(uncommented, /^ {2}acme:\n {4}directory: .*\n {4}email: .*\n {4}termsOfServiceAgreed: false/m);
  const file = path.join(root, 'postern.yaml');
  fs.writeFileSync(file, uncommented);
  assert.throws(
    () => loadConfig(file, {}),
    /tls\.acme\.termsOfServiceAgreed: false is invalid: read the CA's terms of service .*then set termsOfServiceAgreed: true/,
  );
  fs.writeFileSync(file, uncommented.replace(/termsOfServiceAgreed: false/, 'termsOfServiceAgreed: true'));
  assert.equal(loadConfig(file, {}).config.tls.acme?.termsOfServiceAgreed, true);
});
