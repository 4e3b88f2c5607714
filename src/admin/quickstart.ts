/**
 * `postern quickstart <domain>`, as Mox's quickstart: the commented configuration of a new mail domain.
 * The command (src/cli/commands/quickstart.ts) writes it, creates the first account and the DKIM keys,
 * and prints the DNS records; this module only renders the file, so it can be tested as text.
 */

export interface QuickstartSettings {
  domain: string;
  /** The mail host's name: the MX target, the EHLO name, the certificate's name. */
  hostname: string;
  /** Absolute path of the data directory. */
  dataDir: string;
  /** This server's public addresses, when known (A/AAAA, SPF, PTR). */
  addresses: string[];
  /** Where ACME should register (the admin's address); the postmaster account when absent. */
  email: string;
}

/** The configuration file, with a comment on every choice an admin may want to revisit. */
export function quickstartConfig(s: QuickstartSettings): string {
  const addresses = s.addresses.length > 0 ? `[${s.addresses.map((a) => JSON.stringify(a)).join(', ')}]` : '[]';
  // An IPv6 address is published as AAAA: something must listen there. "[::]" takes IPv4 as well
  // (Linux's dual-stack sockets); "0.0.0.0" alone would leave the AAAA pointing at nothing.
  const any = s.addresses.some((a) => a.includes(':')) ? '"[::]' : '0.0.0.0';
  const at = (port: number) => (any === '0.0.0.0' ? `${any}:${port}` : `${any}:${port}"`);
  return `# Postern configuration for ${s.domain}, written by \`postern quickstart\`.
# Every key is described in README.md (configuration reference). After every change, check it with
# \`postern check --config FILE\` before restarting; \`postern dns check ${s.domain}\` checks DNS and the server.

# The mail host: the MX target, the name in EHLO and Received, the name on the TLS certificate.
# Its A/AAAA record and the PTR of each address (set at your hosting provider) must name it.
hostname: ${s.hostname}
domains: [${s.domain}]
dataDir: ${JSON.stringify(s.dataDir)}

# This server's public IP addresses: they go into the A/AAAA, SPF and PTR records \`postern dns records\` prints.
serverAddresses: ${addresses}

listen:
  smtp: ${at(25)}          # MX: mail from the internet (binding port 25 needs root or CAP_NET_BIND_SERVICE)
  submission: ${at(587)}   # your users' mail programs, STARTTLS (RFC 6409)
  submissions: ${at(465)}  # the same over implicit TLS (RFC 8314)

tls:
  # Until a real certificate is configured, a self-signed one is used: mail servers still deliver to you
  # (opportunistic TLS), but mail programs warn and MTA-STS cannot be enforced. Get one from Let's Encrypt:
  # uncomment, read the CA's terms, and set termsOfServiceAgreed: true (port 80 must reach this host).
  # acme:
  #   directory: https://acme-v02.api.letsencrypt.org/directory
  #   email: ${s.email}
  #   termsOfServiceAgreed: false  # true once you have read the terms and accept them
  #   hostnames: [${s.hostname}]  # add mta-sts.${s.domain} once its DNS record is published (mtaSts below)
  #   http01: { listen: ${at(80)} }
  selfSigned: true

# What the DNS records ask of other servers. Start DMARC at none, read the reports for a few weeks,
# then go to quarantine and reject (docs/domain-setup.md).
publish:
  dmarcPolicy: none
  dmarcRua: mailto:postmaster@${s.domain}
  tlsRptRua: mailto:postmaster@${s.domain}

# MTA-STS (RFC 8461): start in testing mode; enforce once TLS reports show no failures.
# The policy is served at https://mta-sts.${s.domain}/.well-known/mta-sts.txt when listen is set
# (port 443 as seen from outside) and the certificate covers mta-sts.${s.domain}: publish its record,
# then add the name to tls.acme.hostnames (ordered before DNS has it, it only fails and is retried).
mtaSts:
  mode: testing
  listen: null

# Incoming mail is checked with SPF, DKIM, ARC and DMARC, and the senders' DMARC policies are applied
# (docs/authentication.md). Secure defaults: no open relay, AUTH only over TLS, VRFY off.

# Mail from outside is scored for phishing (docs/content-protection.md): lookalikes of ${s.domain} are
# always suspicious. Name your executives so mail with their name from other addresses stands out.
filter:
  phishing:
    banner: { language: both }    # the warning at the top of suspicious mail: ru, en or both
    # people:
    #   - names: [Ivan Petrov, Иван Петров]
    #     addresses: [i.petrov@${s.domain}]
    # partnerDomains: [partner.example]
`;
}

/** A password of 20 letters and digits (about 117 bits) without the look-alikes I, O, l, 0 and 1. */
export function generatePassword(random: (size: number) => Buffer): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  let out = '';
  while (out.length < 20) {
    for (const byte of random(32)) {
      // Rejection sampling keeps every letter equally likely.
      if (byte < 256 - (256 % alphabet.length) && out.length < 20) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}
