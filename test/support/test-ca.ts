/**
 * A throwaway certificate authority for tests that need a certificate a client really validates
 * (MTA-STS policy fetches, RFC 8461 §3.3; DANE, where a self-signed key is a different case): a CA
 * certificate to trust (`ca`) and leaf certificates it issues, all ECDSA P-256, as PEM.
 */
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface TestCa {
  /** The CA certificate, for `ca:` of a TLS client. */
  ca: string;
  /** A leaf certificate (PEM, leaf then CA) and its PKCS#8 key for the names. */
  issue(hostnames: string[]): Promise<{ cert: string; key: string }>;
}

export async function createTestCa(name = 'Postern Test CA'): Promise<TestCa> {
  const keys = await generate();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 30 * DAY_MS);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true), // RFC 5280 §4.2.1.9: a CA, no intermediates below
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const ca = caCert.toString('pem');
  return {
    ca: `${ca}\n`,
    async issue(hostnames) {
      const leafKeys = await generate();
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${hostnames[0]}`,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        signingAlgorithm: ALGORITHM,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(hostnames.map((value) => ({ type: 'dns' as const, value }))),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      });
      const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey));
      const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
        format: 'pem',
        type: 'pkcs8',
      });
      return { cert: `${leaf.toString('pem')}\n${ca}\n`, key: key.toString() };
    },
  };
}

async function generate(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // RFC 5280 §4.1.2.2: positive, no leading zero octet
  return bytes.toString('hex');
}
