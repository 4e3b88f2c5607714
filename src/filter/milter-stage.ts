/**
 * One message through one configured milter at the end of DATA: a fresh connection (libmilter
 * filters keep per-connection state, and a connection per message keeps a slow or broken filter
 * from holding others up), the session's facts as macros, the verdict and the header changes.
 * Envelope changes (chgfrom, addrcpt, delrcpt) are not carried out: we never offered to make them.
 */
import type { MilterConfig } from '../config/filter-schema.ts';
import { VERSION } from '../config/version.ts';
import type { Envelope, Peer } from '../smtp/envelope.ts';
import { type Reply, reply } from '../smtp/replies.ts';
import {
  applyModifications,
  filterMessage,
  MilterClient,
  MilterUnavailableError,
  type MilterVerdict,
  type Modification,
  recipientMacros,
  sessionMacros,
} from './milter/index.ts';

export type MilterStageOutcome =
  | { kind: 'continue' | 'accept'; content: Buffer }
  | { kind: 'quarantine'; content: Buffer; reason: string }
  | { kind: 'discard' }
  | { kind: 'reply'; reply: Reply }
  | { kind: 'unavailable'; error: Error };

export async function runMilter(
  milter: MilterConfig,
  request: { envelope: Envelope; peer: Peer; content: Buffer },
  hostname: string,
): Promise<MilterStageOutcome> {
  const { envelope, peer } = request;
  let client: MilterClient | undefined;
  try {
    client = await MilterClient.open({
      socket: milter.socket,
      timeouts: {
        connectMs: milter.connectTimeoutMs,
        replyMs: milter.replyTimeoutMs,
        messageMs: milter.messageTimeoutMs,
      },
    });
    const macros = sessionMacros({
      hostname,
      version: `Postern ${VERSION}`,
      ...(peer.localAddress ? { daemonAddress: peer.localAddress } : {}),
      clientAddress: peer.remoteAddress,
      queueId: envelope.id,
      sender: envelope.mailFrom?.address ?? '',
      ...(peer.tls ? { tlsVersion: peer.tls.protocol, cipher: peer.tls.cipher } : {}),
      ...(peer.authenticated ? { authUser: peer.authenticated, authType: 'PLAIN' } : {}),
    });
    const connect = await client.connect(
      { hostname: `[${peer.remoteAddress}]`, address: peer.remoteAddress, port: peer.remotePort },
      macros.connect,
    );
    const early = verdictOutcome(connect);
    if (early) return early;
    const helo = await client.helo(envelope.helo, macros.helo);
    const afterHelo = verdictOutcome(helo);
    if (afterHelo) return afterHelo;
    const result = await filterMessage(client, {
      from: `<${envelope.mailFrom?.address ?? ''}>`,
      recipients: envelope.recipients.map((r) => `<${r.path.address}>`),
      content: request.content,
      macros: {
        mail: macros.mail,
        rcpt: envelope.recipients.map((r) =>
          recipientMacros(hostname, envelope.id, { address: r.path.address, local: r.route.kind === 'local' }),
        ),
        eom: macros.eom,
      },
    });
    const refused = verdictOutcome(result.verdict);
    if (refused) return refused;
    const content = applyModifications(request.content, result.modifications.map(belowOurReceived));
    if (result.quarantine !== undefined) return { kind: 'quarantine', content, reason: result.quarantine };
    return { kind: result.verdict.action === 'accept' ? 'accept' : 'continue', content };
  } catch (err) {
    if (err instanceof MilterUnavailableError) return { kind: 'unavailable', error: err };
    throw err;
  } finally {
    await client?.quit().catch(() => {});
  }
}

/**
 * The milter never sees our own Received field (it is added when the message is stored), but
 * counts it as field 0 when inserting, as Postfix does (milter8.c): rspamd inserts
 * Authentication-Results at index 1, "below the MTA's Received". In what we hold that is the top.
 */
function belowOurReceived(m: Modification): Modification {
  return m.type === 'insheader' ? { ...m, index: Math.max(0, m.index - 1) } : m;
}

/** A verdict that ends the message here, or undefined to go on. */
function verdictOutcome(v: MilterVerdict): MilterStageOutcome | undefined {
  switch (v.action) {
    case 'reject': {
      // SMFIR_REJECT without a reply code: Sendmail and Postfix answer 550 5.7.1 Command rejected.
      const r = v.reply;
      return {
        kind: 'reply',
        reply: r ? reply(r.code, r.enhanced, ...r.lines) : reply(550, '5.7.1', 'Command rejected'),
      };
    }
    case 'tempfail': {
      const r = v.reply;
      return {
        kind: 'reply',
        reply: r ? reply(r.code, r.enhanced, ...r.lines) : reply(451, '4.7.1', 'Service unavailable - try again later'),
      };
    }
    case 'discard':
      return { kind: 'discard' };
    default:
      return undefined;
  }
}
