/**
 * Settings that are valid one by one but together do less than an admin would think: `serve` logs
 * them at start and `postern check` lists them.
 */
import type { Config } from './schema.ts';

export function settingWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const phishing = config.filter.phishing;
  // The allowlist's safeguard is DMARC (a forged partner fails it and is scored as usual); with the
  // checks off there is no result, and anyone can write an allowlisted From and skip the scoring.
  if (phishing.enabled && phishing.allowlist.length > 0 && !config.authentication.enabled) {
    warnings.push(
      'filter.phishing.allowlist exempts its senders without any check while authentication.enabled is false: a forged From of theirs is not scored either; turn authentication on, or empty the allowlist',
    );
  }
  return warnings;
}
