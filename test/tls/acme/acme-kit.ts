/** Set-ups the ACME tests share: one order for mx.example.test, and a manager with http-01 on. */
import acme from 'acme-client';
import type { Logger } from '../../../src/log/logger.ts';
import { Http01Challenges } from '../../../src/tls/acme/http-01.ts';
import { issueCertificate } from '../../../src/tls/acme/issue.ts';
import { AcmeManager } from '../../../src/tls/acme/manager.ts';
import { CertificateStore } from '../../../src/tls/certificate-store.ts';
import { captureLogger } from '../tls-kit.ts';

/** One order of mx.example.test from `directory`, with a new account key. */
export async function orderFrom(directory: string): ReturnType<typeof issueCertificate> {
  const key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
  return issueCertificate({
    directory,
    account: { key },
    termsOfServiceAgreed: true,
    hostname: 'mx.example.test',
    keyType: 'ecdsa-p256',
    http01: new Http01Challenges(),
  });
}

/** A manager of `hostnames` (mx.example.test by default) ordering from `directory`, its files in `dataDir`. */
export function managerFor(
  directory: string,
  dataDir: string,
  { logger = captureLogger().logger, hostnames = ['mx.example.test'] }: { logger?: Logger; hostnames?: string[] } = {},
): AcmeManager {
  return new AcmeManager({
    directory,
    termsOfServiceAgreed: true,
    hostnames,
    dataDir,
    store: new CertificateStore(),
    logger,
    http01: {},
  });
}
