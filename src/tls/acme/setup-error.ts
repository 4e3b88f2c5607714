import { listenProblem } from '../../config/listen-problem.ts';

/**
 * What stops an ACME start that the admin must fix: a challenge address that cannot be had, a
 * `directoryCa` that cannot be read. The message names the config key and what to do; `serve` shows it
 * in one line, as it does a listener's address that is taken.
 */
export class AcmeSetupError extends Error {
  readonly code = 'ACME_SETUP';
}

/** The one-line reason a challenge responder cannot listen on `address`, naming `key`; other errors pass. */
export function challengeListenError(key: string, address: string, error: unknown, instead: string): unknown {
  const problem = listenProblem(key, address, error, instead);
  return problem === undefined ? error : new AcmeSetupError(problem, { cause: error });
}
