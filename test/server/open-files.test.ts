import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { descriptorsNeeded, openFileWarning, readOpenFileLimit } from '../../src/server/open-files.ts';
import { configDir, postern, spawnServer } from '../support/child-server.ts';
import { tempDir } from '../support/server.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

test('the open-file limit is read from /proc/<pid>/limits, "unlimited" included', (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'limits');
  fs.writeFileSync(file, LIMITS);
  assert.deepEqual(readOpenFileLimit(file), { soft: 1024, hard: 524288 });
  fs.writeFileSync(file, LIMITS.replace('1024                 524288', 'unlimited            unlimited'));
  assert.deepEqual(readOpenFileLimit(file), { soft: Infinity, hard: Infinity });
  assert.equal(readOpenFileLimit(path.join(dir, 'missing')), undefined, 'no /proc: nothing to say');
  assert.ok(readOpenFileLimit()!.soft > 0, "this process's own limit");
});

test('the need counts each listener that runs, and a descriptor per milter while a message is checked', () => {
  const defaults = parseConfig({}, 'test');
  assert.equal(descriptorsNeeded(defaults).needed, 3 * 1000 + 256);
  const smtpOnly = parseConfig(
    { listen: { submission: null, submissions: null }, smtp: { maxConnections: 200 } },
    'test',
  );
  assert.equal(descriptorsNeeded(smtpOnly).needed, 200 + 256);
  const milters = parseConfig(
    { filter: { milters: [{ socket: 'inet:11332@127.0.0.1' }, { socket: 'inet:8891@127.0.0.1' }] } },
    'test',
  );
  assert.equal(descriptorsNeeded(milters).needed, 3 * 1000 * 3 + 256);
  assert.match(descriptorsNeeded(milters).explanation, /2 per milter/);
  const policyHost = parseConfig({ mtaSts: { listen: '0.0.0.0:443' } }, 'test');
  assert.equal(descriptorsNeeded(policyHost).needed, 3 * 1000 + 256 + 256);
  assert.match(descriptorsNeeded(policyHost).explanation, /256 for the MTA-STS policy host/);
});

test("the ACME challenge responders count with their cap of 64 connections each: they are the process's descriptors too", () => {
  const acme = (challenges: object) =>
    parseConfig(
      {
        listen: { submission: null, submissions: null },
        smtp: { maxConnections: 200 },
        tls: { acme: { directory: 'https://acme.example.net/dir', termsOfServiceAgreed: true, ...challenges } },
      },
      'test',
    );
  const http01 = acme({ http01: { listen: '0.0.0.0:80' } });
  assert.equal(descriptorsNeeded(http01).needed, 200 + 64 + 256);
  assert.match(descriptorsNeeded(http01).explanation, /, 64 for the ACME challenge responder \(64 each\), and 256/);
  const both = acme({ http01: { listen: '0.0.0.0:80' }, tlsAlpn01: { listen: '0.0.0.0:443' } });
  assert.equal(descriptorsNeeded(both).needed, 200 + 2 * 64 + 256);
  assert.match(descriptorsNeeded(both).explanation, /128 for the ACME challenge responders \(64 each\)/);
});

test('a soft limit below the need is a warning naming both figures and how to raise it', () => {
  const config = parseConfig({}, 'test');
  const warning = openFileWarning(config, { soft: 1024, hard: 1024 });
  assert.ok(warning);
  assert.match(warning, /open-file limit is 1024 \(hard limit 1024\) but up to 3256 may be needed/);
  assert.match(warning, /smtp\.maxConnections 1000 on each of 3 listeners \(smtp, submission, submissions\)/);
  assert.match(warning, /LimitNOFILE=/);
  assert.equal(openFileWarning(config, { soft: 3256, hard: 3256 }), undefined);
  assert.equal(openFileWarning(config, { soft: Infinity, hard: Infinity }), undefined);
  assert.equal(openFileWarning(config, undefined), undefined, 'unknown: no warning');
});

test('a low soft limit alone costs nothing: Node raises it to the hard one as it starts, so no warning', async (t) => {
  const hard = readOpenFileLimit()?.hard;
  if (hard === undefined || hard <= 512) {
    t.skip(`needs a hard open-file limit above 512 and /proc (hard limit: ${hard})`);
    return;
  }
  const d = configDir();
  t.after(() => d.cleanup());
  const server = await spawnServer(d.file, { shell: 'ulimit -Sn 256' });
  t.after(() => server.stop());
  const limit = readOpenFileLimit(`/proc/${server.child.pid}/limits`);
  assert.equal(limit?.soft, hard, 'a shell soft limit of 256 is raised');
  assert.doesNotMatch(server.output(), /open-file limit/);
});

test('serve and check warn when the hard limit is too low for the listeners', async (t) => {
  const d = configDir();
  t.after(() => d.cleanup());
  const server = await spawnServer(d.file, { shell: 'ulimit -n 400' });
  t.after(() => server.stop());
  assert.match(
    server.output(),
    /"level":40[^\n]*the open-file limit is 400 \(hard limit 400\) but up to \d+ may be needed/,
  );
  const checked = await postern(['check', '--json', '--config', d.file]);
  assert.equal(checked.code, 0, 'a warning, not an error');
  const report = JSON.parse(checked.stdout) as { warnings: string[] };
  assert.ok(!report.warnings.some((w) => w.includes('open-file limit')), 'the test runner has enough');
});
