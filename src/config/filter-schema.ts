/**
 * `filter`: content inspection after sender authentication (issue 8) — Postfix-style header and
 * body rules, external milters, and the phishing detector with the actions its score leads to.
 * Everything is on by default except what needs a file or a socket the admin must provide.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { mailDomain } from './domain-name.ts';
import { isResolvableName, notOneHostProblem } from './hosts.ts';
import { filePath, pathProblem } from './paths.ts';

/**
 * A phishing allow-list entry: a domain, or an address (local-part@domain), kept as the detector
 * compares it with the From (src/filter/phishing/detector.ts, allowlisted()): lower case, the domain as
 * its A-label. An entry no From can equal ("partner.example.", "*.partner.example", a URL) would
 * exempt nobody without a word, so it is refused as `domains` refuses it.
 */
const domainOrAddress = z.string().transform((value, ctx) => {
  const at = value.lastIndexOf('@');
  const local = value.slice(0, Math.max(at, 0));
  // RFC 5321 §4.1.2: a local part has at least one character.
  if (at >= 0 && !/^[^\s@]+$/.test(local)) {
    ctx.addIssue({ code: 'custom', message: 'expected a domain (example.com) or an address (a@example.com)' });
    return z.NEVER;
  }
  const parsed = mailDomain.safeParse(value.slice(at + 1));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', message: at < 0 ? issue.message : `the domain after "@": ${issue.message}` });
    }
    return z.NEVER;
  }
  // The detector lower-cases the whole From address before it compares.
  return at < 0 ? parsed.data : `${local.toLowerCase()}@${parsed.data}`;
});

const milterSchema = z
  .object({
    /** Sendmail/Postfix socket syntax: `inet:11332@127.0.0.1`, `inet6:port@host`, `unix:/path`. */
    socket: z
      .string()
      .regex(/^(inet:\d{1,5}@\S+|inet6:\d{1,5}@\S+|unix:\/\S+|local:\/\S+)$/, {
        message: 'expected inet:PORT@HOST, inet6:PORT@HOST or unix:/path',
        abort: true,
      })
      .superRefine((socket, ctx) => {
        const problem = milterSocketProblem(socket);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    /** A name for logs and quarantine reasons; the socket when absent. */
    name: z.string().min(1).optional(),
    connectTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    replyTimeoutMs: z.number().int().min(100).max(300_000).default(30_000),
    /** The whole message, from MAIL to the verdict (Postfix milter_content_timeout is 300 s). */
    messageTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
    /**
     * When the milter cannot be reached or fails (Postfix milter_default_action): `tempfail` answers
     * 451 so the client retries, `accept` lets mail through unfiltered, `reject` refuses it (550).
     */
    onUnavailable: z.enum(['tempfail', 'accept', 'reject']).default('tempfail'),
  })
  .strict();

/**
 * Why a milter socket (past its syntax) cannot be connected to, or undefined. Port 0 is no port a
 * milter listens on, and a host that is neither an address nor a name (`bad_host!!`) never resolves:
 * every message would meet onUnavailable instead of the filter.
 */
function milterSocketProblem(socket: string): string | undefined {
  const colon = socket.indexOf(':');
  const kind = socket.slice(0, colon);
  if (kind === 'unix' || kind === 'local') {
    return pathProblem(socket.slice(colon + 1), 'a socket', '/run/rspamd/milter.sock');
  }
  const at = socket.indexOf('@');
  const port = Number(socket.slice(colon + 1, at));
  if (port < 1 || port > 65535) return 'the port must be 1-65535 (no milter listens on port 0)';
  // An IPv6 host may be bracketed (inet6:11332@[::1]), as the milter client takes it.
  const host = socket.slice(at + 1).replace(/^\[(.*)\]$/, '$1');
  if (isIP(host) !== 0) {
    const notOneHost = notOneHostProblem(host);
    return notOneHost && `${notOneHost}; give the milter's own address, e.g. inet:11332@127.0.0.1`;
  }
  if (!isResolvableName(host)) {
    return 'the host must be an IP address or a host name, e.g. inet:11332@127.0.0.1 or inet:11332@rspamd.example.com';
  }
  return undefined;
}

const personSchema = z
  .object({
    /** Names as people write them, in every language: ["Ivan Petrov", "Иван Петров"]. */
    names: z.array(z.string().min(2)).min(1),
    /** The person's real addresses: mail with their name from any other address is suspicious. */
    addresses: z.array(z.string().regex(/^[^\s@]+@[^\s@]+$/, { message: 'expected an e-mail address' })).default([]),
  })
  .strict();

const brandSchema = z
  .object({
    names: z.array(z.string().min(2)).min(1),
    domains: z.array(mailDomain).min(1),
    category: z
      .enum(['bank', 'subscription', 'executive', 'plea', 'job', 'sextortion', 'password', 'generic'])
      .default('generic'),
  })
  .strict();

/** Scores at or above each threshold lead to that action (and all milder ones: a junked message is also tagged). */
const thresholdsSchema = z
  .object({
    /** Verdict headers name the message phishing; subject tag and banner are added. */
    warn: z.number().min(0).default(3.5),
    /** Delivered to the recipient's Junk mailbox. */
    junk: z.number().min(0).default(6),
    /** Kept in quarantine for the admin (`postern quarantine`), not delivered. */
    quarantine: z.number().min(0).default(9),
    /** Refused at the end of DATA with 554 5.7.1. */
    reject: z.number().min(0).default(14),
  })
  .strict()
  .prefault({})
  .refine((t) => t.warn <= t.junk && t.junk <= t.quarantine && t.quarantine <= t.reject, {
    message: 'thresholds must grow: warn ≤ junk ≤ quarantine ≤ reject',
  });

const phishingSchema = z
  .object({
    enabled: z.boolean().default(true),
    thresholds: thresholdsSchema,
    /** Added in front of the subject from `warn` up; '' adds none. */
    subjectTag: z.string().max(40).default('[PHISHING?]'),
    banner: z
      .object({
        enabled: z.boolean().default(true),
        /** The language of the warning inserted at the top of the message: ru, en, or both (Russian first). */
        language: z.enum(['en', 'ru', 'both']).default('both'),
        /** Own wording; `{reasons}` is replaced by the (escaped) reasons. */
        text: z
          .object({ en: z.string().min(1).optional(), ru: z.string().min(1).optional() })
          .strict()
          .default({}),
      })
      .strict()
      .prefault({}),
    /** The language of explanations in logs, quarantine reasons and `postern scan`; SMTP replies are English. */
    language: z.enum(['en', 'ru']).default('en'),
    /** More domains to protect from lookalikes; the local domains always are. */
    protectedDomains: z.array(mailDomain).default([]),
    /** Partners and frequent correspondents: their lookalikes are suspicious too. */
    partnerDomains: z.array(mailDomain).default([]),
    /**
     * Domains our users sent at least this many messages to (counted once per message and registrable
     * domain, written to in the last 180 days) count as frequent correspondents too, refreshed every 10
     * minutes; 0 turns the learning off.
     */
    correspondentMinMessages: z.number().int().min(0).default(5),
    /** Executives and others whose name from an outside address is suspicious. */
    people: z.array(personSchema).default([]),
    /** More brands, added to the built-in list (src/filter/phishing/brands.ts). */
    brands: z.array(brandSchema).default([]),
    /** Sender domains or addresses never scored (unless DMARC fails for them). */
    allowlist: z.array(domainOrAddress).default([]),
  })
  .strict()
  .prefault({});

const ruleTable = filePath('a file', '/etc/postern/header_checks');

export const filterSchema = z
  .object({
    /**
     * Postfix header_checks(5) regexp tables, by file path; mimeHeaderChecks and nestedHeaderChecks
     * (the headers of attached messages) default to headerChecks.
     */
    headerChecks: ruleTable.optional(),
    mimeHeaderChecks: ruleTable.optional(),
    nestedHeaderChecks: ruleTable.optional(),
    bodyChecks: ruleTable.optional(),
    /** Postfix body_checks_size_limit: octets of each body part that bodyChecks reads. */
    bodyChecksSizeLimit: z.number().int().min(1).default(51_200),
    /** Postfix header_size_limit: octets of a logical header the header tables read. */
    headerSizeLimit: z.number().int().min(1).default(102_400),
    /** External pre-queue filters, called in order at the end of DATA (Sendmail milter protocol). */
    milters: z.array(milterSchema).default([]),
    phishing: phishingSchema,
    /** What the filter held back (`postern quarantine`). */
    quarantine: z
      .object({
        /**
         * Messages held longer than this are removed (src/filter/quarantine-expiry.ts): without a
         * limit a phishing flood fills the disk. Microsoft 365 keeps phishing 30 days.
         */
        retentionDays: z.number().int().min(1).max(3650, 'at most 3650 (ten years)').default(30),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type FilterConfig = z.infer<typeof filterSchema>;
export type MilterConfig = z.infer<typeof milterSchema>;
export type PhishingConfig = z.infer<typeof phishingSchema>;
