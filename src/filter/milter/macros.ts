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
  /** The client's verified host name, when there is one; `_` then says `unknown` like Postfix. */
  clientName?: string;
  /** `{tls_version}`, e.g. TLSv1.3, when the session is encrypted. */
  tlsVersion?: string;
  cipher?: string;
  /** `{auth_authen}`: the SASL login, when authenticated. */
  authUser?: string;
  authType?: string;
  /** `i`: the queue id. */
  queueId?: string;
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
      '{client_name}': s.clientName,
    },
    helo: { '{tls_version}': s.tlsVersion, '{cipher}': s.cipher },
    mail: { i: s.queueId, '{auth_authen}': s.authUser, '{auth_type}': s.authType },
    // Sendmail repeats `i` at eom: a milter that skips MAIL (SMFIP_NOMAIL) still learns it.
    eom: { i: s.queueId },
  };
}
