/**
 * The PLAIN mechanism, server side (RFC 4616): one message `[authzid] NUL authcid NUL passwd`.
 * Not supported: proxy authorization. An authzid naming anyone but the authenticating user fails,
 * since acting as another account is a right we have no way to grant.
 * Passwords are passed on as received; the argon2id check prepares them with SASLprep (../password-prep.ts).
 */

import { prepareLoginName } from '../password-prep.ts';
import type { Credentials, SaslExchange, SaslStep } from './exchange.ts';

/** RFC 4616 §2: each part "MUST accept up to 255 octets"; we accept no more, to bound the work. */
export const PLAIN_MAX_PART = 255;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export class PlainExchange implements SaslExchange {
  readonly mechanism = 'PLAIN';
  readonly #credentials: Credentials;
  #state: 'start' | 'response' | 'done' = 'start';

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
  }

  async start(initial: Buffer | undefined): Promise<SaslStep> {
    if (this.#state !== 'start') return outOfOrder();
    if (initial === undefined) {
      // A client-first mechanism without an initial response starts with an empty challenge (RFC 4422 §5).
      this.#state = 'response';
      return { type: 'challenge', data: Buffer.alloc(0) };
    }
    return this.#verify(initial);
  }

  async next(response: Buffer): Promise<SaslStep> {
    if (this.#state !== 'response') return outOfOrder();
    return this.#verify(response);
  }

  async #verify(message: Buffer): Promise<SaslStep> {
    this.#state = 'done';
    const parsed = parsePlain(message);
    if (typeof parsed === 'string') return { type: 'failure', reason: 'malformed', message: parsed };
    const username = prepareLoginName(parsed.authcid);
    if (parsed.authzid !== '' && prepareLoginName(parsed.authzid) !== username) {
      // RFC 4616 §2 lets the server refuse an authzid it will not allow the authcid to act as.
      return { type: 'failure', reason: 'credentials', message: 'proxy authorization is not supported', username };
    }
    if (!(await this.#credentials.verifyPassword(username, parsed.passwd))) {
      return { type: 'failure', reason: 'credentials', message: 'authentication failed', username };
    }
    return { type: 'success', username };
  }
}

interface PlainMessage {
  authzid: string;
  authcid: string;
  passwd: string;
}

/** RFC 4616 §2 grammar; a string names what is wrong. */
export function parsePlain(message: Buffer): PlainMessage | string {
  const first = message.indexOf(0);
  const second = first < 0 ? -1 : message.indexOf(0, first + 1);
  if (second < 0) return 'expected [authzid] NUL authcid NUL passwd';
  const parts = [message.subarray(0, first), message.subarray(first + 1, second), message.subarray(second + 1)];
  if (parts[2]!.includes(0)) return 'more than two NUL separators';
  if (parts[1]!.byteLength === 0) return 'empty authentication identity'; // authcid = 1*SAFE
  if (parts[2]!.byteLength === 0) return 'empty password'; // passwd = 1*SAFE
  if (parts.some((p) => p.byteLength > PLAIN_MAX_PART)) return `a part is longer than ${PLAIN_MAX_PART} octets`;
  try {
    const [authzid, authcid, passwd] = parts.map((p) => UTF8.decode(p)) as [string, string, string];
    return { authzid, authcid, passwd };
  } catch {
    return 'not UTF-8'; // RFC 4616 §2: SAFE is UTF-8
  }
}

function outOfOrder(): SaslStep {
  return { type: 'failure', reason: 'malformed', message: 'the PLAIN exchange is not expecting this message' };
}
