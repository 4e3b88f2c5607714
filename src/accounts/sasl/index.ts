export type { ChannelBinding, Credentials, SaslExchange, SaslStep, ScramCredentials } from './exchange.ts';
export { LoginExchange } from './login.ts';
export type { ExchangeOptions } from './mechanism.ts';
export { createExchange, MECHANISMS } from './mechanism.ts';
export { PLAIN_MAX_PART, PlainExchange, parsePlain } from './plain.ts';
export type { ScramOptions } from './scram.ts';
export {
  deriveScramCredentials,
  formatScramCredentials,
  InvalidScramCredentialsError,
  parseScramCredentials,
  SCRAM_MIN_ITERATIONS,
  ScramExchange,
} from './scram.ts';
