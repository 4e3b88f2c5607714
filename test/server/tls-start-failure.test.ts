// A start that fails in the TLS set-up after ACME has started (a certificate file that does not load)
// must end `serve`: ACME's http-01 responder, left listening, had kept the process alive after it
// printed why it stopped, so a supervisor saw a hung server instead of an exit to restart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { configDir, postern } from '../support/child-server.ts';

test('serve with tls.acme and an unreadable certificate file exits with the error, leaving nothing running', async (t) => {
  // A directory that answers at once (404): the ACME order started in the background fails fast.
  const pair = await createSelfSignedCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'] });
  const directory = https.createServer(pair, (_request, response) => {
    response.statusCode = 404;
    response.end();
  });
  await new Promise<void>((resolve) => directory.listen(0, '127.0.0.1', resolve));
  t.after(() => directory.close());
  const { root, file, cleanup } = configDir({
    tls: {
      certificates: [{ cert: './missing.crt', key: './missing.key' }],
      acme: {
        directory: `https://127.0.0.1:${(directory.address() as net.AddressInfo).port}/directory`,
        directoryCa: './directory-ca.pem',
        termsOfServiceAgreed: true,
        http01: { listen: '127.0.0.1:0' },
      },
    },
  });
  t.after(cleanup);
  fs.writeFileSync(path.join(root, 'directory-ca.pem'), pair.cert);
  const started = Date.now();
  const result = await postern(['serve', '--config', file]); // killed after 20 s: code null
  assert.equal(result.code, 1, `exited with the error (after ${Date.now() - started} ms): ${result.stderr}`);
  assert.match(result.stderr, /^postern: tls\.certificates: .*missing\.crt: cannot read: ENOENT$/m);
});
