/**
 * The shape every SASL mechanism shares (RFC 4422), sans-I/O: an exchange takes the client's
 * decoded bytes and returns the next step. The protocol layer (SMTP AUTH, RFC 4954; later IMAP
 * AUTHENTICATE, RFC 9051 §6.2.2) does the base64, the "334"/"+" lines, the "*" cancel and the
 * replies; it also decides when PLAIN and LOGIN may be offered (RFC 4616 §5: only under TLS).
 * No security layers: none of our mechanisms negotiates one.
 *
 * These types sit apart from the mechanisms and from the registry that creates them (mechanism.ts),
 * so that each imports them without importing the others.
 */

export type SaslStep =
  /** Send to the client (SMTP: "334 " + base64(data)) and pass its answer to next(). */
  | { type: 'challenge'; data: Buffer }
  /**
   * Authenticated. `data` is the mechanism's additional data on success (SCRAM's server-final
   * "v=…", RFC 5802 §5.1), which SMTP sends as a 334 challenge before 235 (RFC 4954 §4).
   */
  | { type: 'success'; username: string; data?: Buffer }
  /**
   * Ended without authenticating. 'aborted' is for the protocol layer (the client's "*",
   * RFC 4954 §4); mechanisms report 'credentials', 'malformed' or 'binding'. `username` is the
   * (lower-cased) name the client tried, once the exchange got that far: for per-account throttling.
   */
  | {
      type: 'failure';
      reason: 'credentials' | 'malformed' | 'aborted' | 'binding';
      message: string;
      username?: string;
    };

/**
 * One authentication attempt. start() once, then next() for each client response while the last
 * step was a challenge. A call out of that order is a caller bug; it fails closed ('malformed'),
 * so it can never authenticate.
 */
export interface SaslExchange {
  readonly mechanism: string;
  /** `initial` is the client's initial response (RFC 4422 §5), undefined when none was sent. */
  start(initial: Buffer | undefined): Promise<SaslStep>;
  next(response: Buffer): Promise<SaslStep>;
}

export interface Credentials {
  /**
   * argon2id PHC verification: true when password is right for the (lower-cased) username; false
   * for unknown users too (same timing as possible).
   */
  verifyPassword(username: string, password: string): Promise<boolean>;
  /** The SCRAM-SHA-256 stored secret of the user, or undefined for unknown users / users without one. */
  scramCredentials(username: string): Promise<ScramCredentials | undefined>;
  /**
   * The key the made-up salts of unknown users are derived from: kept in the store, so that a user's
   * salt is the same on every node and after a restart, as a real one is. A key of the process's own
   * when absent (tests).
   */
  fakeSaltKey?(): Promise<Buffer>;
}

/** RFC 9266: 32 bytes of exportKeyingMaterial('EXPORTER-Channel-Binding', 32) of the TLS connection. */
export interface ChannelBinding {
  type: 'tls-exporter';
  data: Buffer;
}

/** A user's SCRAM-SHA-256 stored secret (RFC 5802 §3), as scram.ts reads it from RFC 5803's text form. */
export interface ScramCredentials {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}
