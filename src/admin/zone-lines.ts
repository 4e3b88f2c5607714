/**
 * Renders the records of dns-records.ts: zone-file lines (RFC 1035 §5.1) to paste into a DNS provider
 * or a zone file, with the purpose of each as a `;` comment, and a JSON form for tools. A record that
 * is not ready to publish (its `todo`) is written commented out, so the output as a whole still loads.
 */
import type { DnsRecord } from './dns-records.ts';
import { MTA_STS_PATH, type MtaStsPolicy, policyHost } from './mta-sts-policy.ts';

/** RFC 1035 §3.3: a <character-string> is one length octet and at most 255 octets of text. */
const MAX_STRING_OCTETS = 255;

/**
 * A TXT value as the strings of one record, each at most 255 octets. RFC 7208 §3.3 (SPF) and RFC 6376
 * §3.6.2.2 (DKIM) have receivers join them without spaces, so splitting anywhere is safe; a split never
 * cuts a UTF-8 sequence.
 */
export function txtStrings(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const strings: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + MAX_STRING_OCTETS, bytes.length);
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a multi-byte character
    strings.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
  }
  return strings.length > 0 ? strings : [''];
}

/** RFC 1035 §5.1: a quoted string escapes `"` and `\` with a backslash. */
function quote(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The RDATA as it goes into a zone file: TXT as quoted strings, everything else as given. */
export function presentationValue(record: DnsRecord): string {
  return record.type === 'TXT' ? txtStrings(record.value).map(quote).join(' ') : record.value;
}

/** `name TTL IN TYPE value` lines, the purpose above each; in-zone records first, then the PTRs, then the policy file. */
export function zoneLines(domain: string, records: DnsRecord[], policy?: MtaStsPolicy): string {
  const inZone = records.filter((r) => r.where === 'zone');
  const atProvider = records.filter((r) => r.where === 'hosting-provider');
  // Names padded to a column per section: a long ip6.arpa PTR name must not push the zone lines right.
  const section = (list: DnsRecord[]) => {
    const width = Math.max(0, ...list.map((r) => r.name.length + 1));
    const line = (r: DnsRecord) =>
      `${`${r.name}.`.padEnd(width)} ${r.ttl} IN ${r.type.padEnd(5)} ${presentationValue(r)}`;
    return list.flatMap((r) =>
      r.todo ? [`; ${r.purpose}`, `; TO DO: ${r.todo}`, `; ${line(r)}`, ''] : [`; ${r.purpose}`, line(r), ''],
    );
  };
  const out = [
    `; DNS records for ${domain}, from postern dns records.`,
    `; Set these in the DNS zone of ${domain} (a name under another domain goes in that domain's zone).`,
    '; The PTR records at the end are not set in your zone: your hosting provider sets reverse DNS for its addresses.',
    '; A record commented out under "TO DO" is not ready to publish: do what it says first.',
    '',
    ...section(inZone),
  ];
  if (atProvider.length > 0) {
    out.push('; ---- At your hosting provider (reverse DNS), not in your zone ----', '', ...section(atProvider));
  }
  if (policy) {
    out.push(
      `; ---- The MTA-STS policy file, https://${policyHost(domain)}${MTA_STS_PATH} (RFC 8461 §3.3) ----`,
      '; postern serve answers it when mtaSts.listen is set; lines end in CRLF:',
      ...policy.text.split('\r\n').flatMap((text) => (text ? [`;   ${text}`] : [])),
      '',
    );
  }
  return out.join('\n');
}

export interface RecordsJson {
  domain: string;
  records: (DnsRecord & { strings?: string[] })[];
  mtaStsPolicy?: { url: string; id: string; text: string };
}

/** The JSON form: the records (TXT with its strings as published) and the MTA-STS policy file. */
export function recordsJson(domain: string, records: DnsRecord[], policy?: MtaStsPolicy): RecordsJson {
  return {
    domain,
    records: records.map((r) => (r.type === 'TXT' ? { ...r, strings: txtStrings(r.value) } : r)),
    ...(policy
      ? { mtaStsPolicy: { url: `https://${policyHost(domain)}${MTA_STS_PATH}`, id: policy.id, text: policy.text } }
      : {}),
  };
}
