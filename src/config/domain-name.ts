/**
 * Domain names in the configuration: one rule for every key that takes one (`domains`, the hostname,
 * the phishing lists …), so each refuses the same mistakes with the same words. A leaf: schema.ts and
 * filter-schema.ts both use it.
 */
import { z } from 'zod';
import { asciiName, isALabel } from '../dns/a-labels.ts';
import { isAddressShaped } from './hosts.ts';

/**
 * A domain name, kept as DNS and SMTP carry it: lower case, each U-label as its A-label (RFC 5890 §2.3.2.1),
 * so `bücher.example` here is the `xn--bcher-kva.example` that `postern user add bob@bücher.example`
 * stores and that mail for it names. An A-label that is no valid Punycode (`xn--zz`) is refused: no
 * U-label gives it, so no one could write to it.
 */
export const domainName = z
  .string()
  .min(1)
  .max(253)
  .transform((v, ctx) => {
    const ascii = asciiName(v)?.toLowerCase();
    if (ascii === undefined || !DNS_NAME.test(ascii)) {
      // The zone-file habit: the trailing dot is what an admin would not see as the problem.
      const rooted = v.endsWith('.') && v.length > 1 && DNS_NAME.test(asciiName(v.slice(0, -1))?.toLowerCase() ?? '');
      ctx.addIssue({
        code: 'custom',
        message: rooted
          ? `expected a domain name such as example.com, without the trailing dot of a zone file: ${v.slice(0, -1)}`
          : 'expected a domain name such as example.com',
      });
      return z.NEVER;
    }
    const bad = ascii.split('.').find((label) => label.startsWith('xn--') && !isALabel(label));
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: `"${bad}" is not a valid IDN A-label (Punycode, RFC 5891 §5.4)` });
      return z.NEVER;
    }
    return ascii;
  });

export const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A domain mail comes from or goes to: mail addresses in it must be fully qualified (RFC 5321 §2.3.5;
 * an account or alias in a single-label or numeric domain is refused by `user add`), so one listed
 * here could take no mail, and no sender could be in it.
 */
export const mailDomain = domainName.refine((name) => name.includes('.') && !isAddressShaped(name), {
  message: 'expected a fully-qualified domain name such as example.com (RFC 5321 §2.3.5), not a single label',
});
