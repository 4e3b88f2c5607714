/**
 * One message through one configured milter at the end of DATA: a fresh connection (libmilter
 * filters keep per-connection state, and a connection per message keeps a slow or broken filter
 * from holding others up), the session's facts as macros, the verdict, the header and body changes,
 * and the envelope changes (SMFIR_CHGFROM, SMFIR_ADDRCPT(_PAR), SMFIR_DELRCPT), which the caller
 * carries out: a new sender, recipients added or removed.
 */
import type { MilterConfig } from '../config/filter-schema.ts';
import { VERSION } from '../config/version.ts';
import type { Envelope, Peer } from '../smtp/envelope.ts';
import { type Path, parsePath } from '../smtp/path.ts';
import { type Reply, reply } from '../smtp/replies.ts';
import {
  filterMessage,
  type HeaderProblem,
  MilterClient,
  MilterUnavailableError,
  type MilterVerdict,
  type Modification,
  modifyMessage,
  recipientMacros,
  type SessionMacros,
  sessionMacros,
} from './milter/index.ts';

/**
 * A milter's changes to the envelope. Addresses come as RFC 5321 paths (brackets optional) and are
 * checked as MAIL and RCPT arguments are; one that is not a path is left out and named in `refused`.
 */
export interface EnvelopeChanges {
  /** SMFIR_CHGFROM: the new reverse-path; null for the null sender. */
  mailFrom?: Path | null;
  /** Recipients added and removed, in the order asked; a removed address is lower-cased. */
  recipients: ({ add: Path } | { remove: string })[];
  refused: string[];
}

/**
 * A recipient the milter refused at RCPT with a permanent reply while others were accepted. The
 * message is in and answered 250 for the others; there is no bounce here, so it is left out and logged.
 */
export interface DroppedRecipient {
  address: string;
  reply: Reply;
}

export type MilterStageOutcome =
  /**
   * `spam`: the milter marked the message as spam in a header (markedAsSpam()), for the Junk mailbox.
   * `headerProblems`: header changes refused or folded (milter/field-check.ts), for the caller to log.
   * `dropped`: recipients refused at RCPT (5xx), left out of the delivery, for the caller to log.
   */
  (
    | {
        kind: 'continue' | 'accept';
        content: Buffer;
        envelope?: EnvelopeChanges;
        spam?: true;
        headerProblems?: HeaderProblem[];
        dropped?: DroppedRecipient[];
      }
    | {
        kind: 'quarantine';
        content: Buffer;
        reason: string;
        envelope?: EnvelopeChanges;
        headerProblems?: HeaderProblem[];
        dropped?: DroppedRecipient[];
      }
    | { kind: 'discard' }
    | { kind: 'reply'; reply: Reply }
    | { kind: 'unavailable'; error: Error }
  ) & {
    /** What the milter did that the protocol does not allow there and was passed over, for the log. */
    warnings?: string[];
  };

/**
 * Who we are, for the macros: our hostname and our mail domains (lower case); and smtp.maxMessageSize,
 * the largest body a milter may put in place of the message's.
 */
export interface MilterSite {
  hostname: string;
  localDomains: ReadonlySet<string>;
  maxMessageSize?: number;
}

export async function runMilter(
  milter: MilterConfig,
  /** `clientName`: the client's forward-confirmed host name, when it has one. */
  request: { envelope: Envelope; peer: Peer; content: Buffer; clientName?: string | undefined },
  { hostname, localDomains, maxMessageSize }: MilterSite,
): Promise<MilterStageOutcome> {
  const { envelope, peer, clientName } = request;
  const sender = envelope.mailFrom?.address ?? '';
  const warnings: string[] = [];
  const noted = () => (warnings.length > 0 ? { warnings } : {});
  let client: MilterClient | undefined;
  try {
    client = await MilterClient.open({
      socket: milter.socket,
      timeouts: {
        connectMs: milter.connectTimeoutMs,
        replyMs: milter.replyTimeoutMs,
        messageMs: milter.messageTimeoutMs,
      },
      ...(maxMessageSize !== undefined ? { maxBodySize: maxMessageSize } : {}),
    });
    warnings.push(...client.warnings); // what the negotiation let pass with a warning (unoffered protocol bits)
    const macros = sessionMacros({
      hostname,
      version: `Postern ${VERSION}`,
      ...(peer.localAddress ? { daemonAddress: peer.localAddress } : {}),
      clientAddress: peer.remoteAddress,
      ...(clientName ? { clientName } : {}),
      queueId: envelope.id,
      sender,
      senderLocal: localDomains.has(sender.slice(sender.lastIndexOf('@') + 1).toLowerCase()),
      ...(peer.tls ? { tlsVersion: peer.tls.protocol, cipher: peer.tls.cipher } : {}),
      ...(peer.authenticated ? authMacros(peer.authenticated, peer.authMechanism, envelope.authAuthor) : {}),
    });
    // The client's verified name, or its address in brackets as Sendmail writes an unknown one
    // (Postfix milter8.c milter8_conn_event).
    const connect = await client.connect(
      { hostname: clientName ?? `[${peer.remoteAddress}]`, address: peer.remoteAddress, port: peer.remotePort },
      macros.connect,
    );
    const early = verdictOutcome(connect, 'connect', warnings);
    if (early) return { ...early, ...noted() };
    const helo = await client.helo(envelope.helo, macros.helo);
    const afterHelo = verdictOutcome(helo, 'helo', warnings);
    if (afterHelo) return { ...afterHelo, ...noted() };
    const result = await filterMessage(client, {
      from: `<${sender}>`,
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
    warnings.push(...(result.ignored ?? [])); // changes not negotiated, left out (client.ts eom)
    const refused = verdictOutcome(result.verdict, 'message', warnings);
    if (refused) return { ...refused, ...noted() };
    const modified = modifyMessage(request.content, result.modifications.map(belowOurReceived));
    const content = modified.content;
    const problems = modified.problems.length > 0 ? { headerProblems: modified.problems } : {};
    // A recipient the milter refused at RCPT for good, while it took others: Postfix and Sendmail
    // would have refused that RCPT, but the message is in and the others get their 250. There is no
    // bounce here, so it is removed, as by DELRCPT, and named in the log with the milter's reply. (A
    // temporary refusal deferred the whole message instead: filterMessage.)
    const rejected = result.rejected ?? [];
    const removed = rejected.map(({ rcpt }): Modification => ({ type: 'delrcpt', rcpt }));
    const dropped =
      rejected.length > 0
        ? {
            dropped: rejected.map(({ rcpt, verdict }) => ({
              address: rcpt.replace(/^<|>$/g, ''),
              reply: refusalReply(verdict),
            })),
          }
        : {};
    const envelopeChanges = envelopeChangesOf([...removed, ...result.modifications]);
    const changed = envelopeChanges ? { envelope: envelopeChanges } : {};
    // SMFIR_QUARANTINE only holds the message: the envelope changes of the same eom still count, as
    // Postfix's cleanup applies them to the held queue file (a refused recipient never entered it).
    if (result.quarantine !== undefined) {
      return {
        kind: 'quarantine',
        content,
        reason: result.quarantine,
        ...changed,
        ...problems,
        ...dropped,
        ...noted(),
      };
    }
    return {
      kind: result.verdict.action === 'accept' ? 'accept' : 'continue',
      content,
      ...changed,
      ...problems,
      ...dropped,
      ...(markedAsSpam(result.modifications) ? { spam: true as const } : {}),
      ...noted(),
    };
  } catch (err) {
    if (err instanceof MilterUnavailableError) return { kind: 'unavailable', error: err };
    throw err;
  } finally {
    await client?.quit().catch(() => {});
  }
}

/**
 * rspamd's "add header" action sets `X-Spam: Yes`, SpamAssassin (spamass-milter) `X-Spam-Flag: YES`,
 * for the delivery agent to file the message as spam: Postern delivers it to the Junk mailbox. Only a
 * header the milter writes counts; one the sender wrote would only demote its own message anyway.
 */
function markedAsSpam(modifications: readonly Modification[]): boolean {
  return modifications.some(
    (m) =>
      (m.type === 'addheader' || m.type === 'insheader' || m.type === 'chgheader') &&
      /^x-spam(-flag)?$/i.test(m.name.trim()) &&
      /^\s*yes\b/i.test(m.value),
  );
}

/**
 * `{auth_authen}`, `{auth_type}` and `{auth_author}` of a logged-in client. RFC 4954 §5 lets only an
 * authenticated client assert an author, so the session accepts AUTH= only where AUTH is offered.
 */
function authMacros(
  login: string,
  mechanism: string | undefined,
  author: string | undefined,
): Pick<SessionMacros, 'authUser' | 'authType' | 'authAuthor'> {
  return {
    authUser: login,
    ...(mechanism ? { authType: mechanism } : {}),
    ...(author !== undefined ? { authAuthor: author } : {}),
  };
}

/** The envelope changes among a milter's modifications, in order; undefined when there are none. */
function envelopeChangesOf(modifications: readonly Modification[]): EnvelopeChanges | undefined {
  const changes: EnvelopeChanges = { recipients: [], refused: [] };
  let any = false;
  const path = (text: string, allowNull: boolean): Path | null | undefined => {
    const trimmed = text.trim();
    const parsed = parsePath(trimmed.startsWith('<') ? trimmed : `<${trimmed}>`, allowNull);
    if (parsed.ok && parsed.rest === '') return parsed.path;
    changes.refused.push(text);
    return undefined;
  };
  for (const m of modifications) {
    if (m.type !== 'chgfrom' && m.type !== 'addrcpt' && m.type !== 'delrcpt') continue;
    any = true;
    if (m.type === 'chgfrom') {
      const from = path(m.from, true);
      if (from !== undefined) changes.mailFrom = from;
    } else if (m.type === 'addrcpt') {
      const to = path(m.rcpt, false);
      if (to) changes.recipients.push({ add: to });
    } else {
      const gone = path(m.rcpt, false);
      if (gone) changes.recipients.push({ remove: gone.address.toLowerCase() });
    }
  }
  return any ? changes : undefined;
}

/**
 * The milter never sees our own Received field (it is added when the message is stored), but
 * counts it as field 0 when inserting, as Postfix does (milter8.c): rspamd inserts
 * Authentication-Results at index 1, "below the MTA's Received". In what we hold that is the top.
 */
function belowOurReceived(m: Modification): Modification {
  return m.type === 'insheader' ? { ...m, index: Math.max(0, m.index - 1) } : m;
}

/**
 * A verdict that ends the message here, or undefined to go on. A discard at connect or HELO is not
 * allowed (there is no message yet): Postfix (milter8.c) warns "DISCARD action is not allowed for
 * connect or helo" and goes on, and so does this, into `warnings`.
 */
function verdictOutcome(
  v: MilterVerdict,
  step: 'connect' | 'helo' | 'message',
  warnings: string[],
): MilterStageOutcome | undefined {
  switch (v.action) {
    case 'reject':
    case 'tempfail':
      return { kind: 'reply', reply: refusalReply(v) };
    case 'discard':
      if (step === 'message') return { kind: 'discard' };
      warnings.push(`DISCARD action is not allowed for connect or helo: ignored at ${step}`);
      return undefined;
    default:
      return undefined;
  }
}

/** The milter's reply code, or what Sendmail and Postfix answer for SMFIR_REJECT and SMFIR_TEMPFAIL. */
function refusalReply(v: Extract<MilterVerdict, { action: 'reject' | 'tempfail' }>): Reply {
  const r = v.reply;
  if (r) return reply(r.code, r.enhanced, ...r.lines);
  return v.action === 'reject'
    ? reply(550, '5.7.1', 'Command rejected')
    : reply(451, '4.7.1', 'Service unavailable - try again later');
}
