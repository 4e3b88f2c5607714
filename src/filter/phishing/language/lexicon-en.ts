/**
 * English phrases of the language signals (issue 8). Pattern syntax in match.ts: words in order, at most
 * three others between them, `stem*` any ending, `stem~` up to three more letters, `a|b` either, `#` a
 * number, a leading `=` for adjacent words. Tuned against the SpamAssassin ham corpus: words that honest
 * mail uses every day ("immediately", "confidential", "resume", "fine") appear only inside phrases.
 */

/** Phrase-matched observations: the reported signals, and the claims the authority check weighs. */
export type PhraseKey =
  | 'urgency'
  | 'credential-request'
  | 'payment-request'
  | 'gift-cards'
  | 'threat'
  | 'compromise-threat'
  | 'secrecy'
  | 'plea-for-help'
  | 'job-lure'
  | 'dating-lure'
  | 'prize-lure'
  | 'subscription-lure'
  | 'executive-claim'
  | 'bank-claim';

export type PhraseTable = Record<PhraseKey, readonly string[]>;

/** Titles that, in a display name alone, claim authority ("John Smith, CEO"). */
export type TitleTable = Record<'executive' | 'bank', readonly string[]>;

export const english: PhraseTable = {
  urgency: [
    '=act now',
    '=act immediately',
    'respond|reply|verify|confirm|update|login|log immediately',
    'within # hour*|hrs|h',
    'within 24h|48h|72h',
    'immediate* action|attention|response',
    '=last warning',
    '=final warning',
    '=final notice',
    '=final reminder',
    '=time sensitive',
    "=don't delay",
    '=do not delay',
    'urgent* action|attention|response|reply|request',
    'expire* today|tonight',
  ],
  'credential-request': [
    'reply|respond with your|current password*|login|credentials',
    'copy|scan of your|the passport',
    'log|sign in with your current|email|mailbox password',
    'send|provide|attach copy|scan|photo of your passport|id|driving',
    // The verb, not "verification" or "restoring": "your code for restoring access to your account" and
    // "your verification code for your account" send a code and ask for nothing.
    'verify|confirm|validate|reactivate|unlock|restore your account*|identity|mailbox',
    'updat*|verif*|confirm*|validat* account* information|details|info',
    'verif*|confirm*|updat*|validat*|enter|provide your password*|credentials|login|username',
    'verif*|confirm*|updat*|validat*|enter|provide billing|payment|card|banking information|details|info',
    'enter|provide|confirm|verify card number*|expiration|expiry',
    'cvv|cvv2|cvc|cvc2',
    'send|share|forward|tell|reply|give code* you|we received|sent',
    'send|share|forward|tell|reply|give verification|security|sms|otp code*',
    'social security number*',
    "=mother's maiden name",
    'sign|log in to verify|confirm|restore|unlock|validate',
  ],
  'payment-request': [
    'dollars|usd|euros in|of btc|bitcoin|usdt',
    'processing|visa|registration|application|permit|release|clearance fee*',
    'send|pay|transfer the fee*',
    'send|transfer # rubles|roubles|dollars|euros|usd|eur|pounds',
    'money|rubles|roubles|dollars to this card|account|number',
    '=wire transfer*',
    'wire|transfer funds|money|payment|amount',
    'pay|settle|process invoice* today|now|immediately|urgently',
    'process|make|arrange|complete payment* today|urgently|immediately|asap',
    'overdue|unpaid|outstanding invoice*|payment*',
    'new|changed|updated|change bank|banking account|details',
    'bitcoin|btc|crypto|cryptocurrency|usdt wallet|address',
    'send|transfer money|funds',
  ],
  'gift-cards': [
    'gift card*',
    'itunes|steam|amazon|ebay|apple card*|gift*|voucher*',
    'scratch card*|back',
    'google play card*|gift*|voucher*|code*',
    'card* claim|redemption code*',
  ],
  threat: [
    'mailbox|quota|storage full|exceeded|reached',
    'messages will be rejected|deleted|lost',
    'account*|mailbox|card suspend*|terminat*|deactivat*|locked|blocked|frozen|restricted|disabled|closed',
    'account*|mailbox|card will|be permanently|deleted|closed|disabled',
    'suspension|termination|deactivation|closure of your account*|mailbox',
    'legal action*|proceeding*',
    '=be fined',
    'penalty fee*|charge*',
    'unusual|suspicious|unauthorized|unauthorised activit*|login*|sign|access|transaction*|attempt*',
    'failure to respond|verify|comply|update|confirm|pay',
    'password* expire*|expiring|expired',
  ],
  'compromise-threat': [
    'have|got a video of you|with you',
    'send|share it|video to your colleagues|contacts|friends|family',
    'hacked|compromised|infected your device*|computer*|phone*|system|email|account*',
    '=recorded you',
    '=filmed you',
    'recorded|filmed webcam',
    'webcam|camera recorded',
    'install* malware|trojan|spyware|virus|keylogger on your device*|computer*|phone*|system',
    '=remote access trojan',
    'pay*|send*|transfer* bitcoin*|btc|cryptocurrency',
    'video* to all|your contact*|friends|family|colleagues',
    'watching porn|adult',
  ],
  secrecy: [
    'keep this|it confidential|secret|quiet|private|between',
    '=just between us',
    '=between you and me',
    "not|don't|dont tell|discuss|mention|inform anyone|anybody|nobody|others",
    'strictly|highly confidential|private',
    "i'm|im|am in a|an meeting",
    "meeting can't|cannot|unable|not talk|call|speak|answer",
    "=can't talk",
    '=be discreet',
  ],
  'plea-for-help': [
    'are you there|around|available',
    "=it's personal",
    'reply to this email|address i|im|am not',
    '=months to live',
    '=dying widow',
    "it's|its|this is me new|my number|phone|email",
    'my new number|phone|email address',
    'dropped|lost|broke|smashed my phone',
    "don't|dont|do not call old|usual|my number|phone",
    'not on my usual|regular|normal phone|number',
    'need a|your favour|favor',
    'are you at your desk',
    'stranded',
    'lost my wallet|passport|bag|bags|purse|money|cards',
    'robbed|mugged',
    "i'm|am hospital|hospitalized",
    'need|needed your help urgently|now|asap|desperately',
    'urgent* help|assistance|favor|favour',
    'lend|loan me',
    '=pay you back',
    '=stuck abroad',
  ],
  'job-lure': [
    'my|attached resume|cv',
    'resume|cv attached|enclosed',
    'vacanc*',
    'job|interview invitation*|offer*|opening*|position*',
    'invite* you interview*',
    'work from home',
    'hiring',
  ],
  'dating-lure': [
    'tired of|from loneliness|being alone',
    '=true love',
    'looking for my|a soulmate|soul|husband|partner',
    'found your email|address|contact*',
    'dating site*|app*|profile*|service*|platform*',
    // Not "online dating" alone: it names a service, as a portal's menu or an advert does ("Try Online
    // Dating" in every MSN Groups message), and approaches no one.
    'saw|seen|found|liked your profile|photo*|pictures|pics',
    'singles in|near',
    "i'm|am|feel|feeling lonely",
    'lonely wom*|girl*|housewi*|single*|lad*',
    'hookup',
    'my photos|pics|pictures',
  ],
  'prize-lure': [
    'keep|receive # percent',
    'chosen|selected you to receive|inherit',
    'late husband|father|client left',
    'next of kin',
    'inheritance|unclaimed fund*|deposit*|estate',
    'beneficiar* of|to',
    "you've|have won",
    'you won',
    'claim* your prize*|reward*|refund*|compensation|winnings|gift',
    'prize*',
    'lottery',
    'jackpot',
    "you're|you|lucky|selected winner*",
    'tax refund*',
    'eligible refund*|compensation|payment|reward',
  ],
  'subscription-lure': [
    'subscription|membership|plan expired|expires|expiring|suspended|cancelled|canceled',
    'subscription|membership on hold',
    'renewal|payment|charge failed|declined|unsuccessful|problem',
    "unable|could not|couldn't|can't process|charge|renew your payment|subscription|membership|card",
    'update your payment|billing method|details|information',
    "package|parcel|shipment could not|couldn't|unable be delivered|deliver*",
    '=delivery attempt failed',
    'customs fee*|duty',
  ],
  'executive-claim': [
    "i'm|am the|your ceo|cfo|director|president|chairman|founder|boss",
    'this is|from the|your ceo|cfo|chairman|boss',
    'chief executive|financial officer',
    'managing director',
  ],
  'bank-claim': [
    'bank* security|fraud department|team|service|division',
    'security|fraud department|team of|at bank*',
    'fraud prevention department|team',
  ],
};

export const englishTitles: TitleTable = {
  executive: ['ceo', 'cfo', 'coo', 'chief executive|financial|operating', 'managing director', 'president', 'chairman'],
  bank: [
    'bank',
    'banking',
    'sberbank|tinkoff|vtb|alfabank|raiffeisen',
    'fraud department|team|service',
    'paypal',
    'visa',
    'mastercard',
  ],
};
