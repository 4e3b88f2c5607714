import { listenProblem } from '../../config/listen-problem.ts';

/**
 * What stops an ACME start that the admin must fix: a challenge address that cannot be had, a
 * `directoryCa` that cannot be read. The message names the config key and what to do; `serve` shows it
 * in one line, as it does a listener's address that is taken.
 */
export class AcmeSetupError extends Error {
  readonly code = 'ACME_SETUP';
}

/** What to do when the challenge port is taken, by config key (the responders and serve's early binding). */
export const CHALLENGE_PORT_IN_USE: Readonly<Record<string, string>> = {
  'tls.acme.http01.listen':
    'a web server on port 80 can pass /.well-known/acme-challenge/ to Postern on another address (e.g. 127.0.0.1:8080), or use tlsAlpn01 instead',
  'tls.acme.tlsAlpn01.listen': 'tls-alpn-01 needs port 443 to itself (RFC 8737 §3 validates there); use http01 instead',
};

/** The one-line reason a challenge responder cannot listen on `address`, naming `key`; other errors pass. */
export function challengeListenError(key: string, address: string, error: unknown, instead: string): unknown {
  const problem = listenProblem(key, address, error, instead);
  return problem === undefined ? error : new AcmeSetupError(problem, { cause: error });
}
