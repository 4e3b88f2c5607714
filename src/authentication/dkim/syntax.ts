/**
 * The small pieces of DKIM grammar and domain handling the verifier needs, written here so that ordinary
 * mail loads none of mailauth (its lib/tools.js pulls in libmime, iconv-lite, encoding-japanese and joi).
 * Each one gives the results mailauth 7.1's copy gave (lib/dkim/syntax.js, lib/tools.js), which the
 * differential test (test/authentication/dkim/differential.test.ts) and syntax.test.ts hold us to.
 */

import { domainToASCII, domainToUnicode } from 'node:url';

// RFC 6376 §3.5 ABNF (as mailauth's lib/dkim/syntax.js writes it):
//   sub-domain  = Let-dig [Ldh-str]   (RFC 5321 §4.1.2), at most 63 octets (RFC 1035 §2.3.4)
//   domain-name = sub-domain 1*("." sub-domain)
//   selector    = sub-domain *("." sub-domain)
//   sig-t-tag / sig-x-tag = 1*12DIGIT, sig-l-tag = 1*76DIGIT
const DOMAIN_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/** §3.5 d= (and the domain of i=): `domain-name`, two labels or more. */
export const DOMAIN_NAME = new RegExp(`^${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})+$`);
/** §3.5 s=: `selector`, one label or more. */
export const SELECTOR = new RegExp(`^${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*$`);
/**
 * A name a key can be looked up under (§3.6.2.1 s._domainkey.d): labels of letters, digits, `-` and
 * `_`, 253 octets at most. Looser than SELECTOR and DOMAIN_NAME, which only warn; what fails this
 * cannot be asked for as written.
 */
export function isLookupName(name: string): boolean {
  return /^(?=.{1,253}$)(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}$/.test(name);
}
/** §3.5 t= and x=: 1*12DIGIT. */
export const TIMESTAMP = /^[0-9]{1,12}$/;
/** §3.5 l=: 1*76DIGIT. */
export const BODY_LENGTH = /^[0-9]{1,76}$/;

const NON_ASCII = /[^\x00-\x7f]/;
const IDEOGRAPHIC_STOPS = /[\u3002\uff0e\uff61]/g;

/**
 * A domain name with its U-labels as A-labels (RFC 5890 §2.3.2.1), as mailauth's toALabel gives it: only
 * labels with non-ASCII characters change, each normalized to NFC and lower-cased first (IDNA2008 has no
 * upper-case U-labels); ASCII labels, A-labels included, stay as written, and only "." separates labels.
 * A label that cannot be converted stays as written (mailauth returns it when Punycode throws).
 *
 * Where mailauth's Punycode encodes any code points blindly, domainToASCII (UTS #46) refuses a label that is
 * no valid U-label (RFC 5891 §5.4) and maps some characters (full-width forms, ligatures, soft hyphen)
 * to others. Such a label is kept as written too — its A-label is taken only when it decodes back to the
 * label, which is when it is exactly the Punycode (RFC 3492) of it — so a name is never turned into a
 * different ASCII name (ｅｘａｍｐｌｅ.com is not looked up as example.com). Valid U-labels convert as before.
 */
export function toALabel(domain: string): string {
  if (!NON_ASCII.test(domain)) return domain;
  return domain
    .split('.')
    .map((label) => {
      if (!NON_ASCII.test(label)) return label;
      const uLabel = label.normalize('NFC').toLowerCase();
      const aLabel = domainToASCII(uLabel);
      // Punycode's toASCII also splits at the ideographic and full-width full stops (RFC 3490 §3.1)
      return aLabel !== '' && domainToUnicode(aLabel) === uLabel.replace(IDEOGRAPHIC_STOPS, '.') ? aLabel : label;
    })
    .join('.');
}

/** Lower-case A-label form without the root dot, for comparing domains. */
function comparable(domain: string): string {
  return toALabel(domain.trim()).toLowerCase().replace(/\.$/, '');
}

/** Whether `child` is `parent` or a subdomain of it (RFC 6376 §3.5 i=: "the same as, or a subdomain of" d=). */
export function isSameOrSubdomain(child: string, parent: string): boolean {
  const c = comparable(child);
  const p = comparable(parent);
  return c !== '' && p !== '' && (c === p || c.endsWith(`.${p}`));
}
