/**
 * The TLS parameters every Postern listener uses, after BCP 195 (RFC 9325, which obsoletes RFC 7525) and
 * RFC 8996. The same options go into `tls.createServer` and into every `tls.createSecureContext` the
 * certificate store builds: when an SNI callback swaps the context, OpenSSL keeps the protocol versions
 * and cipher list of the connection's first context, so both must say the same thing.
 * Not here: certificates (certificate-store.ts), client-side policy for outbound mail (MTA-STS, DANE).
 */
import { constants } from 'node:crypto';
import type tls from 'node:tls';

/**
 * TLS 1.2 suites: Mozilla's "intermediate" list without its DHE entries. Every one is AEAD with
 * ephemeral ECDH: RFC 9325 §4.1 wants forward secrecy ("MUST support and prefer to negotiate cipher
 * suites offering forward secrecy") and rules out NULL, RC4 and ≤112-bit ciphers; §4.2 recommends
 * exactly the ECDHE AES-GCM suites (AEAD, TLS 1.2 only) and §4.2.1 puts
 * TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 first. CHACHA20-POLY1305 (RFC 7905) serves clients without
 * AES hardware. CBC suites are left out (the padding oracles of RFC 7457) and so is RSA key transport
 * (no forward secrecy, RFC 9325 §4.1).
 */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/**
 * TLS 1.3 suites: RFC 9325 §4.3 defers to RFC 8446 §9.1, whose mandatory and recommended suites these
 * are (OpenSSL's default set). They are named because Node takes TLS 1.3 suites from the same
 * `ciphers` string: a list with none would leave TLS 1.3 without any.
 */
const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** The option subset shared by `tls.createServer`, `new tls.TLSSocket({ isServer })` and `createSecureContext`. */
export type ServerTlsOptions = Required<
  Pick<tls.SecureContextOptions, 'minVersion' | 'ciphers' | 'honorCipherOrder' | 'ecdhCurve' | 'secureOptions'>
>;

export function serverTlsOptions(): ServerTlsOptions {
  return {
    // RFC 8996 §2-§3: TLS 1.0 and 1.1 MUST NOT be used; RFC 9325 §3.1.1: MUST support TLS 1.2, SHOULD
    // support TLS 1.3 and prefer it. No maxVersion: OpenSSL negotiates 1.3 whenever the client can.
    minVersion: 'TLSv1.2',
    ciphers: [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(':'),
    // RFC 9325 §4.2.1: "Servers SHOULD prefer this cipher suite [ECDHE_RSA AES_128_GCM] whenever it is
    // proposed, even if it is not the first proposal": our order decides, not the client's.
    honorCipherOrder: true,
    // RFC 9325 §4.2.1: clients and servers SHOULD support X25519 (RFC 7748) and P-256; P-384 for
    // clients that only do NIST curves. §4.5: curves of at least 224 bits.
    ecdhCurve: 'X25519:P-256:P-384',
    // No renegotiation at all, in OpenSSL itself: disableRenegotiation() below only reacts after a
    // client has started one, and testssl.sh still reported client-initiated renegotiation as
    // accepted. No compression (CRIME, RFC 7457 §2.6): OpenSSL's default, stated here.
    // No session tickets: a server with several names cannot keep a ticket to the name it was made
    // for (RFC 6066 §3; see CertificateStore#context, which turns them on where only one identity
    // is served). The MTA-STS host, one certificate per policy domain, stays without.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION | constants.SSL_OP_NO_TICKET,
  };
}

/**
 * The ALPN protocol ids (RFC 7301) the SMTP listeners accept: Exim's defaults (its `tls_alpn`,
 * "smtp:esmtp"); IANA registers none for SMTP, and SMTP clients commonly offer none. A client
 * offering ALPN without either gets a fatal no_application_protocol alert (RFC 7301 §3.2: "In the
 * event that the server supports no protocols that the client advertises, then the server SHALL
 * respond with a fatal 'no_application_protocol' alert"), which RFC 9325 §3.8 advises servers to
 * enforce strictly against cross-protocol attacks (ALPACA): a browser's HTTPS request steered to
 * port 465 offers http/1.1 and is refused before any of it reaches the SMTP session. Exim refuses
 * such a client too. One that offers no ALPN is served as before.
 */
export const SMTP_ALPN_PROTOCOLS: readonly string[] = ['smtp', 'esmtp'];

/**
 * Per-connection hardening for a server-side socket. Renegotiation (TLS 1.2 only; RFC 8446 §4.1.2
 * removed it from 1.3) is refused outright: a mail server needs none (no late client certificates),
 * and client-initiated renegotiation is a cheap way to make a server do expensive handshakes and the
 * ground of the renegotiation and triple-handshake attacks RFC 7457 summarizes. RFC 9325 §3.5
 * only asks for RFC 5746 where renegotiation is implemented; not offering it at all is stricter.
 * The socket emits ERR_TLS_RENEGOTIATION_DISABLED and is destroyed when a client tries.
 */
export function hardenSocket(socket: tls.TLSSocket): void {
  socket.disableRenegotiation();
}
