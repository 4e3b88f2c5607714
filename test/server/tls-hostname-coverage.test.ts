// "TLS: no certificate names the hostname" was said only at start and only of PEM files: a file
// reloaded (SIGHUP or the watch) for other names, and ACME hostnames without the hostname, went
// without a word. Real files, real setupTls, its log read back.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { setupTls } from '../../src/server/tls-setup.ts';
import { acmeFiles } from '../../src/tls/acme/files.ts';
import { createSelfSignedCertificate, type PemPair } from '../../src/tls/create-certificate.ts';
import { tempDir } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { captureLogger, type LogLine } from '../tls/tls-kit.ts';

type Context = { after(fn: () => unknown): void };

const uncovered = (lines: LogLine[]) =>
  lines.filter((line) => line.msg.startsWith('TLS: no certificate names the hostname mx.example.com'));

async function start(t: Context, root: string, tls: ConfigInput['tls']) {
  const config = parseConfig(
    { hostname: 'mx.example.com', domains: ['example.com'], dataDir: path.join(root, 'data'), tls },
    'test',
  );
  const { logger, lines } = captureLogger();
  const setup = await setupTls(config, logger);
  t.after(() => setup.stop());
  return { setup, lines };
}

function write(files: { cert: string; key: string }, pair: PemPair): void {
  fs.writeFileSync(files.key, pair.key, { mode: 0o600 });
  fs.writeFileSync(files.cert, pair.cert);
}

test('a PEM file reloaded for other names is warned about, by SIGHUP and by the watch, once per change', async (t) => {
  const root = tempDir('postern-coverage-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const files = { cert: path.join(root, 'mx.crt'), key: path.join(root, 'mx.key') };
  const [mx, other, wildcard] = await Promise.all(
    [['mx.example.com'], ['other.example.net'], ['*.example.com']].map((hostnames) =>
      createSelfSignedCertificate({ hostnames }),
    ),
  );
  write(files, mx!);
  const { setup, lines } = await start(t, root, { certificates: [files] });
  assert.deepEqual(uncovered(lines), [], 'the start names it');

  write(files, other!);
  await setup.reload();
  assert.equal(uncovered(lines).length, 1, JSON.stringify(lines));
  assert.deepEqual(uncovered(lines)[0]!.names, ['other.example.net']);
  await setup.reload();
  assert.equal(uncovered(lines).length, 1, 'the same names: not said again');

  write(files, wildcard!);
  await setup.reload();
  assert.equal(uncovered(lines).length, 1, 'a wildcard one label up names it');

  // The watch, without SIGHUP: said again for the changed set.
  write(files, other!);
  await waitFor(() => uncovered(lines).length === 2, 8000);
});

test('tls.acme.hostnames without the hostname: serve warns once their certificate is loaded', async (t) => {
  const root = tempDir('postern-coverage-acme-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const acme = (hostnames: string[]): ConfigInput['tls'] => ({
    acme: {
      directory: 'https://127.0.0.1:9/dir',
      termsOfServiceAgreed: true,
      hostnames,
      http01: { listen: '127.0.0.1:0' },
    },
    selfSigned: false,
  });
  // Stored as an earlier order left them: loaded at start, nothing ordered (not due).
  for (const hostname of ['other.example.net', 'mx.example.com']) {
    const { certPath, keyPath } = acmeFiles(path.join(root, 'data'), hostname);
    fs.mkdirSync(path.dirname(certPath), { recursive: true, mode: 0o700 });
    write({ cert: certPath, key: keyPath }, await createSelfSignedCertificate({ hostnames: [hostname] }));
  }
  const without = await start(t, root, acme(['other.example.net']));
  assert.ok(without.lines.some((line) => line.msg === 'ACME: certificate loaded'));
  assert.equal(uncovered(without.lines).length, 1, JSON.stringify(without.lines));
  await without.setup.stop();

  const withIt = await start(t, root, acme(['other.example.net', 'mx.example.com']));
  assert.deepEqual(uncovered(withIt.lines), []);
});
