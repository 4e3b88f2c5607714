/**
 * URL shorteners (they hide where a link goes) and link wrappers: mail-security "safe links", open
 * redirectors of big sites and bulk-mail click trackers. A wrapper is not suspicious in itself (many
 * organisations rewrite every link; rspamd users see false positives when redirectors are scored), so
 * where the target is in the URL it is unwrapped and judged instead; where it is not (Mimecast, click
 * trackers), there is nothing to judge and the link is left alone. A wrapper is known by its exact host or
 * whole domain, never by a prefix or suffix of the name anyone could register.
 */
import { getDomain } from 'tldts';

/** Hosts of public URL shorteners. */
const shorteners = new Set([
  'bit.ly',
  'bitly.com',
  'bit.do',
  'tinyurl.com',
  't.co',
  'goo.gl',
  'is.gd',
  'v.gd',
  'ow.ly',
  'buff.ly',
  'cutt.ly',
  'rebrand.ly',
  'rb.gy',
  't.ly',
  'tiny.cc',
  'shorturl.at',
  's.id',
  'tr.im',
  'x.co',
  'soo.gd',
  'lnkd.in',
  'shorte.st',
  'adf.ly',
  'urlz.fr',
  'clck.ru',
  'vk.cc',
  'goo.su',
  'u.to',
  'surl.li',
  'qps.ru',
]);

export function isShortener(host: string): boolean {
  return shorteners.has(host.replace(/^www\./, ''));
}

type Wrapper = {
  name: string;
  matches: (url: URL) => boolean;
  /** The wrapped URL; undefined when it cannot be read from the link (an opaque token). */
  target: (url: URL, href: string) => string | undefined;
};

const param = (name: string) => (url: URL) => url.searchParams.get(name) ?? undefined;
const hostIs = (host: string, path?: string) => (url: URL) =>
  url.hostname === host && (path === undefined || url.pathname === path);
/** The domain itself or a name under it: whole labels, so `evilrs6.net` is not under `rs6.net`. */
const hostUnder = (domain: string) => (url: URL) => url.hostname === domain || url.hostname.endsWith(`.${domain}`);

/**
 * Google's own search domains: google.com and google.<country code>, also under the country's second level
 * (google.co.uk, google.com.au), as https://www.google.com/supported_domains lists them. The name must be
 * the registrable domain (Public Suffix List), so neither google.attacker.net nor google.co.de (a name
 * under co.de, someone else's domain) passes for Google.
 */
function isGoogleSearch(host: string): boolean {
  const bare = host.startsWith('www.') ? host.slice(4) : host;
  return /^google\.(?:com|cat|[a-z]{2}|com?\.[a-z]{2})$/.test(bare) && getDomain(bare) === bare;
}

/** Proofpoint URL Defense v2: `u=https-3A__example.com_path` ('-' for '%', '_' for '/'). */
function proofpointV2(url: URL): string | undefined {
  const u = url.searchParams.get('u');
  if (!u) return undefined;
  try {
    return decodeURIComponent(u.replaceAll('-', '%').replaceAll('_', '/'));
  } catch {
    return undefined;
  }
}

/** Proofpoint URL Defense v3: `/v3/__https://example.com/path__;!!token`. */
function proofpointV3(_url: URL, href: string): string | undefined {
  // Two searches, not a lazy regex: that one restarts at every '/v3/__' and costs quadratic time.
  const start = href.indexOf('/v3/__');
  const end = start < 0 ? -1 : href.indexOf('__;', start + 6);
  return end > start + 6 ? href.slice(start + 6, end) : undefined;
}

/** Sophos Email: the target is base64 in `u`. */
function sophos(url: URL): string | undefined {
  const u = url.searchParams.get('u');
  return u ? Buffer.from(u, 'base64').toString('utf8') : undefined;
}

const opaque = () => undefined;

const wrappers: Wrapper[] = [
  { name: 'Microsoft Safe Links', matches: hostUnder('safelinks.protection.outlook.com'), target: param('url') },
  { name: 'Proofpoint', matches: hostIs('urldefense.proofpoint.com', '/v2/url'), target: proofpointV2 },
  { name: 'Proofpoint', matches: hostIs('urldefense.proofpoint.com', '/v1/url'), target: param('u') },
  {
    name: 'Proofpoint',
    matches: (u) => u.hostname === 'urldefense.com' && u.pathname.startsWith('/v3/__'),
    target: proofpointV3,
  },
  { name: 'Barracuda', matches: hostIs('linkprotect.cudasvc.com', '/url'), target: param('a') },
  {
    name: 'Trend Micro',
    matches: (u) => hostUnder('trendmicro.com')(u) && u.pathname.includes('/clicktime/'),
    target: param('url'),
  },
  { name: 'Sophos', matches: hostUnder('protection.sophos.com'), target: sophos },
  {
    name: 'Mimecast',
    matches: (u) => /(^|\.)mimecast(protect)?\.com$/.test(u.hostname) && u.pathname.startsWith('/s/'),
    target: opaque,
  },
  {
    name: 'Google',
    matches: (u) => isGoogleSearch(u.hostname) && u.pathname === '/url',
    target: (u) => u.searchParams.get('q') ?? u.searchParams.get('url') ?? undefined,
  },
  { name: 'YouTube', matches: hostIs('www.youtube.com', '/redirect'), target: param('q') },
  {
    name: 'Facebook',
    matches: (u) => /^l[m]?\.facebook\.com$/.test(u.hostname) && u.pathname === '/l.php',
    target: param('u'),
  },
  {
    name: 'VK',
    matches: (u) => /^(m\.)?vk\.(com|ru)$/.test(u.hostname) && u.pathname === '/away.php',
    target: param('to'),
  },
  { name: 'LinkedIn', matches: hostIs('www.linkedin.com', '/redir/redirect'), target: param('url') },
  { name: 'Slack', matches: hostIs('slack-redir.net', '/link'), target: param('url') },
  // Bulk-mail click trackers: the target is a token the service looks up. Phishing sent through a hijacked
  // account is judged by its other signals; scoring the tracker would hit every newsletter.
  { name: 'Mailchimp', matches: hostUnder('list-manage.com'), target: opaque },
  { name: 'SendGrid', matches: hostUnder('ct.sendgrid.net'), target: opaque },
  { name: 'Constant Contact', matches: hostUnder('rs6.net'), target: opaque },
  { name: 'Salesforce Marketing Cloud', matches: hostUnder('exacttarget.com'), target: opaque },
  { name: 'HubSpot', matches: hostUnder('hubspotlinks.com'), target: opaque },
  { name: 'Campaign Monitor', matches: hostUnder('createsend1.com'), target: opaque },
];

export type Unwrapped =
  | { kind: 'target'; href: string; via: string[] } // the final link after every wrapper, and the wrappers
  | { kind: 'opaque'; via: string[] }; // a wrapper that hides its target: not judged

/** Follows wrappers (at most four deep) to the link a person finally lands on. */
export function unwrap(href: string, url: URL): Unwrapped {
  const via: string[] = [];
  let current = href;
  let parsed: URL | undefined = url;
  for (let depth = 0; depth < 4 && parsed; depth++) {
    const here: URL = parsed;
    const wrapper = wrappers.find((w) => w.matches(here));
    if (!wrapper) break;
    via.push(`${wrapper.name} (${here.hostname})`);
    const target = wrapper.target(here, current)?.trim();
    if (!target) return { kind: 'opaque', via };
    current = target;
    parsed = URL.canParse(target) ? new URL(target) : undefined;
  }
  return { kind: 'target', href: current, via };
}

/**
 * A click-tracking address (clickthru.example.com/Click?q=…, /mm/Clickthrough/…): newsletters send every
 * link through one, so its host differs from the link text without any deceit. Phishing rarely bothers,
 * so such a link still counts, only for less.
 */
export function isClickTracker(url: URL): boolean {
  return /click|clk|track|trk|redir/i.test(url.hostname) || /click|clk|track|trk|redir/i.test(url.pathname);
}

/** Hosts of the URLs a redirecting link carries inside it (?destUrl=http%3A%2F%2Fwww.buy.com, /*http://…). */
export function embeddedHosts(href: string): string[] {
  let decoded = href;
  try {
    decoded = decodeURIComponent(href);
  } catch {}
  const hosts: string[] = [];
  for (const m of decoded.slice(1).matchAll(/https?:\/\/([^/?#&*\s"'<>]+)/gi)) {
    if (m[1]) hosts.push(m[1].toLowerCase());
  }
  return hosts;
}
