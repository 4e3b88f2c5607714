/**
 * The server certificates of every TLS listener, chosen per connection by SNI (RFC 6066 §3, which
 * RFC 9325 §3.7 makes mandatory to support). A certificate is checked when added (key matches,
 * currently valid, strong enough key) and never half-replaced: a bad new one throws and the old one
 * stays. Names come from the certificate's subjectAltName dNSName entries only, as RFC 6125 §6.4.4
 * says when they exist; a certificate without any can still be the default.
 * Not here: reading files (pem-files.ts), issuing certificates (self-signed.ts, acme/).
 */

import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
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
  constructor(code: CertificateProblem, source: string, message: string, options?: ErrorOptions) {
    super(`${source}: ${message}`, options);
    this.name = 'CertificateError';
    this.code = code;
    this.source = source;
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
  isDefault: boolean;
}

export interface AddPemOptions {
  /** Names the certificate in errors and logs, and replaces an earlier one of the same source. */
  source?: string;
  /** Serve it to clients that send no SNI or a name no certificate has. */
  default?: boolean;
  /**
   * A stand-in (the self-signed certificate) served only until another certificate is loaded, which
   * then replaces it for every name: ranked by key type and expiry, a year-long ECDSA stand-in had
   * kept beating a 90-day or RSA certificate from ACME for SNI clients until a restart.
   */
  fallback?: boolean;
}

interface Entry {
  info: Omit<CertificateInfo, 'isDefault'>;
  cert: string;
  key: string;
  added: number;
  fallback: boolean;
}

type Callback = (err: Error | null, ctx?: tls.SecureContext) => void;

export class CertificateStore extends EventEmitter<{ loaded: [CertificateInfo]; removed: [string] }> {
  readonly #entries = new Map<string, Entry>();
  readonly #contexts = new Map<string, tls.SecureContext>();
  readonly #now: () => Date;
  #defaultSource: string | undefined;
  #counter = 0;

  constructor(options: { now?: () => Date } = {}) {
    super();
    this.#now = options.now ?? (() => new Date());
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
      throw new CertificateError('key-invalid', source, 'the private key cannot be read', { cause: err });
    }
    if (!leaf.checkPrivateKey(key))
      throw new CertificateError('key-mismatch', source, 'the key does not match the certificate');
    const now = this.#now();
    if (leaf.validToDate < now) throw new CertificateError('expired', source, `expired on ${leaf.validTo}`);
    // An hour of tolerance: a fresh certificate must not be refused because our clock runs a little behind the CA's.
    if (leaf.validFromDate.getTime() > now.getTime() + 3_600_000) {
      throw new CertificateError('not-yet-valid', source, `not valid before ${leaf.validFrom}`);
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
    };
    // A real certificate is already here: the stand-in is not needed.
    if (entry.fallback && [...this.#entries.values()].some((held) => !held.fallback)) {
      return { ...entry.info, isDefault: false };
    }
    this.#entries.set(source, entry);
    if (!entry.fallback) {
      for (const [other, held] of this.#entries) if (held.fallback && other !== source) this.remove(other);
    }
    if (options.default) this.#defaultSource = source;
    this.#contexts.clear();
    const info = this.#describe(entry);
    this.emit('loaded', info);
    return info;
  }

  remove(source: string): boolean {
    if (!this.#entries.delete(source)) return false;
    if (this.#defaultSource === source) this.#defaultSource = undefined;
    this.#contexts.clear();
    this.emit('removed', source);
    return true;
  }

  list(): CertificateInfo[] {
    return [...this.#entries.values()].map((entry) => this.#describe(entry));
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The context for a client's SNI name: a certificate naming it exactly, else a wildcard certificate
   * for its parent, else the default. One certificate per context: Node's SNI switch copies only one
   * key and certificate into the connection, so an RSA and an ECDSA certificate for the same name
   * cannot both be offered; ECDSA is preferred, then the later expiry.
   */
  secureContext(servername?: string): tls.SecureContext {
    const entry = this.#select(servername);
    if (!entry) throw new CertificateError('no-certificate', servername ?? 'default', 'no certificate');
    const cacheKey = `${entry.info.source}\0${entry.added}`;
    let context = this.#contexts.get(cacheKey);
    if (!context) {
      context = tls.createSecureContext({ ...serverTlsOptions(), cert: entry.cert, key: entry.key });
      this.#contexts.set(cacheKey, context);
    }
    return context;
  }

  /** For `tls.createServer({ SNICallback })` and `new tls.TLSSocket(socket, { isServer: true, SNICallback })`. */
  readonly SNICallback = (servername: string, callback: Callback): void => {
    try {
      callback(null, this.secureContext(servername));
    } catch (err) {
      callback(err as Error);
    }
  };

  #select(servername: string | undefined): Entry | undefined {
    const name = servername ? normalize(servername) : '';
    if (name) {
      const exact = this.#best((entry) => entry.info.hostnames.includes(name));
      if (exact) return exact;
      // RFC 6125 §6.4.3: "*" stands for exactly one whole left-most label, so *.example.com
      // matches mail.example.com but neither example.com nor a.b.example.com.
      const dot = name.indexOf('.');
      if (dot > 0 && name.indexOf('.', dot + 1) > 0) {
        const wildcard = `*${name.slice(dot)}`;
        const match = this.#best((entry) => entry.info.hostnames.includes(wildcard));
        if (match) return match;
      }
    }
    return this.#defaultEntry();
  }

  /** Among the certificates that qualify: ECDSA before RSA (smaller, faster handshakes), then the later expiry. */
  #best(qualifies: (entry: Entry) => boolean): Entry | undefined {
    let best: Entry | undefined;
    for (const entry of this.#entries.values()) {
      if (!qualifies(entry)) continue;
      if (!best || rank(entry) > rank(best)) best = entry;
    }
    return best;
  }

  #defaultEntry(): Entry | undefined {
    if (this.#defaultSource) return this.#entries.get(this.#defaultSource);
    return this.#entries.values().next().value; // the first added
  }

  #describe(entry: Entry): CertificateInfo {
    return { ...entry.info, isDefault: this.#defaultEntry() === entry };
  }
}

function rank(entry: Entry): number {
  return (entry.info.keyType === 'ec' ? 2 ** 50 : 0) + entry.info.notAfter.getTime();
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
