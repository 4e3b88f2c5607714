/** One inbound message and its site, as the milter-stage tests hand them to runMilter. */

import type { MilterConfig } from '../../src/config/filter-schema.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Envelope, Peer } from '../../src/smtp/envelope.ts';
import { testPeer } from './peer.ts';

export const PEER: Peer = testPeer();
export const ENVELOPE = {
  id: 'Q1',
  greeting: 'EHLO',
  helo: 'client.example',
  mailFrom: { address: 'a@example.net', localPart: 'a', domain: 'example.net' },
  declaredSize: undefined,
  body: '7BIT',
  smtputf8: false,
  recipients: [{ path: { address: 'b@example.com' }, route: { kind: 'local', accountId: 1 } }],
} as unknown as Envelope;
export const CONTENT = Buffer.from('Subject: x\r\n\r\nhi\r\n');
export const SITE = { hostname: 'mx.example.com', localDomains: new Set(['example.com']) };

/** The config of one milter listening on `socket`, with every other setting at its default. */
export const milterConfig = (socket: string): MilterConfig =>
  parseConfig({ filter: { milters: [{ socket }] } }, 'test').filter.milters[0]!;
