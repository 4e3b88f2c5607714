/**
 * One ACME order (RFC 8555 §7.4) for one hostname, through acme-client: register or find the account
 * (§7.3), create the order, answer one challenge per authorization (§7.5.1) with our responders,
 * finalize with a CSR for a fresh key (§7.4), download the chain (§7.4.2). acme-client's own
 * pre-check of the challenge (a real DNS lookup and fetch) is skipped: the CA's validation is the test.
 */
import { createPrivateKey } from 'node:crypto';
import https from 'node:https';
import acme from 'acme-client';
import type { KeyAlgorithm } from '../create-certificate.ts';
import type { AcmeAccount } from './account.ts';
import type { Http01Challenges } from './http-01.ts';
import { clearRateLimit, installRateLimitGuard, rateLimitedUntilMs } from './rate-limit.ts';
import type { TlsAlpnChallenges } from './tls-alpn-01.ts';

export interface IssueRequest {
  directory: string;
  account: AcmeAccount;
  email?: string;
  termsOfServiceAgreed: boolean;
  hostname: string;
  keyType: KeyAlgorithm;
  /** The responders to use, in order of preference; at least one. */
  http01?: Http01Challenges;
  tlsAlpn01?: TlsAlpnChallenges;
  /** First wait when polling a pending authorization or order (acme-client's backoff; 5 s by default). */
  pollMinMs?: number;
  /**
   * The key of the certificate being renewed, PEM, to certify again: a DANE record (TLSA 3 1 1, RFC
   * 7671 §8.1) names the public key, and a new key at every renewal would break it. Used only when it
   * is of `keyType`; a fresh key otherwise.
   */
  reuseKey?: string;
}

/** An order the CA refused with a Retry-After (RFC 8555 §6.6): no new order before `retryAt`. */
export class AcmeRateLimitedError extends Error {
  readonly retryAt: Date;
  constructor(message: string, retryAt: Date, options?: ErrorOptions) {
    super(message, options);
    this.retryAt = retryAt;
  }
}

export interface Issued {
  /** The leaf certificate and its chain, PEM. */
  cert: string;
  key: string;
  accountUrl: string;
  /** The contact the CA now holds for the account; undefined when an update was refused (contactError). */
  contact?: string[];
  /** Why the CA refused to update the account's contact (§7.3.2); the order went on regardless. */
  contactError?: string;
}

export async function issueCertificate(request: IssueRequest): Promise<Issued> {
  const { http01, tlsAlpn01, hostname } = request;
  const challengePriority = [http01 ? 'http-01' : '', tlsAlpn01 ? 'tls-alpn-01' : ''].filter(Boolean);
  if (challengePriority.length === 0) throw new TypeError('ACME: no challenge type enabled (http01 or tlsAlpn01)');
  installRateLimitGuard();
  clearRateLimit();
  const client = new acme.Client({
    directoryUrl: request.directory,
    accountKey: request.account.key,
    ...(request.account.url ? { accountUrl: request.account.url } : {}),
    ...(request.pollMinMs ? { backoffMin: request.pollMinMs, backoffMax: Math.max(30_000, request.pollMinMs) } : {}),
  });
  // §7.3.2: an account registered with another contact (tls.acme.email changed) is updated first;
  // a new account gets the contact with its registration (§7.3).
  const contact = request.email ? [`mailto:${request.email}`] : [];
  let contactError: string | undefined;
  if (request.account.url !== undefined && !sameContact(request.account.contact, contact)) {
    try {
      await client.updateAccount({ contact });
    } catch (err) {
      // Not worth failing a renewal over: the order goes on, and the update is tried at the next one.
      contactError = err instanceof Error ? err.message : String(err);
    }
  }
  const key = reusable(request.reuseKey, request.keyType)
    ? Buffer.from(request.reuseKey as string)
    : request.keyType === 'rsa-2048'
      ? await acme.crypto.createPrivateRsaKey(2048)
      : await acme.crypto.createPrivateEcdsaKey('P-256');
  const [, csr] = await acme.crypto.createCsr({ commonName: hostname, altNames: [hostname] }, key);
  const cert = await client
    .auto({
      csr,
      ...(request.email ? { email: request.email } : {}), // §7.3: contact as a mailto: URL
      termsOfServiceAgreed: request.termsOfServiceAgreed, // §7.3: required when the directory has termsOfService
      challengePriority,
      skipChallengeVerification: true,
      // acme-client's types know http-01 and dns-01 only; tls-alpn-01 challenges have the same shape (RFC 8737 §3).
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        const { type, token } = challenge as { type: string; token: string };
        if (type === 'http-01' && http01) http01.set(token, keyAuthorization);
        else if (type === 'tls-alpn-01' && tlsAlpn01) await tlsAlpn01.set(authz.identifier.value, keyAuthorization);
        else throw new Error(`ACME: the CA offered ${type}, which is not enabled`);
      },
      challengeRemoveFn: async (authz, challenge) => {
        const { type, token } = challenge as { type: string; token: string };
        if (type === 'http-01') http01?.delete(token);
        else if (type === 'tls-alpn-01') tlsAlpn01?.delete(authz.identifier.value);
      },
    })
    .catch(async (err: unknown) => {
      const until = rateLimitedUntilMs();
      if (until !== undefined) {
        const retryAt = new Date(until);
        const reason = err instanceof Error ? err.message : String(err);
        throw new AcmeRateLimitedError(
          `ACME: the CA limits orders (${reason}); it asks not to be asked again before ${retryAt.toISOString()}`,
          retryAt,
          { cause: err },
        );
      }
      // acme-client reports a CA it cannot reach as a TypeError of its own (reading 'config' of an
      // undefined response): ask the directory ourselves, so the log says what is wrong.
      if (!(err instanceof TypeError)) throw err;
      const unreachable = await unreachableBecause(request.directory);
      throw unreachable ? new Error(`ACME: cannot reach the CA at ${request.directory}: ${unreachable}`) : err;
    });
  const issued: Issued = { cert, key: key.toString(), accountUrl: client.getAccountUrl() };
  if (contactError === undefined) issued.contact = contact;
  else issued.contactError = contactError;
  return issued;
}

function sameContact(a: string[] | undefined, b: string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((url, i) => url === b[i]);
}

/** Why the directory cannot be fetched (a refused connection, a bad certificate), or undefined if it can. */
function unreachableBecause(directory: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const agent = acme.axios.defaults.httpsAgent as https.Agent | undefined; // the CA the config trusts
    const request = https.get(directory, { ...(agent ? { agent } : {}), timeout: 10_000 }, (response) => {
      response.resume();
      resolve(undefined);
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', (error: NodeJS.ErrnoException) =>
      // Node's own text for these suggests --use-system-ca, which is not how Postern is told.
      resolve(
        error.code && UNTRUSTED.has(error.code)
          ? `its HTTPS certificate is not trusted (${error.code}); for a private CA, set tls.acme.directoryCa to the PEM file of its CA certificate`
          : error.message,
      ),
    );
  });
}

/** OpenSSL's verification failures, as Node reports them: the CA answers, but with a certificate we do not trust. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The key exists, parses, and is of the configured type (a changed keyType gets a fresh key). */
function reusable(pem: string | undefined, keyType: KeyAlgorithm): boolean {
  if (pem === undefined) return false;
  try {
    const key = createPrivateKey(pem);
    if (keyType === 'rsa-2048')
      return key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === 2048;
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}
