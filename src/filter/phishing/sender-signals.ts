/**
 * The "Sender" signals of the phishing detector (issue 8): who the message says it is from against
 * who really sent it — lookalike domains, display names that carry another address, a brand or a
 * protected person's name, a Reply-To elsewhere, a sender never seen before, the envelope.
 */
import type { ParsedMessage } from '../../mime/message.ts';
import type { AuthenticationSummary } from './authentication-signals.ts';
import { BRAND_NAMES_THAT_ARE_WORDS, type Brand } from './brands.ts';
import { brandClaimed, displayNameSignals } from './display-name-signals.ts';
import { isFreeMail } from './free-mail.ts';
import { brandsNamed, brandIndex as linkBrandIndex } from './links/brand-names.ts';
import { extractLinks } from './links/extract.ts';
import { joinedDomains, type Lookalike, lookalikeOf } from './lookalike.ts';
import { brandIndex, organisationKey, organisationOf, type ProtectedPerson, sameOrganisation } from './names.ts';
import type { Signal } from './signal.ts';

export { organisationOf, type ProtectedPerson };

export interface SenderInput {
  message: ParsedMessage;
  /** MAIL FROM ('' for the null sender; undefined when unknown, e.g. `postern scan`). */
  envelopeFrom?: string;
  /** The organisation's domains (the local domains plus configured ones). */
  protectedDomains: readonly string[];
  /** Partners and frequent correspondents whose lookalikes are suspicious too. */
  partnerDomains: readonly string[];
  brands: readonly Brand[];
  people: readonly ProtectedPerson[];
  /** Messages seen before from this From address (undefined when unknown). */
  previousMessages?: number;
  /** DMARC result for the From domain, when authentication ran. */
  dmarc?: string;
  /** What sender authentication proved (SPF of MAIL FROM, the DKIM d= that passed), when it ran. */
  authentication?: AuthenticationSummary;
}

export function senderSignals(input: SenderInput): Signal[] {
  const { message } = input;
  const signals: Signal[] = [];
  const from = message.from[0];
  if (!from || from.address === '') return signals;
  const fromOrg = organisationOf(from.address);
  // Compared as A-labels: our domain written as a U-label in From is still ours (RFC 5890 §2.3.2.1).
  const ours = new Set(input.protectedDomains.map(organisationKey));
  const fromOurs = ours.has(organisationKey(fromOrg));

  const claimed = from.name === '' ? undefined : brandClaimed(from.name, input.brands);
  const list = authenticatedList(message, input);
  const lookalike = senderLookalike(fromOrg, input, claimed);
  if (lookalike) signals.push(lookalike);

  if (fromOurs && input.dmarc !== undefined && input.dmarc !== 'pass') {
    // Our own domain in From without DMARC pass: someone outside wrote it (RFC 7489 §3.1 alignment).
    signals.push({
      name: 'own-domain-spoof',
      group: 'sender',
      weight: 5,
      evidence: from.address,
      categories: { executive: 0.5, password: 0.5 },
      explanation: {
        en: `The message claims to be from ${from.address}, an address of our own organisation, but it did not pass DMARC (${input.dmarc}): it was not sent by our servers.`,
        ru: `Письмо выдаёт себя за отправленное с ${from.address} — адреса нашей организации, но не прошло проверку DMARC (${input.dmarc}): его отправили не наши серверы.`,
      },
    });
  }

  signals.push(...displayNameSignals(from, fromOrg, input));

  const replyTo = message.replyTo.find((r) => r.address !== '' && !sameOrganisation(r.address, fromOrg));
  const free = replyTo !== undefined && isFreeMail(replyTo.address) && !isFreeMail(from.address);
  // A list routes replies to itself or to its poster (RFC 2369 §3.4, RFC 2919), so Reply-To says little
  // there; but a free mailbox for replies under a From outside the list is what a forged partner needs.
  const listReply = list !== undefined && (!free || sameOrganisation(from.address, list));
  if (replyTo && !listReply) {
    signals.push({
      name: free ? 'reply-to-free-mail' : 'reply-to-elsewhere',
      group: 'sender',
      // Mail services often route replies elsewhere; a free mailbox there is what a fraudster needs.
      weight: free ? 2.5 : 0.5,
      evidence: replyTo.address,
      categories: free ? { executive: 0.5 } : {},
      explanation: free
        ? {
            en: `Replies would go to ${replyTo.address}, a free mailbox, not to the sender ${from.address}.`,
            ru: `Ответ уйдёт на ${replyTo.address} — бесплатный почтовый ящик, а не отправителю ${from.address}.`,
          }
        : {
            en: `Replies would go to ${replyTo.address}, another domain than the sender's (${fromOrg}).`,
            ru: `Ответ уйдёт на ${replyTo.address} — в другой домен, чем у отправителя (${fromOrg}).`,
          },
    });
  }

  if (input.previousMessages === 0 && !fromOurs) {
    signals.push({
      name: 'first-contact',
      group: 'sender',
      weight: 1,
      evidence: from.address,
      explanation: {
        en: `This is the first message from ${from.address} to our organisation.`,
        ru: `Это первое письмо от ${from.address} в нашу организацию.`,
      },
    });
  }

  const envelope = input.envelopeFrom;
  if (envelope && list === undefined && input.dmarc !== 'pass' && !sameOrganisation(envelope, fromOrg)) {
    // Mailing lists and mail services differ here legitimately; only without DMARC pass is it a hint.
    signals.push({
      name: 'envelope-mismatch',
      group: 'sender',
      weight: 0.5,
      evidence: envelope,
      explanation: {
        en: `The envelope sender (${envelope}) is another domain than the From address (${from.address}).`,
        ru: `Отправитель в конверте (${envelope}) из другого домена, чем адрес в поле From (${from.address}).`,
      },
    });
  }
  return signals;
}

/**
 * The organisation of the mailing list the message came through, when its List-Id (RFC 2919 §2:
 * `phrase <list-label.namespace>`, the namespace a domain of the list's owner) is in the organisation
 * of an identity authentication proved: the MAIL FROM domain with SPF pass (RFC 7208 §2.4), or the d=
 * of a DKIM signature that verified (RFC 6376 §3.5). List-Unsubscribe (RFC 2369, RFC 8058) is no mark
 * of a list: every bulk sender adds it, and any of these fields is the sender's own writing.
 */
function authenticatedList(message: ParsedMessage, input: SenderInput): string | undefined {
  const auth = input.authentication;
  if (!auth) return undefined;
  const identities: string[] = [...(auth.dkimDomains ?? [])];
  const envelope = input.envelopeFrom ?? '';
  if (auth.spf === 'pass' && envelope.includes('@')) identities.push(envelope);
  if (identities.length === 0) return undefined;
  for (const h of message.headers) {
    if (h.name !== 'list-id') continue;
    const id = (/<([^<>\s]+)>\s*$/.exec(h.value)?.[1] ?? h.value.trim()).toLowerCase();
    if (!id.includes('.') || /\s/.test(id)) continue;
    if (identities.some((identity) => sameOrganisation(identity, id))) return organisationOf(id);
  }
  return undefined;
}

/** Whether a link's text claims `brand` ("Sign in to Apple", "Apple"), as link-signals.ts reads it. */
function linkClaims(message: ParsedMessage, brand: Brand, brands: readonly Brand[]): boolean {
  const index = linkBrandIndex(brands);
  return extractLinks(message.html, message.text).links.some((link) =>
    brandsNamed(link, index).named.some((n) => n.brand === brand),
  );
}

/** A brand label this short collides with ordinary words under one edit (visa/vista, chase/chaser). */
const SHORT_BRAND_LABEL = 5;

function senderLookalike(fromOrg: string, input: SenderInput, claimed: Brand | undefined): Signal | undefined {
  const ownAndPartners = joinedDomains(input.protectedDomains, input.partnerDomains);
  const own = lookalikeOf(fromOrg, ownAndPartners);
  if (own) {
    const partner = !input.protectedDomains.some((d) => sameOrganisation(d, own.protected));
    return lookalikeSignal(own, partner ? { executive: 0.5 } : { executive: 0.5, password: 0.5 });
  }
  const index = brandIndex(input.brands);
  if (index.byOrganisation.has(fromOrg)) return undefined;
  const found = lookalikeOf(fromOrg, index.domains);
  const brand = found && index.byDomain.get(found.protected);
  if (found && brand) {
    if (brand === claimed) return brandSignal(found, brand);
    // A brand that is a word (office, apple) sits in many names of its own (homeoffice, appleseed):
    // an added word counts only with a link that claims the brand.
    const word =
      found.kind === 'added-word' &&
      BRAND_NAMES_THAT_ARE_WORDS.has(found.protected.slice(0, found.protected.indexOf('.')));
    if (strongEnoughForBrand(found, fromOrg) && (!word || linkClaims(input.message, brand, input.brands))) {
      return brandSignal(found, brand);
    }
  }
  // A short name inside a domain is chance (helpdesk-mail), unless the display name claims that brand too.
  const forClaimed = claimed && brand !== claimed ? lookalikeOf(fromOrg, claimed.domains) : undefined;
  return forClaimed ? brandSignal(forClaimed, claimed!) : undefined;
}

function brandSignal(found: Lookalike, brand: Brand): Signal {
  return lookalikeSignal(found, { [brand.category]: 1 }, found.kind === 'added-word' ? 2.5 : undefined);
}

function strongEnoughForBrand(found: Lookalike, fromOrg: string): boolean {
  const dot = found.protected.indexOf('.');
  const label = found.protected.slice(0, dot);
  // A brand's other country domains are real (apple.fr): a swapped TLD alone is no lookalike of a brand.
  if (found.kind === 'tld-swap') return false;
  // Short labels (mail, visa, ozon) sit inside and next to many innocent names (helpdesk-mail, vista).
  if (['substitution', 'insertion', 'deletion', 'transposition', 'added-word'].includes(found.kind)) {
    if ([...label].length < SHORT_BRAND_LABEL) return false;
  }
  // One letter off under another suffix is mostly another word (analog.com is not nalog.ru).
  if (['substitution', 'insertion', 'deletion', 'transposition'].includes(found.kind)) {
    return fromOrg.endsWith(found.protected.slice(dot));
  }
  return true;
}

function lookalikeSignal(found: Lookalike, categories: Signal['categories'], weight?: number): Signal {
  return {
    name: 'lookalike-sender',
    group: 'sender',
    weight: weight ?? (found.kind === 'added-word' || found.kind === 'tld-swap' ? 3.5 : 4.5),
    evidence: found.protected,
    categories,
    explanation: found.explanation,
  };
}
