/**
 * Where a link really lands (issue 8, "Links"): its href parsed as a browser would, looked through any
 * wrappers (safe links, open redirectors), or the script scheme it uses instead of naming a page.
 */
import type { Explanation } from '../signal.ts';
import type { Link } from './extract.ts';
import { scriptSchemes, unwrap } from './redirectors.ts';
import { parseWebUrl, registrableDomain, schemeOf } from './url-hosts.ts';

/** A link resolved to where the reader lands, after any wrappers. */
export type Target = { link: Link; url: URL; href: string; host: string; domain: string; via: string[] };

export function resolve(link: Link): Target | { script: string } | undefined {
  const scheme = schemeOf(link.href);
  if (scriptSchemes.has(scheme)) return { script: scheme };
  const url = parseWebUrl(link.href);
  if (!url) return undefined;
  const unwrapped = unwrap(link.href, url);
  if (unwrapped.kind === 'opaque') return undefined;
  const innerScheme = schemeOf(unwrapped.href);
  if (scriptSchemes.has(innerScheme)) return { script: innerScheme };
  const final = unwrapped.via.length === 0 ? url : parseWebUrl(unwrapped.href);
  if (!final) return undefined;
  const host = final.hostname;
  return { link, url: final, href: unwrapped.href, host, domain: registrableDomain(host), via: unwrapped.via };
}

/** " (unwrapped from Microsoft Safe Links (…))" when the link was wrapped, so the admin sees what was looked through. */
export function behind(via: string[]): Explanation {
  if (via.length === 0) return { en: '', ru: '' };
  return { en: ` (unwrapped from ${via.join(', ')})`, ru: ` (ссылка обёрнута через ${via.join(', ')})` };
}
