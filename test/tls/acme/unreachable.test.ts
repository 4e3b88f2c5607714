// An ACME CA that cannot be reached is named in the error with the reason (a refused connection),
// not as acme-client's TypeError. Its own process: acme-client's retries are turned off here, which
// is global to the process, so that the order fails at once instead of after 75 s of retries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import acme from 'acme-client';
import { Http01Challenges } from '../../../src/tls/acme/http-01.ts';
import { issueCertificate } from '../../../src/tls/acme/issue.ts';

(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;

test('an unreachable CA: the error names the directory and why (ECONNREFUSED), not a TypeError', async () => {
  const key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
  await assert.rejects(
    issueCertificate({
      directory: 'https://127.0.0.1:9/dir', // the discard port: nothing listens on loopback
      account: { key },
      termsOfServiceAgreed: true,
      hostname: 'mx.example.test',
      keyType: 'ecdsa-p256',
      http01: new Http01Challenges(),
    }),
    (error: Error) => {
      assert.ok(!(error instanceof TypeError), `${error.name}: ${error.message}`);
      assert.equal(
        error.message,
        'ACME: cannot reach the CA at https://127.0.0.1:9/dir: connect ECONNREFUSED 127.0.0.1:9',
      );
      return true;
    },
  );
});
