// testssl.sh (Debian package) against every TLS listener of a running server: no protocol, cipher
// or known TLS vulnerability finding above INFO. Certificate trust is not judged: the test server
// serves its self-signed development certificate.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../support/server.ts';

const run = promisify(execFile);
const TESTSSL = '/usr/bin/testssl';
// testssl.sh is a shell script that forks openssl for every probe: one scan took 3 minutes on a
// 2-core machine with nothing else running, and three run at once beside other test files.
const SCAN_TIMEOUT_MS = 480_000;

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.stop());

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

async function testssl(port: number, starttls: boolean): Promise<Finding[]> {
  if (!fs.existsSync(TESTSSL))
    assert.fail(`${TESTSSL} is not installed: run "apt-get install -y testssl.sh" (CI installs it)`);
  const json = path.join(server.dataDir, `testssl-${port}.json`);
  const args = ['--quiet', '--color', '0', '--protocols', '--std', '--server-preference', '--fs', '--vulnerable'];
  // --nodns none: the scan asks no resolver, which would be an address off this machine (and so no
  // --ip, which testssl.sh refuses with it; the target is an address, one IP anyway).
  args.push('--nodns', 'none', '--jsonfile', json, ...(starttls ? ['--starttls', 'smtp'] : []), `127.0.0.1:${port}`);
  // testssl.sh exits non-zero for some findings; the JSON says what they were.
  await run(TESTSSL, args, { timeout: SCAN_TIMEOUT_MS, cwd: server.dataDir }).catch(() => {});
  return JSON.parse(fs.readFileSync(json, 'utf8')) as Finding[];
}

const SCANNER_NOTES = new Set(['engine_problem']);

test('testssl.sh finds no protocol, cipher or vulnerability problem on ports 25, 587 and 465', {
  timeout: SCAN_TIMEOUT_MS + 60_000,
}, async () => {
  const results = await Promise.all([
    testssl(server.port, true),
    testssl(server.submissionPort, true),
    testssl(server.submissionsPort, false),
  ]);
  for (const [i, findings] of results.entries()) {
    const where = ['25 (STARTTLS)', '587 (STARTTLS)', '465 (TLS)'][i];
    assert.ok(findings.length > 20, `${where}: testssl.sh ran its checks (${findings.length} findings)`);
    // engine_problem describes the scanner's own openssl (no GOST engine on this machine), not the server.
    const problems = findings.filter((f) => !['OK', 'INFO', 'DEBUG'].includes(f.severity) && !SCANNER_NOTES.has(f.id));
    assert.deepEqual(
      problems,
      [],
      `${where}: ${problems.map((p) => `${p.severity} ${p.id}: ${p.finding}`).join('; ')}`,
    );
    const byId = new Map(findings.map((f) => [f.id, f]));
    for (const old of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1'])
      assert.match(byId.get(old)?.finding ?? '', /not offered/, `${where} ${old}`);
    assert.match(byId.get('TLS1_3')?.finding ?? '', /offered/, `${where} TLS 1.3`);
    assert.match(byId.get('secure_client_renego')?.finding ?? '', /not vulnerable/, `${where} client renegotiation`);
  }
});
