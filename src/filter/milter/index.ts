export type {
  ConnectInfo,
  EomResult,
  Macros,
  MilterClientOptions,
  MilterReplyCode,
  MilterTimeouts,
  MilterVerdict,
  Modification,
  Negotiated,
} from './client.ts';
export { MilterClient, parseReplyCode, parseSocketSpec } from './client.ts';
export type { MilterStage } from './errors.ts';
export { MilterProtocolError, MilterTimeoutError, MilterUnavailableError } from './errors.ts';
export type { MessageInput, MessageOutcome, RecipientRefusal } from './filter-message.ts';
export { filterMessage } from './filter-message.ts';
export type { RecipientMacros, SessionMacros } from './macros.ts';
export { recipientMacros, sessionMacros } from './macros.ts';
export type { HeaderProblem, ModifiedMessage } from './modify.ts';
export { applyModifications, modifyMessage } from './modify.ts';
