// The systemd units in contrib/systemd: systemd itself reads them without a warning, and the Postern
// commands they run work as written (paths moved to a temp dir; systemd's %% unescaped as it would be).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { addUser, configDir, ROOT } from '../support/child-server.ts';

const run = promisify(execFile);
const UNITS = path.join(ROOT, 'contrib/systemd');
const FILES = ['postern.service', 'postern-backup.service', 'postern-backup.timer'];

/** The unit with its install paths pointed at this checkout and a test's config and directories. */
function localised(name: string, config: string, state: string): string {
  return fs
    .readFileSync(path.join(UNITS, name), 'utf8')
    .replaceAll('/opt/postern', ROOT.replace(/\/$/, ''))
    .replaceAll('/etc/postern/postern.yaml', config)
    .replaceAll('/var/lib/postern-backups', path.join(state, 'backups-dir'))
    .replaceAll('/var/lib/postern', path.join(state, 'data'));
}

/** The value of every `Key=` line of a unit, in order. */
function directives(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

test('systemd verifies the units without a warning', async (t) => {
  const dir = fs.mkdtempSync(path.join(ROOT, '.tmp-systemd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const name of FILES) fs.writeFileSync(path.join(dir, name), localised(name, '/etc/postern.yaml', dir));
  const { stderr } = await run('systemd-analyze', ['verify', ...FILES.map((f) => path.join(dir, f))]);
  // systemd-analyze exits 0 on a misspelt value and only warns: any line is a defect.
  assert.equal(stderr.trim(), '');
});

test("the units' Postern commands run as written: check, serve's arguments, backup with its date", async (t) => {
  const d = configDir(); // dataDir ./data beside the config: the unit's /var/lib/postern below
  t.after(() => d.cleanup());
  const state = d.root;
  await addUser(d.file, 'alice@example.com');
  fs.mkdirSync(path.join(state, 'backups-dir'), { mode: 0o700 });

  const service = localised('postern.service', d.file, state);
  const [check] = directives(service, 'ExecStartPre');
  const [serve] = directives(service, 'ExecStart');
  assert.ok(check && serve);
  const checkArgs = check.split(' ');
  const checked = await run(checkArgs[0]!, checkArgs.slice(1));
  assert.match(checked.stdout, /: OK \(0 warnings\)$/m);
  assert.deepEqual(serve.split(' ').slice(1), ['serve', '--config', d.file]);
  assert.deepEqual(directives(service, 'ExecReload'), ['/bin/kill -HUP $MAINPID'], 'SIGHUP reloads certificates');

  const backup = localised('postern-backup.service', d.file, state);
  const [shell] = directives(backup, 'ExecStart');
  const script = /^\/bin\/sh -c '(.*)'$/.exec(shell ?? '')?.[1];
  assert.ok(script, shell);
  await run('/bin/sh', ['-c', script.replaceAll('%%', '%')]);
  const written = fs.readdirSync(path.join(state, 'backups-dir'));
  assert.equal(written.length, 1);
  assert.match(written[0]!, /^postern-\d{8}T\d{6}Z\.sqlite$/);
  const [prune] = directives(backup, 'ExecStartPost');
  const pruneArgs = prune!.split(' ');
  await run(pruneArgs[0]!, pruneArgs.slice(1));
  assert.equal(fs.readdirSync(path.join(state, 'backups-dir')).length, 1, 'a fresh backup is kept');
});

test('systemd never gives up restarting the server (StartLimitIntervalSec=0, a [Unit] setting)', () => {
  const service = fs.readFileSync(path.join(UNITS, 'postern.service'), 'utf8');
  assert.deepEqual(directives(service, 'Restart'), ['on-failure']);
  // With a limit, a store outage longer than a few restarts (PostgreSQL restarting) would leave the
  // server stopped for good once the outage ended.
  const unitSection = service.slice(service.indexOf('[Unit]'), service.indexOf('[Service]'));
  assert.match(unitSection, /^StartLimitIntervalSec=0$/m, 'in [Service] systemd ignores it');
});

test('the backup unit keeps at most fifteen daily copies, whatever the timer’s random delay (docs/deployment.md)', async (t) => {
  const state = fs.mkdtempSync(path.join(ROOT, '.tmp-systemd-'));
  t.after(() => fs.rmSync(state, { recursive: true, force: true }));
  const dir = path.join(state, 'backups-dir');
  fs.mkdirSync(dir);
  const unit = localised('postern-backup.service', '/etc/postern.yaml', state);
  const [clean] = directives(unit, 'ExecStartPost');
  assert.ok(clean, 'the unit removes old copies after a new one');
  // One copy a day for 17 days, each taken up to 30 minutes earlier or later in the day than today's
  // (RandomizedDelaySec=30min): the one 15 days minus 10 minutes old must go too.
  const now = Date.now() / 1000;
  for (let day = 0; day <= 16; day++) {
    for (const [skew, tag] of [
      [600, 'late'], // taken later in its day than today's: 10 minutes short of whole days old
      [-600, 'early'],
    ] as const) {
      const file = path.join(dir, `postern-d${day}-${tag}.sqlite`);
      fs.writeFileSync(file, '');
      const when = now - day * 86_400 + (day === 0 ? 0 : skew);
      fs.utimesSync(file, when, when);
    }
  }
  const [command, ...args] = (clean as string).split(' ');
  await run(command as string, args);
  const left = (tag: string) => fs.readdirSync(dir).filter((f) => f.endsWith(`-${tag}.sqlite`)).length;
  assert.ok(left('early') <= 15, `${left('early')} copies kept when the older runs were earlier in the day`);
  assert.ok(left('late') <= 15, `${left('late')} copies kept when the older runs were later in the day`);
  assert.ok(left('early') >= 14 && left('late') >= 14, 'two weeks are kept');
});
