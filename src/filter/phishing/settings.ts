/** The detector's settings from the configuration: cheap to build, and loaded without the detector. */
import type { FilterConfig } from '../../config/filter-schema.ts';
import { DEFAULT_BRANDS } from './brands.ts';
import type { PhishingSettings } from './detector.ts';

/** The detector's settings from `filter.phishing`: the local domains are always protected. */
export function detectorSettings(filter: FilterConfig, localDomains: readonly string[]): PhishingSettings {
  const p = filter.phishing;
  return {
    protectedDomains: [...new Set([...localDomains, ...p.protectedDomains])],
    partnerDomains: p.partnerDomains,
    brands: [...p.brands, ...DEFAULT_BRANDS],
    people: p.people,
    allowlist: p.allowlist,
  };
}
