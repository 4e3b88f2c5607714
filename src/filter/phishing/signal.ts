/**
 * The vocabulary of the phishing detector (issue 8): a signal is one deterministic observation with
 * a name, a weight and an explanation in English and Russian; the detector adds the weights into a
 * score and the category hints into the mask the message most resembles.
 */
import type { Explanation } from './lookalike-explanation.ts';

export type { Explanation };

/** The masks phishing wears (issue 8, "The masks to recognise"); 'generic' when none stands out. */
export const CATEGORIES = [
  'bank', // a bank or payment provider
  'subscription', // subscriptions, streaming and gaming services, deliveries
  'executive', // the organisation's head asking for something (BEC, gift cards, wire transfers)
  'plea', // an urgent plea for help
  'job', // CV, vacancy or job interview
  'sextortion', // dating sites, or a threat that the device or the user is compromised
  'password', // the security/IT team asking to update or confirm a password
  'generic',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Which part of the message a signal looked at. */
export type SignalGroup = 'sender' | 'authentication' | 'links' | 'language' | 'attachments';

export interface Signal {
  /** Stable kebab-case name, e.g. `link-text-mismatch`; shown in X-Postern-Signals. */
  name: string;
  group: SignalGroup;
  /** Points added to the score; the sum decides the action (config thresholds, default 5 = junk). */
  weight: number;
  explanation: Explanation;
  /** Masks this observation points to, each with a strength (1 = typical of it). */
  categories?: Partial<Record<Category, number>>;
  /** The text that triggered it (a domain, a URL, a phrase, a file name), for the admin. */
  evidence?: string;
}

export type AdminLanguage = 'en' | 'ru';
