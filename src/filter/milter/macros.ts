/**
 * The macros a milter expects, per step, with the names Sendmail defines (op.me "Macros") and the
 * stages Postfix sends them at (milter_connect_macros, milter_helo_macros, milter_mail_macros).
 */
import type { Macros } from './client.ts';

export interface SessionMacros {
  /** `j`: our hostname; also `{daemon_name}`, as Postfix's milter_macro_daemon_name defaults to it. */
  hostname: string;
  /** `v`: the MTA's name and version, as Postfix's "$mail_name $mail_version". */
  version?: string;
  /** `{daemon_addr}`: our address on the connection (Postfix 3.2+). */
  daemonAddress?: string;
  clientAddress: string;
  /**
   * The client's forward-confirmed host name, when there is one; without it `_` and `{client_name}`
   * say `unknown`, as Postfix's do.
   */
  clientName?: string;
  /** `{tls_version}`, e.g. TLSv1.3, when the session is encrypted. */
  tlsVersion?: string;
  cipher?: string;
  /** `{auth_authen}`: the SASL login, when authenticated. */
  authUser?: string;
  /** `{auth_type}`: the SASL mechanism of that login. */
  authType?: string;
  /** `{auth_author}`: MAIL's AUTH= (RFC 4954 §5) of an authenticated client, xtext decoded. */
  authAuthor?: string;
  /** `i`: the queue id. */
  queueId?: string;
  /** `{mail_addr}`: the MAIL FROM address; "" for the null reverse-path. */
  sender?: string;
  /** The sender's domain is one of ours: `{mail_mailer}` `local` with our hostname as `{mail_host}`. */
  senderLocal?: boolean;
}

/** Where a recipient goes, for `{rcpt_mailer}` and `{rcpt_host}`. */
export interface RecipientMacros {
  address: string;
  /** A local mailbox, or the outbound queue. */
  local: boolean;
}

export function sessionMacros(s: SessionMacros): { connect: Macros; helo: Macros; mail: Macros; eom: Macros } {
  return {
    // Postfix's milter_connect_macros ("j {daemon_name} {daemon_addr} v _", postconf -d), then the
    // client's address and name, as Sendmail sends them.
    connect: {
      j: s.hostname,
      '{daemon_name}': s.hostname,
      '{daemon_addr}': s.daemonAddress,
      v: s.version,
      _: `${s.clientName ?? 'unknown'} [${s.clientAddress}]`,
      '{client_addr}': s.clientAddress,
      '{client_name}': s.clientName ?? 'unknown',
    },
    helo: { '{tls_version}': s.tlsVersion, '{cipher}': s.cipher },
    mail: {
      i: s.queueId,
      '{auth_type}': s.authType,
      '{auth_authen}': s.authUser,
      '{auth_author}': s.authAuthor,
      '{mail_addr}': s.sender,
      ...senderRoute(s),
    },
    // Sendmail repeats `i` at eom: a milter that skips MAIL (SMFIP_NOMAIL) still learns it.
    eom: { i: s.queueId },
  };
}

/**
 * `{mail_host}` and `{mail_mailer}`, the rest of Postfix's milter_mail_macros: where mail to the sender
 * would go, read like a recipient's (below). None for the null reverse-path, which names no host.
 */
function senderRoute(s: SessionMacros): Macros {
  if (!s.sender) return {};
  const domain = s.sender.slice(s.sender.lastIndexOf('@') + 1);
  return { '{mail_host}': s.senderLocal ? s.hostname : domain, '{mail_mailer}': s.senderLocal ? 'local' : 'smtp' };
}

/**
 * Postfix's milter_rcpt_macros ("i {rcpt_addr} {rcpt_host} {rcpt_mailer}"): the address, the next hop
 * and the transport. A local recipient is delivered here (mailer `local`, host ours); any other goes
 * out by SMTP to its domain.
 */
export function recipientMacros(hostname: string, queueId: string | undefined, r: RecipientMacros): Macros {
  const domain = r.address.slice(r.address.lastIndexOf('@') + 1);
  return {
    i: queueId,
    '{rcpt_addr}': r.address,
    '{rcpt_host}': r.local ? hostname : domain,
    '{rcpt_mailer}': r.local ? 'local' : 'smtp',
  };
}
