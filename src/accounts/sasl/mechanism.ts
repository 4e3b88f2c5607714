/**
 * The mechanisms we implement, by name: the exchange a protocol layer starts for an AUTH command.
 * The types they share are in exchange.ts.
 */

import type { ChannelBinding, Credentials, SaslExchange } from './exchange.ts';
import { LoginExchange } from './login.ts';
import { PlainExchange } from './plain.ts';
import { ScramExchange } from './scram.ts';

export interface ExchangeOptions {
  /** The connection's binding; absent without TLS, or on TLS 1.2 without extended master secret (RFC 9266). */
  channelBinding?: ChannelBinding;
  /** Whether SCRAM-SHA-256-PLUS was advertised: a "y" flag is then a downgrade (RFC 5802 §6). */
  plusOffered: boolean;
  /** The server nonce part (printable, no comma; RFC 5802 §5.1); random when absent. For tests. */
  nonce?: () => string;
}

/** The exchange for a mechanism name, or undefined when we do not implement that mechanism. */
export function createExchange(
  mechanism: string,
  credentials: Credentials,
  options: ExchangeOptions,
): SaslExchange | undefined {
  // RFC 4422 §3.1 names are upper-case; clients are not all careful, so compare upper-cased.
  switch (mechanism.toUpperCase()) {
    case 'PLAIN':
      return new PlainExchange(credentials);
    case 'LOGIN':
      return new LoginExchange(credentials);
    case 'SCRAM-SHA-256':
      return new ScramExchange(credentials, { ...options, plus: false });
    case 'SCRAM-SHA-256-PLUS':
      // Even without a binding: the exchange then refuses with 'binding', which says more than
      // "unknown mechanism" to a client that asked for PLUS where it was not offered.
      return new ScramExchange(credentials, { ...options, plus: true });
    default:
      return undefined;
  }
}

/**
 * Mechanisms to advertise, strongest first. PLUS only where the connection has a tls-exporter
 * binding: offering it elsewhere would invite every client into a failure.
 */
export const MECHANISMS = (tlsBindingAvailable: boolean): string[] => [
  ...(tlsBindingAvailable ? ['SCRAM-SHA-256-PLUS'] : []),
  'SCRAM-SHA-256',
  'PLAIN',
  'LOGIN',
];
