export { LoginExchange } from './login.ts';
export type { ChannelBinding, Credentials, ExchangeOptions, SaslExchange, SaslStep } from './mechanism.ts';
export { createExchange, MECHANISMS } from './mechanism.ts';
export { PLAIN_MAX_PART, PlainExchange, parsePlain } from './plain.ts';
export type { ScramCredentials, ScramOptions } from './scram.ts';
export {
  deriveScramCredentials,
  formatScramCredentials,
  InvalidScramCredentialsError,
  parseScramCredentials,
  SCRAM_MIN_ITERATIONS,
  ScramExchange,
} from './scram.ts';
