/**
 * The one typed configuration schema (ARCHITECTURE.md principle 7). Every key has a secure default, so
 * `postern serve` runs with no file at all. The keys hostname, domains, dataDir, dns.servers and
 * listen.smtp are a contract that tools and tests rely on.
 */
import { BlockList, isIP, isIPv6 } from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import { asciiName } from '../dns/a-labels.ts';
import { DNS_NAME, domainName, mailDomain } from './domain-name.ts';
import { filterSchema } from './filter-schema.ts';
import { ipv4Mapped, isAddressShaped, isHostName, MULTICAST, notOneHostProblem } from './hosts.ts';
import { controlCharacterMessage, filePath, pathProblem } from './paths.ts';

export { ipv4Mapped, isAddressShaped };

/**
 * `host:port`; the example in the messages is the key's own (a listener's, or a DNS server's). A
 * listener may take port 0 (a port the system picks, as tests do); a server to connect to may not:
 * no server listens on port 0, and every query or connection to it would fail.
 */
const hostPortLike = (example: string, use: 'listen' | 'connect') =>
  z
    .string()
    // abort: a value that is not host:port at all gets one message, not also "port must be 0-65535".
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, {
      message: `expected host:port, e.g. ${example}`,
      abort: true,
    })
    // RFC 3986 §3.2.2: brackets hold an IPv6 literal; "[:::]" or "[1.2.3.4]" would reach the resolver as a name.
    .refine((v) => !v.startsWith('[') || isIPv6(v.slice(1, v.indexOf(']'))), {
      message: 'the part in brackets must be an IPv6 address, e.g. [::1]:2525 or [::]:25',
      abort: true,
    })
    // The host is an address or a name serve can resolve at start; "*" (nginx's "every address") and
    // IPv4 shorthand ("127.1", which the clash check would take for another socket) are neither.
    .refine((v) => v.startsWith('[') || isListenHost(v.slice(0, v.lastIndexOf(':'))), {
      message:
        'the host must be an IP address or a host name: 0.0.0.0 or [::] for every address, 127.0.0.1 or [::1] for this machine only',
      abort: true,
    })
    .superRefine((v, ctx) => {
      const problem = notOneHostProblem(v.slice(0, v.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1'));
      const hint =
        use === 'listen'
          ? 'listen on 0.0.0.0 or [::] for every address, or on an address of this machine'
          : `give the server's own address, e.g. ${example}`;
      if (problem) ctx.addIssue({ code: 'custom', message: `${problem}; ${hint}`, abort: true });
    })
    .refine(
      (v) => {
        const port = Number(v.slice(v.lastIndexOf(':') + 1));
        return port >= (use === 'listen' ? 0 : 1) && port <= 65535;
      },
      use === 'listen' ? 'port must be 0-65535' : 'port must be 1-65535 (no server listens on port 0)',
    );

const hostPort = hostPortLike('127.0.0.1:2525 or [::1]:2525', 'listen');

/** A listen host (not bracketed): a dotted-quad IPv4 address, or a host name (RFC 1123 §2.1). */
function isListenHost(host: string): boolean {
  return isIP(host) === 4 || isHostName(host);
}

/**
 * The mail host: RFC 5321 §2.3.5 and §4.1.3 take a domain name for EHLO (an address only as a bracketed
 * literal), and §5.1 an MX names a host; an address here would make every record naming it wrong.
 */
const hostName = domainName
  .refine((name) => !isAddressShaped(name), {
    message: 'must be a host name, not an IP address (the name of the mail host, such as mail.example.com)',
    abort: true,
  })
  .refine((name) => name.includes('.'), {
    message: 'expected a fully-qualified host name such as mail.example.com (RFC 5321 §2.3.5), not a single label',
  });

/**
 * An MTA-STS mx pattern (RFC 8461 §3.2): a host name as `hostname` takes one, or `*.` and such a name,
 * the wildcard standing for exactly one label (§4.1: `*.example.com` matches `mx1.example.com`, not
 * `a.b.example.com` or `example.com`). Kept as senders compare it: lower case, A-labels.
 */
const mxPattern = z.string().transform((value, ctx) => {
  const wildcard = value.startsWith('*.');
  const parsed = hostName.safeParse(wildcard ? value.slice(2) : value);
  if (!parsed.success) {
    const why = parsed.error.issues[0]?.message ?? 'expected a host name such as mail.example.com';
    const message = wildcard
      ? `after "*." a wildcard needs its parent domain, such as *.example.com: ${why}`
      : `${why}, or a "*." wildcard for one label, such as *.example.com (RFC 8461 §3.2)`;
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  }
  return wildcard ? `*.${parsed.data}` : parsed.data;
});

/** Milliseconds for a Node.js timer, which cannot wait longer than 2^31 - 1 ms (about 24.8 days): past that it fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const duration = z.number().int().positive().max(MAX_TIMER_MS, 'at most 2147483647 ms (24.8 days)');

/**
 * An address or CIDR network as Postfix's mynetworks writes one (`192.0.2.0/24`, `[2001:db8::]/32`),
 * checked here so that every command, not only `serve`, refuses a bad one (src/policy/cidr.ts parses it).
 */
const NETWORK = /^\[?([^\][/%\s]+)\]?(?:\/(\d{1,3}))?$/;
const network = z.string().refine((value) => {
  const match = NETWORK.exec(value);
  const version = match ? isIP(match[1] ?? '') : 0;
  if (!match || version === 0) return false;
  return match[2] === undefined || Number(match[2]) <= (version === 4 ? 32 : 128);
}, 'expected an IP address or network such as 192.0.2.0/24 or 2001:db8::/32');

/**
 * A mynetworks entry so wide that it trusts much of the Internet (0.0.0.0/0, ::/0, 0.0.0.0/1 …):
 * such a server relays for anyone there, which the mission's "never an open relay" rules out.
 */
function tooWideToTrust(value: string): boolean {
  const match = NETWORK.exec(value);
  if (!match?.[2]) return false;
  const [address, prefix] = [match[1] ?? '', Number(match[2])];
  if (isIP(address) === 4) return prefix < 8;
  // A network inside ::ffff:0:0/96 is matched as IPv4 (src/policy/cidr.ts): ::ffff:0:0/96 is 0.0.0.0/0.
  if (prefix >= 96 && ipv4Mapped(address) !== undefined) return prefix - 96 < 8;
  return prefix < 16;
}

/** `host:port` where the host is an IP address: a DNS server is asked by address (the resolver takes no names). */
const ipPort = hostPortLike('127.0.0.1:53 or [::1]:53', 'connect').refine((value) => {
  const host = value.slice(0, value.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  return isIP(host) !== 0;
}, 'expected an IP address and port, e.g. 127.0.0.1:53 or [::1]:53');

/**
 * The domain of each mailto: URI of a report address list as its A-labels: a URI holds no raw non-ASCII
 * (RFC 3986 §2, RFC 6068 §2), and receivers mail reports to, and look up the authorization record
 * (RFC 7489 §7.1) under, the name DNS carries. The local part is kept as written.
 */
function mailtoDomainsAsALabels(rua: string, ctx: z.RefinementCtx): string {
  return rua.replace(/(mailto:[^\s,@;"\\]+@)([^\s,@!;"\\]+)/gi, (uri, mailbox: string, domain: string) => {
    if (!/[^\x00-\x7f]/.test(domain)) return uri; // ASCII: as written, as before
    const ascii = asciiName(domain)?.toLowerCase();
    if (ascii === undefined || !DNS_NAME.test(ascii)) {
      ctx.addIssue({ code: 'custom', message: `${uri}: "${domain}" is not a domain name (IDNA, RFC 5891 §4)` });
      return uri;
    }
    return mailbox + ascii;
  });
}

/** An https URL written into a DNS tag list (BIMI l=, a=): no ";", quote or space to end the tag early. */
const recordUrl = z
  // The BIMI draft's Assertion Record Definition (§4.2): HTTPS is the only transport for l= and a=.
  .url({
    protocol: /^https$/,
    message: 'expected an https:// URL: BIMI (draft §4.2) allows no other scheme, http:// included',
  })
  .refine((url) => !/[;"\\\s]/.test(url), { message: 'expected an https URL without ";", quotes or spaces' });

const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\/[^\s]+$/, {
    message: 'expected a PostgreSQL URL such as postgres://postern@db.example.com/postern',
  })
  // Checked here, not at the first connection, and never echoed: it may hold the password.
  .refine((url) => URL.canParse(url), {
    message:
      'not a URL that can be read (a bracket, "%" or "@" in the password must be percent-encoded); expected e.g. postgres://postern@db.example.com/postern',
  })
  // An "@" after the host: the password held a "/", "?" or "#" (read as the path's start), and the URL
  // names another host than meant (`postgres://u:5432/x@db/postern` is host "u", port 5432).
  .refine(
    (url) => {
      const parsed = URL.parse(url);
      return parsed === null || !`${parsed.pathname}${parsed.search}${parsed.hash}`.includes('@');
    },
    {
      message:
        'has an "@" after the host: a "/", "?" or "#" in the password must be percent-encoded (%2F, %3F, %23); expected e.g. postgres://postern:pa%2Fss@db.example.com/postern',
    },
  );

/**
 * Where mail and accounts live. SQLite (a file in dataDir) is the default and needs nothing;
 * PostgreSQL lets several nodes share one database (docs/scaling.md). A password can stay out of
 * this file: the driver also reads PGPASSWORD and ~/.pgpass.
 */
/**
 * An account's address, as a login names it. zod's email() refused addresses accounts have: any in an
 * IDN top-level domain (relay@xn--e1afmkfd.xn--p1ai), U-labels, quoted local parts, "!" and the like.
 * The form accounts are stored under (src/accounts/address.ts, which config may not import: accounts
 * reads the store, which reads config) is taken where the list is used (src/server/server.ts).
 */
const accountAddress = z.string().superRefine((value, ctx) => {
  const at = value.lastIndexOf('@');
  const domain = asciiName(value.slice(at + 1))?.toLowerCase();
  if (at < 1 || domain === undefined || !DNS_NAME.test(domain)) {
    ctx.addIssue({ code: 'custom', message: "expected an account's address, local-part@domain" });
  }
});

const storeSchema = z.discriminatedUnion('engine', [
  z.object({ engine: z.literal('sqlite') }).strict(),
  z
    .object({
      engine: z.literal('postgres'),
      url: postgresUrl,
      /** Connections per node; each node opens one more to listen for changes. */
      poolSize: z.number().int().min(2).max(500).default(10),
    })
    .strict(),
]);

/**
 * The OS host name; an unqualified one gets ".localdomain", as Postfix does for myhostname, so the
 * default local domain is a valid mail domain. `serve` warns when the name came from here.
 */
export function defaultHostname(osName: string = os.hostname()): string {
  const name = osName.toLowerCase();
  return name.includes('.') ? name : `${name}.localdomain`;
}

/** The RFC 5952 §4 text form of an IPv6 address (lower case, zeros compressed), as the WHATWG URL parser writes it. */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** Why an address cannot be one of this server's public ones (serverAddresses, quickstart --address). */
export function serverAddressProblem(value: string): string | undefined {
  if (isIP(value) === 0) return 'expected an IP address such as 203.0.113.25';
  // RFC 4007 §11: a zone ID names an interface of this host; no other host can reach it by it.
  if (value.includes('%')) return 'a zone ID (%…) is local to this host: give the public address, without it';
  // RFC 4291 §2.5.5.2: an IPv4-mapped address (in any spelling) is an IPv4 address; as AAAA it means nothing.
  if (ipv4Mapped(value) !== undefined) {
    return 'an IPv4-mapped address: write the IPv4 address itself (it is published as an A record)';
  }
  // RFC 6890: the unspecified address names no host, and a multicast group is no mail server.
  const family = isIP(value) === 6 ? 'ipv6' : 'ipv4';
  if (UNSPECIFIED.check(value, family) || MULTICAST.check(value, family)) {
    return 'the unspecified address or a multicast group names no host: give the address mail reaches this server at';
  }
  return undefined;
}

const UNSPECIFIED = new BlockList();
UNSPECIFIED.addAddress('0.0.0.0');
UNSPECIFIED.addAddress('::', 'ipv6');

/**
 * A restriction: Postfix's string form ("warn_if_reject reject_rbl_client zen.example.org") or an object.
 * The access map a rule reads is a file path: a control character in it makes the read throw at start
 * (Node refuses a NUL in a path). In the string form white space separates the words, so only the
 * control characters that are not white space are refused there.
 */
const ruleEntry = z
  .union([z.string().min(1), z.object({ rule: z.string().min(1) }).catchall(z.unknown())])
  .superRefine((entry, ctx) => {
    if (typeof entry === 'string') {
      const at = entry.search(/[\u0000-\u0008\u000e-\u001f\u007f]/);
      if (at >= 0) ctx.addIssue({ code: 'custom', message: controlCharacterMessage(entry, at) });
    } else if (typeof entry.file === 'string') {
      const problem = pathProblem(entry.file, 'a file', '/etc/postern/access');
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['file'] });
    }
  });
const ruleList = z.array(ruleEntry);

export const configSchema = z
  .object({
    // prefault, not default: the OS name goes through the same check as a configured one (an underscore,
    // an address) and an unusable one stops the start naming the key, as Postfix refuses a bad myhostname.
    hostname: hostName.prefault(() => defaultHostname()),
    // A domain listed twice (or in two cases) is one domain.
    domains: z
      .array(mailDomain)
      .default([])
      .transform((domains) => [...new Set(domains)]),
    // One check, one message: "" was both "too small" and "only white space". serve makes this directory
    // (recursively) as written, so a slip here (" /x", "~/data") silently kept the mail somewhere else.
    dataDir: filePath('a directory', '/var/lib/postern').default('./data'),
    // engine defaults to sqlite inside the section too, as the README says: `store: {}` is SQLite.
    store: z
      .preprocess(
        (value) =>
          value !== null && typeof value === 'object' && !Array.isArray(value) && !('engine' in value)
            ? { engine: 'sqlite', ...value }
            : value,
        storeSchema,
      )
      .default({ engine: 'sqlite' }),
    /** Clients that may relay without authenticating (Postfix mynetworks): empty, none may. */
    mynetworks: z
      .array(
        network.refine((value) => !tooWideToTrust(value), {
          message:
            'a network this wide (shorter than /8 for IPv4, /16 for IPv6) would let much of the Internet relay through this server: an open relay; list the networks of your own hosts',
        }),
      )
      .default([]),
    /** This server's own public addresses, so a HELO that claims them from outside is refused. */
    serverAddresses: z
      .array(
        z
          .string()
          .superRefine((value, ctx) => {
            const problem = serverAddressProblem(value);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          // RFC 5952 §4: one text form per IPv6 address ("2001:DB8:0:0::1" is 2001:db8::1), so the AAAA
          // and ip6: records printed from it read as dns check and every log write the address.
          .transform((value) => (isIPv6(value) && !value.includes('%') ? canonicalIpv6(value) : value)),
      )
      .default([]),
    /** Postfix's smtpd_*_restrictions, per stage; an absent list takes the secure default (docs/restrictions.md). */
    restrictions: z
      .object({
        client: ruleList.optional(),
        helo: ruleList.optional(),
        sender: ruleList.optional(),
        recipient: ruleList.optional(),
        relay: ruleList.optional(),
        data: ruleList.optional(),
      })
      .strict()
      .prefault({}),
    /** Per-client limits, as Postfix's anvil enforces them; 0 is unlimited. */
    limits: z
      .object({
        maxConnectionsPerClient: z.number().int().min(0).default(50),
        connectionsPerMinute: z.number().int().min(0).default(0),
        messagesPerMinute: z.number().int().min(0).default(0),
        recipientsPerMinute: z.number().int().min(0).default(0),
        vrfyPerMinute: z.number().int().min(0).default(10),
        /** Clients the limits never apply to; mynetworks when absent. */
        exceptions: z.array(network).optional(),
        /**
         * The IPv6 network counted as one client by these limits, the tarpit and login blocking: 64 (RFC
         * 6177 §2, one host's usual share), 48 to count a whole site as one (stricter against a client
         * with a /48), up to 128 where one /64 is shared by many customers' hosts.
         */
        ipv6Prefix: z.number().int().min(32).max(128).default(64),
      })
      .strict()
      .prefault({}),
    /** Replies to a client that keeps getting rejected wait longer and longer. */
    tarpit: z
      .object({
        enabled: z.boolean().default(true),
        threshold: z.number().int().min(1).default(5),
        windowMs: duration.default(600_000),
        // RFC 5321 §4.5.3.2: a client waits 5 minutes for most replies, 2 for DATA's: a delay must stay
        // well under that, or the client times out instead of hearing the refusal (and keeps its slot).
        stepMs: z
          .number()
          .int()
          .min(0)
          .max(60_000, 'at most 60000 ms (RFC 5321 §4.5.3.2 reply timeouts)')
          .default(1000),
        maxMs: z
          .number()
          .int()
          .min(0)
          .max(60_000, 'at most 60000 ms (RFC 5321 §4.5.3.2 reply timeouts)')
          .default(10_000),
      })
      .strict()
      .prefault({}),
    /** Greylisting (off by default): unknown (client, sender, recipient) triplets are deferred once. */
    greylisting: z
      .object({
        enabled: z.boolean().default(false),
        delaySeconds: z.number().int().min(1).max(604_800, 'at most 604800 (7 days)').default(300),
        retryWindowHours: z.number().int().min(1).max(8760, 'at most 8760 (a year)').default(24),
        expireDays: z.number().int().min(1).max(3650, 'at most 3650 (ten years)').default(35),
        /** Counted passes after which a client is not greylisted any more; 0: never (every new triplet waits). */
        autoPassAfter: z.number().int().min(0).default(5),
        /** Triplets kept that never passed; a flood of new senders drops the oldest; 0: no bound. */
        maxPendingTriplets: z.number().int().min(0).default(100_000),
      })
      .strict()
      .prefault({}),
    /**
     * Sender authentication of incoming mail (docs/authentication.md): SPF, DKIM, ARC and DMARC,
     * results in an Authentication-Results header, DMARC policies enforced. Mail from logged-in
     * users and from mynetworks is not checked.
     */
    authentication: z
      .object({
        /** false turns every check off (and no Authentication-Results header is added). */
        enabled: z.boolean().default(true),
        /** RFC 8601 §2.5: the name in our Authentication-Results headers; the hostname when absent. */
        authservId: domainName.optional(),
        spf: z
          .object({
            /**
             * An SPF fail: `dmarc` leaves the decision to DMARC (RFC 7489 §10.1: rejecting on SPF alone
             * breaks forwarding that DMARC would rescue through DKIM), `reject` answers 550 5.7.23 at
             * MAIL FROM (RFC 7208 §8.4), `mark` leaves it to DMARC and writes Received-SPF (§9.1).
             */
            onFail: z.enum(['dmarc', 'reject', 'mark']).default('dmarc'),
          })
          .strict()
          .prefault({}),
        dmarc: z
          .object({
            /** Apply the sender's p=reject (550 5.7.1) and p=quarantine (Junk); false only records. */
            enforce: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        /** ARC sealers (d= of ARC-Seal) whose recorded results may override a DMARC fail: known forwarders. */
        trustedArcSealers: z.array(domainName).default([]),
        /** Author (From) domains whose DMARC failures are recorded but never acted on. */
        allowlist: z.array(domainName).default([]),
        /** How long an SPF result for one (client IP, domain) is reused, at most its records' TTL; 0: no cache. */
        cacheSeconds: z.number().int().min(0).max(3600).default(300),
      })
      .strict()
      .prefault({}),
    /** Header/body rules, milters and the phishing detector (docs/content-protection.md). */
    filter: filterSchema,
    /** What `postern dns records` tells the admin to publish, and `postern dns check` expects (docs/domain-setup.md). */
    publish: z
      .object({
        /** Other hosts that send for our domains, as SPF terms: `include:_spf.example.net`, `ip4:203.0.113.0/24`. */
        spfInclude: z
          .array(
            z
              .string()
              .regex(/^\S+$/, { message: 'one SPF term without spaces, e.g. include:_spf.example.net' })
              // The record ends in -all itself: an "all" given here would hide it (RFC 7208 §5.1), a "v=spf1" break it.
              .refine((term) => !/^[-~?+]?all$/i.test(term) && !/^v=spf1$/i.test(term), {
                message: 'give only the extra terms; "v=spf1", "mx" and "-all" are added',
              }),
          )
          .default([]),
        /** The DMARC policy to publish; start at none, then quarantine, then reject (RFC 7489 §6.3). */
        dmarcPolicy: z.enum(['none', 'quarantine', 'reject']).default('none'),
        /** DMARC aggregate reports (rua); mailto:dmarc-reports@<domain> when absent. */
        dmarcRua: z
          .string()
          // RFC 7489 §6.4: comma-separated DMARC URIs; reports are mail, so mailto: ones, with an optional !size.
          .regex(
            // No ";" or quote: the value goes into a tag list and a TXT string, where either would end it.
            /^\s*mailto:[^\s,@;"\\]+@[^\s,@!;"\\]+(![0-9]+[kmgt]?)?(\s*,\s*mailto:[^\s,@;"\\]+@[^\s,@!;"\\]+(![0-9]+[kmgt]?)?)*\s*$/i,
            {
              message: 'expected mailto: addresses, comma-separated, e.g. mailto:dmarc-reports@example.com',
            },
          )
          .transform(mailtoDomainsAsALabels)
          .optional(),
        /** TLS reports (RFC 8460 rua); mailto:tls-reports@<domain> when absent. */
        tlsRptRua: z
          .string()
          // RFC 8460 §3: comma-separated mailto: or https: URIs.
          .regex(
            /^\s*(mailto:[^\s,@;"\\]+@[^\s,@;"\\]+|https:\/\/[^\s,;"\\]+)(\s*,\s*(mailto:[^\s,@;"\\]+@[^\s,@;"\\]+|https:\/\/[^\s,;"\\]+))*\s*$/i,
            {
              message: 'expected mailto: or https: URIs, comma-separated, e.g. mailto:tls-reports@example.com',
            },
          )
          // Published as written: white space at the end would follow the last URI, where RFC 8460 §3 has none.
          .transform((rua) =>
            rua
              .trim()
              .split(/\s*,\s*/)
              .join(','),
          )
          .transform(mailtoDomainsAsALabels)
          .optional(),
        /** BIMI: the SVG Tiny PS logo and, optionally, the VMC (https URLs). */
        bimi: z.object({ logo: recordUrl, authority: recordUrl.optional() }).strict().optional(),
        /** CAA issuers (RFC 8659); the ACME CA when tls.acme is set, else letsencrypt.org. */
        caaIssuers: z.array(domainName).optional(),
      })
      .strict()
      .prefault({}),
    /** MTA-STS (RFC 8461): the policy published for our domains, and the HTTPS listener that serves it. */
    mtaSts: z
      .object({
        mode: z.enum(['none', 'testing', 'enforce']).default('testing'),
        /** RFC 8461 §3.2 max_age; weeks are recommended once the policy is stable. */
        maxAgeSeconds: z.number().int().min(86_400).max(31_557_600).default(604_800),
        /** host:port answering https://mta-sts.<domain>/.well-known/mta-sts.txt (443 as seen from outside); null: off. */
        listen: hostPort.nullable().default(null),
        /**
         * The policy's mx patterns: every MX host of our domains, or `*.parent` wildcards; absent: the
         * hostname. RFC 8461 §4.1: under enforce, senders refuse an MX host no pattern matches, so nodes
         * behind MX records of equal priority must all be listed, the same on every node.
         */
        mx: z
          .array(mxPattern)
          .min(1, 'list at least one MX host (mx: [mail.example.com]), or leave mtaSts.mx out for the hostname')
          .transform((patterns) => [...new Set(patterns)])
          .optional(),
      })
      .strict()
      .prefault({}),
    /** DKIM signing keys: rotation (`postern dkim rotate`) and the periodic DNS checks of `serve`. */
    dkim: z
      .object({
        /** A key replaced by a rotation keeps its DNS record this long, for mail still in transit. */
        // A key retires within ten years at most: past that the date cannot be reckoned (a RangeError
        // left the old key "retiring" for ever), and no mail stays in transit so long.
        retireAfterDays: z.number().int().min(1).max(3650).default(7),
      })
      .strict()
      .prefault({}),
    /** `postern serve` runs `dns check` for each domain this often and logs what changed; 0: never. */
    // A Node.js timer waits 2^31 - 1 ms at most (35,791 minutes); a longer interval would run back to back.
    dnsCheckIntervalMinutes: z.number().int().min(0).max(35_791).default(360),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** `auto`: text lines at a terminal, JSON (one object per line) anywhere else. */
        format: z.enum(['auto', 'json', 'text']).default('auto'),
      })
      .strict()
      .prefault({}),
    dns: z
      .object({
        /** Empty: the system's resolvers. Tests point this at a loopback server. */
        servers: z.array(ipPort).default([]),
        timeoutMs: duration.default(3000),
        tries: z.number().int().min(1).max(5).default(2),
      })
      .strict()
      .prefault({}),
    listen: z
      .object({
        smtp: hostPort.default('127.0.0.1:2525'),
        /** Message submission with STARTTLS (RFC 6409; port 587 in production); null turns it off. */
        submission: hostPort.nullable().default('127.0.0.1:5587'),
        /** Message submission over implicit TLS (RFC 8314 §3.3; port 465 in production); null turns it off. */
        submissions: hostPort.nullable().default('127.0.0.1:5465'),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        /** PEM files, reloaded when they change; SNI picks by name; the default is the one naming `hostname`, else the first (docs/tls.md). */
        certificates: z
          .array(
            z
              .object({
                cert: filePath('a PEM file', '/etc/postern/tls/cert.pem'),
                key: filePath('a PEM file', '/etc/postern/tls/key.pem'),
              })
              .strict(),
          )
          .default([]),
        /** With no certificate configured, generate a self-signed one for the hostname (development). */
        selfSigned: z.boolean().default(true),
        /** Forced TLS on the MX listener: MAIL before STARTTLS gets 530 5.7.0 (RFC 3207 §4). */
        requireOnSmtp: z.boolean().default(false),
        /** Certificates obtained and renewed automatically (RFC 8555), e.g. from Let's Encrypt. */
        acme: z
          .object({
            /** The CA's directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory */
            directory: z.url({
              protocol: /^https$/,
              message: "expected the https URL of the CA's directory (RFC 8555 §7.1.1)",
            }),
            email: z.email().optional(),
            /**
             * The CA's terms must be accepted explicitly: nothing is ordered until this is true. RFC 8555 §7.3:
             * the client indicates agreement with true; §7.1.1: the directory's meta.termsOfService names them.
             */
            termsOfServiceAgreed: z.literal(true, {
              message:
                "read the CA's terms of service (its directory links them as meta.termsOfService; Let's Encrypt's are at " +
                'https://letsencrypt.org/repository/), then set termsOfServiceAgreed: true to agree to them; ' +
                'no certificate is ordered until then',
            }),
            /** Names to obtain certificates for; the hostname when absent. */
            hostnames: z.array(domainName).optional(),
            keyType: z.enum(['ecdsa-p256', 'rsa-2048']).default('ecdsa-p256'),
            /** http-01 (RFC 8555 §8.3): a responder on this host:port (port 80 as seen from the CA). */
            http01: z.object({ listen: hostPort }).strict().optional(),
            /** tls-alpn-01 (RFC 8737): a responder on this host:port (port 443 as seen from the CA). */
            tlsAlpn01: z.object({ listen: hostPort }).strict().optional(),
            /** Renew when fewer days remain; by default min(30, a third of the lifetime). */
            renewBeforeDays: z.number().int().min(1).max(3650, 'at most 3650 (ten years)').optional(),
            /** Extra CA certificates (a PEM file) to trust for the directory, for a private CA. */
            directoryCa: filePath('a PEM file', '/etc/postern/acme-ca.pem', { emptyIsUnset: true }).optional(),
          })
          .strict()
          .refine((acme) => acme.http01 || acme.tlsAlpn01, 'enable http01 or tlsAlpn01 (or both) with a listen address')
          .optional(),
      })
      .strict()
      .prefault({}),
    /** SASL logins on the submission listeners: brute-force protection shared by all nodes. */
    auth: z
      .object({
        /** Failures from one client address within the window that block it for blockMinutes. */
        maxFailuresPerClient: z.number().int().min(1).default(10),
        // Bounded so that the times they give stay valid dates: a "block for ever" of 999999999999
        // minutes made every failure a store error (454) and blocked no one.
        failureWindowMinutes: z.number().int().min(1).max(525_600, 'at most 525600 (a year)').default(15),
        blockMinutes: z.number().int().min(1).max(525_600, 'at most 525600 (a year)').default(15),
        /** Each failed login waits this long before its 535, and longer as an account collects failures. */
        failureDelayMs: z.number().int().min(0).max(10_000).default(1000),
        /**
         * Logins of servers of ours that relay their bounces through Postern (a Postfix with relayhost
         * and SASL): their null-sender mail may come From MAILER-DAEMON or postmaster at one of our
         * domains. Nobody else's: any user could otherwise send as the postmaster.
         */
        bounceRelays: z.array(accountAddress).default([]),
        /**
         * Client networks never blocked for failed logins (an office's NAT address, where one phone
         * with an old password would lock every colleague out); their failures still slow each account.
         */
        exceptions: z.array(network).default([]),
        /**
         * PBKDF2 iterations of the SCRAM-SHA-256 credentials `user add` and `user passwd` store (RFC
         * 7677 §4: at least 4096). A stolen store is attacked through them as through the Argon2id
         * hash; more make each guess dearer, and each SCRAM login too, on the client's side.
         */
        scramIterations: z.number().int().min(4096).max(10_000_000).default(4096),
      })
      .strict()
      .prefault({}),
    smtp: z
      .object({
        /** RFC 1870 SIZE: the largest message accepted, in octets. */
        maxMessageSize: z
          .number()
          .int()
          .min(1024)
          .default(25 * 1024 * 1024),
        /**
         * Message content all sessions may hold in memory at once (src/smtp/content-budget.ts); past
         * it, 452 4.3.1. One client (limits.exceptions aside) may hold a quarter of it, or one message of
         * maxMessageSize if that is more. Unset: a sixteenth of the machine's memory, at most 512 MiB, at
         * least maxMessageSize.
         */
        maxContentInMemory: z.number().int().min(1024).optional(),
        /** RFC 5321 §4.5.3.1.8 requires at least 100. */
        maxRecipients: z.number().int().min(1).default(100),
        maxConnections: z.number().int().min(1).default(1000),
        /** Commands allowed in a session before the first MAIL (guards against dictionary probing). */
        maxCommandsBeforeMail: z.number().int().min(1).default(50),
        /** Errors (replies ≥ 400 to the client's fault) before the session is closed with 421. */
        maxErrors: z.number().int().min(1).default(20),
        /** RFC 5321 §4.5.3.2.7: the server timeout waiting for the next command, 5 minutes at least. */
        idleTimeoutMs: duration.default(300_000),
        /** RFC 5321 §4.5.3.2.5: a data block must arrive within 3 minutes (we allow the same per chunk). */
        dataTimeoutMs: duration.default(180_000),
        /**
         * Postfix's smtpd_min_data_rate, in octets a second: a message's content (DATA, or BDAT chunks to
         * LAST) must arrive within dataTimeoutMs plus its size at this rate, or 421 4.4.2 closes the
         * connection and the message is dropped. 0 turns it off (dataTimeoutMs then bounds each read only).
         */
        minDataRate: z.number().int().min(0).default(500),
        /** A TLS handshake (implicit TLS or after STARTTLS) must end within this, as Postfix's smtpd_starttls_timeout. */
        tlsHandshakeTimeoutMs: duration.default(30_000),
        /**
         * Postfix's stress mode: from 80 % of maxConnections on a listener (until below 60 %), idle, data
         * and TLS handshake timeouts drop to this, and bound a whole command line, or 1 KiB of content,
         * not the silence between two reads (Postfix's smtpd_per_record_deadline). 0 turns it off.
         */
        stressTimeoutMs: z.number().int().min(0).max(MAX_TIMER_MS).default(10_000),
        /** Bare CR or LF (the SMTP-smuggling class, CVE-2023-51764): reject the message, or normalize. */
        bareLineEndings: z.enum(['reject', 'normalize']).default('reject'),
        /** VRFY (RFC 5321 §3.5.3): off answers 502; ambiguous 252 to all; on 250/252/550, rate-limited. */
        vrfy: z.enum(['off', 'ambiguous', 'on']).default('off'),
        /** Wait before the greeting; a client that talks meanwhile is a pregreet (reject_pregreet). */
        greetDelayMs: z.number().int().min(0).max(30_000).default(0),
        /** Postfix smtpd_soft_error_limit / smtpd_error_sleep_time: past the limit, errors cost time. */
        softErrorLimit: z.number().int().min(1).default(10),
        errorSleepMs: z.number().int().min(0).max(30_000).default(1000),
        /** Time to let transactions in flight finish on shutdown. */
        shutdownGraceMs: duration.default(10_000),
      })
      .strict()
      .refine((smtp) => smtp.maxContentInMemory === undefined || smtp.maxContentInMemory >= smtp.maxMessageSize, {
        message: 'must be at least smtp.maxMessageSize, or no message of the largest size could ever be taken',
        path: ['maxContentInMemory'],
      })
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type StoreConfig = Config['store'];
