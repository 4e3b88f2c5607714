/**
 * The macros a milter expects, per step, with the names Sendmail defines (op.me "Macros") and the
 * stages Postfix sends them at (milter_connect_macros, milter_helo_macros, milter_mail_macros).
 */
import type { Macros } from './client.ts';

export interface SessionMacros {
  /** `j`: our hostname. */
  hostname: string;
  clientAddress: string;
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
    connect: { j: s.hostname, '{client_addr}': s.clientAddress, '{client_name}': s.clientName },
    helo: { '{tls_version}': s.tlsVersion, '{cipher}': s.cipher },
    mail: { i: s.queueId, '{auth_authen}': s.authUser, '{auth_type}': s.authType },
    // Sendmail repeats `i` at eom: a milter that skips MAIL (SMFIP_NOMAIL) still learns it.
    eom: { i: s.queueId },
  };
}
