/**
 * A domain name as DNS asks for it: each label with non-ASCII characters turned into its A-label
 * (RFC 5891 §4.2, UTS #46 as node:url does it), label by label. WHATWG's domainToASCII reads a whole
 * name as a URL host: it stops at "/", "?", "#" or "\" and decodes "%41", so "_dmarc.bank.example/ü"
 * came back as "_dmarc.bank.example", another name than the one asked about. Here a label converts
 * only when it is made of letters, marks, digits, "-" and "_" and gives one ASCII label; otherwise the
 * name is no name DNS can be asked for (undefined). ASCII labels are kept as written.
 */
import { domainToASCII, domainToUnicode } from 'node:url';

const NON_ASCII = /[^\x00-\x7f]/;
/**
 * What a U-label may hold: letters, marks and digits of any script, "-", "_" (RFC 2181 §11), the
 * characters IDNA2008 allows by context (RFC 5892 Appendix A: ZWNJ, ZWJ, the middle dots of Catalan
 * and katakana, Greek and Hebrew punctuation) and symbols (emoji domains, which UTS #46 still maps).
 * Never a character a URL reading stops at or decodes ("/", "?", "#", "\\", "%"): those are ASCII.
 */
const U_LABEL = /^(?:[\p{L}\p{M}\p{N}\p{S}_\u00b7\u0375\u05f3\u05f4\u30fb-]|\u200c|\u200d)+$/u;
const A_LABEL = /^[a-z0-9_-]+$/;
/** UTS #46 §2.3: the ideographic and fullwidth full stops separate labels as "." does. */
export const OTHER_DOTS = /[\u3002\uff0e\uff61]/g;

export function asciiName(name: string): string | undefined {
  if (!NON_ASCII.test(name)) return name;
  const labels = name.replace(OTHER_DOTS, '.').split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as string;
    if (!NON_ASCII.test(label)) continue;
    if (!U_LABEL.test(label)) return undefined;
    const converted = domainToASCII(label);
    if (!A_LABEL.test(converted)) return undefined;
    labels[i] = converted;
  }
  return labels.join('.');
}

/**
 * RFC 5890 §2.3.2.1: an "xn--" label is an A-label only if it decodes to a U-label that encodes back to
 * it. Node's domainToUnicode hands back a label it cannot decode (xn--zz) as it was, or gives "".
 */
export function isALabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  return unicode !== '' && unicode !== label && domainToASCII(unicode) === label;
}
