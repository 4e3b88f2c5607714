/**
 * The ACME tls-alpn-01 challenge, RFC 8737: the CA connects (port 443 in production) with SNI set to the
 * domain and ALPN offering only "acme-tls/1" (§3), and expects a certificate for that name alone carrying
 * the critical acmeIdentifier extension with the SHA-256 digest of the key authorization. Only a
 * handshake that negotiates "acme-tls/1" may see that certificate; every other gets the normal one.
 *
 * Node picks the certificate by SNI before it knows the ALPN list in TLS 1.2 (after, in TLS 1.3), so the
 * swap happens in the ALPN callback with `tlsSocket.setKeyCert()` (Node ≥ 22.5), the documented hook for
 * exactly this. Any listener can install `alpnCallback()`; startTlsAlpn01Server is a standalone one.
 */
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import { createSelfSignedCertificate, type KeyAlgorithm } from '../create-certificate.ts';
import { hardenSocket, serverTlsOptions } from '../tls-options.ts';
import { CHALLENGE_CAPS, type ChallengeServer, listenOn, type TakeOver } from './listen.ts';

/** RFC 8737 §6.2: the ALPN protocol ID. */
export const ACME_TLS_ALPN = 'acme-tls/1';
/** RFC 8737 §6.1: id-pe-acmeIdentifier, { id-pe 31 }. */
const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

interface ChallengeContexts {
  ec: tls.SecureContext;
  rsa: tls.SecureContext;
}

type AlpnCallback = (this: tls.TLSSocket, arg: { servername: string; protocols: string[] }) => string | undefined;

export class TlsAlpnChallenges {
  readonly #pending = new Map<string, ChallengeContexts>();

  /** Makes the challenge certificates for `hostname` (RFC 8737 §3) and serves them until `delete`. */
  async set(hostname: string, keyAuthorization: string): Promise<void> {
    const name = hostname.toLowerCase();
    const make = async (keyAlgorithm: KeyAlgorithm) => {
      const pair = await createSelfSignedCertificate({
        hostnames: [name], // §3: "a subjectAltName extension containing the dNSName being validated and no other"
        keyAlgorithm,
        notAfter: new Date(Date.now() + 7 * 86_400_000),
        extensions: [{ oid: ACME_IDENTIFIER_OID, critical: true, value: acmeIdentifier(keyAuthorization) }],
      });
      return tls.createSecureContext({ ...serverTlsOptions(), ...pair });
    };
    const [ec, rsa] = await Promise.all([make('ecdsa-p256'), make('rsa-2048')]);
    this.#pending.set(name, { ec, rsa });
  }

  delete(hostname: string): void {
    this.#pending.delete(hostname.toLowerCase());
  }

  has(hostname: string): boolean {
    return this.#pending.has(hostname.toLowerCase());
  }

  /**
   * An `ALPNCallback` for `tls.createServer` or `new tls.TLSSocket(…, { isServer: true })`. A client
   * offering "acme-tls/1" for a name with a pending challenge gets the challenge certificate; offering it
   * for any other name, nothing (§4: it "MUST only be used for validating ACME tls-alpn-01 challenges").
   * Other clients get the first of their protocols that `supported` lists; none, and the handshake ends
   * with no_application_protocol (RFC 7301 §3.2), so a listener that speaks no ALPN protocol should not
   * install this at all.
   */
  alpnCallback(supported: readonly string[] = []): AlpnCallback {
    const pending = this.#pending;
    return function (this: tls.TLSSocket, { servername, protocols }) {
      if (protocols.includes(ACME_TLS_ALPN)) {
        const contexts = servername ? pending.get(servername.toLowerCase()) : undefined;
        if (!contexts) return undefined;
        this.setKeyCert(usesRsa(this) ? contexts.rsa : contexts.ec);
        return ACME_TLS_ALPN;
      }
      return protocols.find((protocol) => supported.includes(protocol));
    };
  }
}

/** RFC 8737 §3: extnValue is the DER OCTET STRING (SIZE (32)) of SHA-256 over the key authorization. */
function acmeIdentifier(keyAuthorization: string): Uint8Array {
  const digest = createHash('sha256').update(keyAuthorization).digest();
  return Buffer.concat([Buffer.from([0x04, digest.length]), digest]);
}

/**
 * In TLS 1.2 the cipher suite, chosen before ALPN, fixes the certificate's key type (ECDHE_RSA or
 * ECDHE_ECDSA), so the challenge certificate must match the one selected by SNI. TLS 1.3 has no such tie.
 */
function usesRsa(socket: tls.TLSSocket): boolean {
  if (socket.getProtocol() !== 'TLSv1.2') return false;
  const current = socket.getCertificate();
  return current !== null && 'modulus' in current && Boolean(current.modulus);
}

/**
 * A TLS server that only answers tls-alpn-01 validations. It has no certificate of its own: a client
 * without a pending challenge fails the handshake. Validators use TLS 1.3 (the server certificate is
 * chosen after ALPN there); with TLS 1.2 there is no certificate to start from, so install
 * `alpnCallback` on a listener with a real certificate to serve TLS 1.2 validators.
 */
export async function startTlsAlpn01Server(
  listen: string,
  challenges: TlsAlpnChallenges,
  takeOver?: TakeOver,
): Promise<ChallengeServer> {
  // A validator starts its handshake at once and needs nothing after it: 5 s from the connection on is
  // plenty, and a client that sends nothing holds its descriptor no longer.
  const server = tls.createServer({
    ...serverTlsOptions(),
    ALPNCallback: challenges.alpnCallback(),
    handshakeTimeout: 5_000,
  });
  server.on('secureConnection', (socket) => {
    hardenSocket(socket);
    socket.on('error', () => socket.destroy());
    socket.end(); // RFC 8737 §4: the protocol carries no application data
  });
  // Scanners, clients without a challenge, handshakes past the timeout: closed. Node emits the timeout
  // here but leaves the connection open (no listener or a listener alike), for as long as the client likes.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  return listenOn(server, listen, CHALLENGE_CAPS, takeOver);
}
