/** The store shows its URL as the config's errors do (src/config/redact-url.ts). */
export { redactUrl } from '../../config/redact-url.ts';
