/**
 * The server certificates of every TLS listener, chosen per connection by SNI (RFC 6066 §3, which
 * RFC 9325 §3.7 makes mandatory to support). A certificate is checked when added (key matches,
 * currently valid unless the caller takes an expired one, strong enough key) and never half-replaced:
 * a bad new one throws and the old one stays. Names come from the certificate's subjectAltName
 * dNSName entries only, as RFC 6125 §6.4.4 says when they exist; a certificate without any can still
 * be the default.
 * The default (for clients without SNI, or naming a name no certificate has) follows from the
 * configuration, never from the order certificates happen to load or reload in: the certificates
 * naming the server's hostname, else the one of lowest `rank` (its place in the configuration).
 * Not here: reading files (pem-files.ts), issuing certificates (self-signed.ts, acme/).
 */

import { constants, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import tls from 'node:tls';
import { serverTlsOptions } from './tls-options.ts';

export type CertificateProblem =
  | 'cert-invalid'
  | 'key-invalid'
  | 'key-mismatch'
  | 'expired'
  | 'not-yet-valid'
  | 'weak-key'
  | 'no-certificate';

export class CertificateError extends Error {
  readonly code: CertificateProblem;
  /** The file or name the certificate came from. */
  readonly source: string;
  /** `not-yet-valid`: when the store will take it (its notBefore less the tolerance); worth a try then. */
  readonly usableFrom: Date | undefined;
  constructor(
    code: CertificateProblem,
    source: string,
    message: string,
    options?: ErrorOptions & { usableFrom?: Date },
  ) {
    super(`${source}: ${message}`, options);
    this.name = 'CertificateError';
    this.code = code;
    this.source = source;
    this.usableFrom = options?.usableFrom;
  }
}

export interface CertificateInfo {
  source: string;
  /** subjectAltName dNSName values, lowercase; may include wildcards such as `*.example.com`. */
  hostnames: string[];
  keyType: 'rsa' | 'ec';
  notBefore: Date;
  notAfter: Date;
  fingerprint256: string;
  /** Served to clients without SNI (and to those naming a name no certificate has). */
  isDefault: boolean;
}

export interface AddPemOptions {
  /** Names the certificate in errors and logs, and replaces an earlier one of the same source. */
  source?: string;
  /** Names the key (its file) in errors about the key itself; `source` when absent. */
  keySource?: string;
  /**
   * Its place in the configuration (0 first), which picks the default when no certificate names the
   * store's `hostname`: the lowest rank loaded, whatever order certificates are loaded or reloaded
   * in. Without one it comes after every ranked certificate, in the order first added.
   */
  rank?: number;
  /** Rank 0: the default unless a certificate names the store's `hostname`. */
  default?: boolean;
  /**
   * A stand-in (the self-signed certificate) served only until another certificate is loaded, which
   * then replaces it for every name: ranked by key type and expiry, a year-long ECDSA stand-in had
   * kept beating a 90-day or RSA certificate from ACME for SNI clients until a restart.
   */
  fallback?: boolean;
  /**
   * Take a certificate past its notAfter instead of throwing `expired` (serve's PEM files: an MX that
   * serves it keeps opportunistic TLS, docs/tls.md); the caller says so in the log. A valid
   * certificate for the same name is preferred to it.
   */
  acceptExpired?: boolean;
}

interface Entry {
  info: Omit<CertificateInfo, 'isDefault'>;
  cert: string;
  key: string;
  added: number;
  fallback: boolean;
  rank: number;
}

/**
 * How long a context, and with it its session ticket key, is used before a fresh one replaces it
 * (RFC 5077 §5.5 recommends changing ticket keys regularly; Postfix's tlsmgr rotates its own). A
 * key kept for months opens every session whose ticket it sealed to whoever steals it. Node gives
 * each context one random ticket key and takes no second one to decrypt with (`setTicketKeys`
 * wants exactly 48 bytes), so a ticket from before a rotation gets a full handshake.
 */
const TICKET_KEY_LIFETIME_MS = 12 * 3_600_000;

type Callback = (err: Error | null, ctx?: tls.SecureContext) => void;
type SniCallback = (servername: string, callback: Callback) => void;

export class CertificateStore extends EventEmitter<{ loaded: [CertificateInfo]; removed: [string] }> {
  readonly #entries = new Map<string, Entry>();
  readonly #contexts = new Map<string, { context: tls.SecureContext; made: number }>();
  readonly #now: () => Date;
  readonly #hostname: string | undefined;
  /** Whether every name leads to the same certificates (then sessions may be resumed); undefined: not known yet. */
  #oneIdentity: boolean | undefined;
  #counter = 0;

  /** `hostname`: the server's; the certificates naming it are the default. */
  constructor(options: { now?: () => Date; hostname?: string } = {}) {
    super();
    this.#now = options.now ?? (() => new Date());
    this.#hostname = options.hostname ? normalize(options.hostname) : undefined;
  }

  /** Validates and adds a certificate (with its chain, leaf first) and its private key; throws CertificateError. */
  addPem(certPem: string | Buffer, keyPem: string | Buffer, options: AddPemOptions = {}): CertificateInfo {
    const cert = certPem.toString();
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(cert); // the first certificate of the PEM is the leaf (RFC 8446 §4.4.2)
    } catch (err) {
      throw new CertificateError('cert-invalid', options.source ?? 'certificate', 'not a PEM certificate', {
        cause: err,
      });
    }
    const hostnames = dnsNames(leaf);
    const source = options.source ?? hostnames[0] ?? leaf.subject;
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      const keySource = options.keySource ?? source;
      // PKCS#8 "ENCRYPTED PRIVATE KEY" (RFC 5958 §3), or OpenSSL's traditional PEM encryption header.
      if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m.test(keyPem.toString())) {
        throw new CertificateError(
          'key-invalid',
          keySource,
          'the private key is encrypted (a passphrase protects it), which the server cannot open; store it unencrypted (openssl pkey -in FILE -out NEWFILE asks the passphrase once)',
          { cause: err },
        );
      }
      throw new CertificateError('key-invalid', keySource, 'the private key cannot be read', { cause: err });
    }
    if (!leaf.checkPrivateKey(key)) {
      // RFC 8446 §4.4.2: the server's own certificate comes first, then the chain; a file in another order is a common mistake.
      const certificates = pemCertificates(cert);
      const position = certificates.findIndex((other) => other.checkPrivateKey(key));
      const matching = certificates[position];
      throw new CertificateError(
        'key-mismatch',
        source,
        !matching || position === 0
          ? 'the key does not match the certificate'
          : matching.ca
            ? `the key is that of certificate ${position + 1} of the file, a CA certificate: give the server's own key`
            : `the key matches certificate ${position + 1} of the file: put the server's certificate first`,
      );
    }
    const now = this.#now();
    if (leaf.validToDate < now && !options.acceptExpired) {
      throw new CertificateError('expired', source, `expired on ${leaf.validTo}`);
    }
    // An hour of tolerance: a fresh certificate must not be refused because our clock runs a little behind the CA's.
    const usableFrom = new Date(leaf.validFromDate.getTime() - 3_600_000);
    if (usableFrom > now) {
      throw new CertificateError('not-yet-valid', source, `not valid before ${leaf.validFrom}`, { usableFrom });
    }
    const keyType = checkKey(key, source);
    const entry: Entry = {
      info: {
        source,
        hostnames,
        keyType,
        notBefore: leaf.validFromDate,
        notAfter: leaf.validToDate,
        fingerprint256: leaf.fingerprint256,
      },
      cert,
      key: keyPem.toString(),
      added: ++this.#counter,
      fallback: options.fallback === true,
      rank: options.rank ?? (options.default ? 0 : Number.POSITIVE_INFINITY),
    };
    // A real certificate is already here: the stand-in is not needed.
    if (entry.fallback && [...this.#entries.values()].some((held) => !held.fallback)) {
      return { ...entry.info, isDefault: false };
    }
    this.#entries.set(source, entry);
    if (!entry.fallback) {
      for (const [other, held] of this.#entries) if (held.fallback && other !== source) this.remove(other);
    }
    this.#changed();
    const info = this.#describe(entry);
    this.emit('loaded', info);
    return info;
  }

  remove(source: string): boolean {
    if (!this.#entries.delete(source)) return false;
    this.#changed();
    this.emit('removed', source);
    return true;
  }

  #changed(): void {
    this.#contexts.clear();
    this.#oneIdentity = undefined;
  }

  list(): CertificateInfo[] {
    return [...this.#entries.values()].map((entry) => this.#describe(entry));
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The context for a client's SNI name: the certificates naming it exactly, else a wildcard
   * certificate for its parent, else the default. Of each key type the one that expires last: an RSA
   * and an ECDSA certificate for one name share the context, and OpenSSL serves the one the client's
   * signature algorithms and ciphers can use (RFC 8446 §4.4.2.2, RFC 5246 §7.4.2).
   */
  secureContext(servername?: string): tls.SecureContext {
    return this.#context(this.#group(servername), 'both');
  }

  /**
   * For a listener's handshake: the default context, and an SNI callback that keeps it when the name
   * selects the same certificates. Node's SNI switch copies only one key and certificate (the
   * context's last) into the connection, so only the first context can offer both key types.
   */
  handshakeOptions(): { secureContext: tls.SecureContext; SNICallback: SniCallback } {
    const secureContext = this.secureContext();
    return { secureContext, SNICallback: this.#sniCallback(secureContext) };
  }

  /** For `tls.createServer({ SNICallback })` without a first context of ours (the MTA-STS host). */
  readonly SNICallback: SniCallback = this.#sniCallback();

  /** Node calls it on the server's TLSSocket (`this`), whose shared signature algorithms are known by then. */
  #sniCallback(initial?: tls.SecureContext): SniCallback {
    const store = this;
    return function (this: unknown, servername, callback) {
      store.#switch(this, servername, callback, initial);
    };
  }

  #switch(socket: unknown, servername: string, callback: Callback, initial?: tls.SecureContext): void {
    try {
      const group = this.#group(servername);
      // No context: the connection keeps its first one, with every key type in it.
      if (initial && this.#context(group, 'both') === initial) return callback(null);
      const choice = group.length > 1 ? keyTypeFor(socket) : 'both';
      callback(null, this.#context(group, choice));
    } catch (err) {
      callback(err as Error);
    }
  }

  /**
   * A context is made afresh after TICKET_KEY_LIFETIME_MS, which rotates its session ticket key.
   *
   * Session resumption (tickets; Node keeps no server-side session cache) is offered only while
   * every name leads to the same certificates. RFC 6066 §3: a server "MUST NOT accept the request
   * to resume the session if the server_name extension contains a different name". OpenSSL decides
   * on a ticket with the connection's first context, before the SNI callback runs, and does not
   * call it for a resumed session: per-name ticket keys or session id contexts on the contexts the
   * callback switches to change nothing (tried: a session made for one name was resumed under
   * another with either). Every connection starts from the default's context, so with
   * certificates for different names a ticket would carry a client past the name check: then no
   * tickets at all (SSL_OP_NO_TICKET on the first context, whose options the connection keeps).
   */
  #context(group: Entry[], choice: 'both' | 'ec' | 'rsa'): tls.SecureContext {
    const served = choice === 'both' ? group : group.filter((entry) => entry.info.keyType === choice);
    if (served.length === 0) throw new CertificateError('no-certificate', 'default', 'no certificate');
    const cacheKey = this.#key(served);
    const now = this.#now().getTime();
    let held = this.#contexts.get(cacheKey);
    // A clock stepped back (now < made) rotates too, rather than keeping the key for as long again.
    if (!held || now - held.made >= TICKET_KEY_LIFETIME_MS || now < held.made) {
      const cert = served.map((entry) => entry.cert);
      const key = served.map((entry) => entry.key);
      const options = serverTlsOptions();
      this.#oneIdentity ??= this.#everyNameServesDefault();
      // serverTlsOptions() turns tickets off; on here when no other name could be reached by one.
      const secureOptions = this.#oneIdentity
        ? options.secureOptions & ~constants.SSL_OP_NO_TICKET
        : options.secureOptions | constants.SSL_OP_NO_TICKET;
      held = { context: tls.createSecureContext({ ...options, secureOptions, cert, key }), made: now };
      this.#contexts.set(cacheKey, held);
    }
    return held.context;
  }

  #key(served: Entry[]): string {
    return served.map((entry) => `${entry.info.source}\0${entry.added}`).join('\n');
  }

  /**
   * Whether every SNI name, and none, gets the default's certificates: the names a client can reach
   * another group with are those the certificates list (exactly or by wildcard); any other gets
   * the default.
   */
  #everyNameServesDefault(): boolean {
    const fallback = this.#key(this.#defaultGroup());
    for (const entry of this.#entries.values()) {
      for (const name of entry.info.hostnames) {
        const group = name.startsWith('*.') ? this.#holding(name) : this.#named(name);
        if (this.#key(group) !== fallback) return false;
      }
    }
    return true;
  }

  #group(servername: string | undefined): Entry[] {
    const named = servername ? this.#named(normalize(servername)) : [];
    return named.length > 0 ? named : this.#defaultGroup();
  }

  /** The certificates for a name: those naming it exactly, else a wildcard one for its parent; none else. */
  #named(name: string): Entry[] {
    const exact = this.#holding(name);
    if (exact.length > 0) return exact;
    // RFC 6125 §6.4.3: "*" stands for exactly one whole left-most label, so *.example.com
    // matches mail.example.com but neither example.com nor a.b.example.com.
    const dot = name.indexOf('.');
    if (dot > 0 && name.indexOf('.', dot + 1) > 0) return this.#holding(`*${name.slice(dot)}`);
    return [];
  }

  /** The certificates whose subjectAltName lists `name` as it is (a wildcard only as a wildcard). */
  #holding(name: string): Entry[] {
    return this.#newestOfEachType((entry) => entry.info.hostnames.includes(name));
  }

  /** Among the certificates that qualify, of each key type the one that expires last: ECDSA first. */
  #newestOfEachType(qualifies: (entry: Entry) => boolean): Entry[] {
    const best: Partial<Record<'ec' | 'rsa', Entry>> = {};
    for (const entry of this.#entries.values()) {
      if (!qualifies(entry)) continue;
      const held = best[entry.info.keyType];
      if (!held || entry.info.notAfter > held.info.notAfter) best[entry.info.keyType] = entry;
    }
    return [best.ec, best.rsa].filter((entry) => entry !== undefined);
  }

  /**
   * For clients without SNI: what a client naming the server's hostname gets, when a certificate
   * names it; else the first configured (lowest rank), with the other key type's certificate for its
   * name, so that a client without SNI gets what one naming it would.
   */
  #defaultGroup(): Entry[] {
    if (this.#hostname) {
      const named = this.#named(this.#hostname);
      if (named.length > 0) return named;
    }
    const entry = this.#firstConfigured();
    if (!entry) return [];
    const name = entry.info.hostnames[0];
    const named = name ? this.#newestOfEachType((other) => other.info.hostnames.includes(name)) : [];
    if (named.includes(entry)) return named;
    // An expired default (a PEM file served rather than none) gives way to a valid one for its name,
    // such as the certificate ACME has since ordered: a client without SNI gets what one naming it would.
    const now = this.#now();
    if (entry.info.notAfter < now && named.some((other) => other.info.notAfter >= now)) return named;
    return [entry];
  }

  /** Lowest rank; of equal ranks the first added (a replaced source keeps its place in the Map). */
  #firstConfigured(): Entry | undefined {
    let first: Entry | undefined;
    for (const entry of this.#entries.values()) if (!first || entry.rank < first.rank) first = entry;
    return first;
  }

  #describe(entry: Entry): CertificateInfo {
    return { ...entry.info, isDefault: this.#defaultGroup().includes(entry) };
  }
}

/**
 * Which certificate of a name's RSA and ECDSA pair an SNI switch carries (it carries one: see
 * handshakeOptions). The signature algorithms both sides share (RFC 8446 §4.2.3, RFC 5246
 * §7.4.1.4.1) and the version are known when the SNI callback runs; the client's cipher suites are
 * not (Node shows them nowhere before the handshake ends).
 * TLS 1.3: the suite does not depend on the certificate (RFC 8446 §4.4.2.2), the signature
 * algorithms decide: ECDSA when the client can verify it.
 * TLS 1.2: the suite must suit the certificate too (RFC 5246 §7.4.2; ECDHE_ECDSA suites need an
 * ECDSA certificate, RFC 8422 §5.3), and a client that lists ECDSA signatures may still offer only
 * ECDHE_RSA suites (a cipher list narrowed by hand): RSA whenever the client can verify it, which
 * any ECDHE_RSA suite then takes. A TLS 1.2 client with only ECDHE_ECDSA suites, which RSA-only
 * servers refuse as well, gets ECDSA only at the default name. Not a TLSSocket: ECDSA as before.
 */
function keyTypeFor(socket: unknown): 'ec' | 'rsa' {
  if (!(socket instanceof tls.TLSSocket)) return 'ec';
  const shared = socket.getSharedSigalgs();
  const ecdsa = shared.some((algorithm) => algorithm.startsWith('ECDSA+'));
  // RSA-PSS is an RSA signature too (RFC 8446 §4.2.3 allows rsa_pss_rsae_* in TLS 1.2).
  const rsa = shared.some((algorithm) => algorithm.startsWith('RSA+') || algorithm.startsWith('RSA-PSS+'));
  if (socket.getProtocol() === 'TLSv1.2') {
    // No signature_algorithms at all: the suite's own algorithm is assumed (RFC 5246 §7.4.1.4.1), RSA for ECDHE_RSA.
    return rsa || !ecdsa ? 'rsa' : 'ec';
  }
  return ecdsa || !rsa ? 'ec' : 'rsa';
}

/** Every certificate of a PEM file that parses, in file order. */
function pemCertificates(pem: string): X509Certificate[] {
  const certificates: X509Certificate[] = [];
  for (const [block] of pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      // Not a certificate: it cannot be the one the key belongs to.
    }
  }
  return certificates;
}

function dnsNames(cert: X509Certificate): string[] {
  // Node renders subjectAltName as "DNS:a, DNS:b, IP Address:…"; DNS names cannot contain ", ".
  const names = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((part) => part.startsWith('DNS:'))
    .map((part) => normalize(part.slice(4)));
  return [...new Set(names)];
}

/** Names compare case-insensitively (RFC 4343 §3); a trailing root dot is not part of an SNI name (RFC 6066 §3). */
function normalize(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

/** RFC 9325 §4.5: RSA of at least 2048 bits; EC curves of at least 224 bits (P-256 and P-384 in practice). */
function checkKey(key: KeyObject, source: string): 'rsa' | 'ec' {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) {
      throw new CertificateError('weak-key', source, `RSA key of ${details.modulusLength} bits; at least 2048 needed`);
    }
    return 'rsa';
  }
  if (key.asymmetricKeyType === 'ec') {
    if (
      details.namedCurve !== 'prime256v1' &&
      details.namedCurve !== 'secp384r1' &&
      details.namedCurve !== 'secp521r1'
    ) {
      throw new CertificateError('weak-key', source, `EC curve ${details.namedCurve} is not P-256, P-384 or P-521`);
    }
    return 'ec';
  }
  throw new CertificateError('weak-key', source, `${key.asymmetricKeyType} keys are not supported; use RSA or ECDSA`);
}
