/**
 * Errors of the milter client (STYLE.md §5: a class per kind with a stable `code`). Every one of them means
 * the filter could not give an answer, so each is a MilterUnavailableError: the caller then applies its
 * configured default (accept, or tempfail with 451 4.7.1) as Postfix's milter_default_action does.
 * A verdict the milter did give (reject, tempfail, discard) is a value, never an error.
 */

/** The step that was under way: negotiate (SMFIC_OPTNEG) or a stage, as the libmilter callbacks name them. */
export type MilterStage =
  | 'open'
  | 'negotiate'
  | 'connect'
  | 'helo'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'header'
  | 'eoh'
  | 'body'
  | 'eom'
  | 'abort'
  | 'quit';

export class MilterUnavailableError extends Error {
  readonly code: string = 'MILTER_UNAVAILABLE';
  readonly stage: MilterStage;
  constructor(stage: MilterStage, message: string, options?: { cause?: unknown }) {
    super(`milter ${stage}: ${message}`, options);
    this.name = 'MilterUnavailableError';
    this.stage = stage;
  }
}

/** No reply within the step's time, or the message as a whole took too long. */
export class MilterTimeoutError extends MilterUnavailableError {
  override readonly code = 'MILTER_TIMEOUT';
  constructor(stage: MilterStage, message: string) {
    super(stage, message);
    this.name = 'MilterTimeoutError';
  }
}

/** The milter said something the protocol does not allow here, or in a form it does not have. */
export class MilterProtocolError extends MilterUnavailableError {
  override readonly code = 'MILTER_PROTOCOL';
  constructor(stage: MilterStage, message: string) {
    super(stage, message);
    this.name = 'MilterProtocolError';
  }
}
