/**
 * The LOGIN mechanism, server side, as draft-murchison-sasl-login-00 documents it: two challenges,
 * the user name then the password. Obsolete, kept because some older clients offer nothing else; it
 * carries no authorization identity. Like PLAIN, only ever offered under TLS.
 */

import { prepareLoginName } from '../password-prep.ts';
import type { Credentials, SaslExchange, SaslStep } from './exchange.ts';

// The draft says the challenges SHOULD be "User Name" and "Password", and notes that widely
// deployed clients expect "Username:" and "Password:", which every server sends.
const USERNAME_CHALLENGE = Buffer.from('Username:', 'latin1');
const PASSWORD_CHALLENGE = Buffer.from('Password:', 'latin1');
/** The draft sets no limit; PLAIN's (RFC 4616 §2) keeps the two mechanisms alike. */
const MAX_FIELD = 255;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export class LoginExchange implements SaslExchange {
  readonly mechanism = 'LOGIN';
  readonly #credentials: Credentials;
  #state: { name: 'start' | 'username' | 'done' } | { name: 'password'; username: string } = { name: 'start' };

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
  }

  async start(initial: Buffer | undefined): Promise<SaslStep> {
    if (this.#state.name !== 'start') return outOfOrder();
    if (initial === undefined) {
      this.#state = { name: 'username' };
      return { type: 'challenge', data: USERNAME_CHALLENGE };
    }
    // The draft's LOGIN has no initial response, but clients send the user name as one
    // ("AUTH LOGIN dXNlcg=="), and we take it as Cyrus SASL and Dovecot do.
    return this.#username(initial);
  }

  async next(response: Buffer): Promise<SaslStep> {
    const state = this.#state;
    switch (state.name) {
      case 'username':
        return this.#username(response);
      case 'password':
        return this.#password(state.username, response);
      case 'start':
      case 'done':
        return outOfOrder();
      default:
        return state satisfies never;
    }
  }

  #username(response: Buffer): SaslStep {
    const username = field(response, 'user name');
    if (username.error !== undefined) return this.#fail(username.error);
    this.#state = { name: 'password', username: prepareLoginName(username.value) };
    return { type: 'challenge', data: PASSWORD_CHALLENGE };
  }

  async #password(username: string, response: Buffer): Promise<SaslStep> {
    this.#state = { name: 'done' };
    const password = field(response, 'password');
    if (password.error !== undefined) return this.#fail(password.error, username);
    if (!(await this.#credentials.verifyPassword(username, password.value))) {
      return { type: 'failure', reason: 'credentials', message: 'authentication failed', username };
    }
    return { type: 'success', username };
  }

  #fail(message: string, username?: string): SaslStep {
    this.#state = { name: 'done' };
    return username === undefined
      ? { type: 'failure', reason: 'malformed', message }
      : { type: 'failure', reason: 'malformed', message, username };
  }
}

/** A user name or password: 1 to 255 octets of UTF-8, no NUL (it would end the string elsewhere). */
function field(bytes: Buffer, what: string): { value: string; error?: undefined } | { error: string } {
  if (bytes.byteLength === 0) return { error: `empty ${what}` };
  if (bytes.byteLength > MAX_FIELD) return { error: `${what} longer than ${MAX_FIELD} octets` };
  if (bytes.includes(0)) return { error: `NUL in the ${what}` };
  try {
    return { value: UTF8.decode(bytes) };
  } catch {
    return { error: `${what} is not UTF-8` };
  }
}

function outOfOrder(): SaslStep {
  return { type: 'failure', reason: 'malformed', message: 'the LOGIN exchange is not expecting this message' };
}
