/**
 * The one HTTPS GET of `postern dns check`: the MTA-STS policy (RFC 8461 §3.3) and the BIMI logo. The
 * host name is resolved through our Resolver (the configured DNS, as every other check), the certificate
 * must chain to a trusted root and name the host (RFC 8461 §3.3: "HTTPS ... with a valid certificate"),
 * redirects are not followed (§3.3 "MUST NOT be followed") and the body is capped. Injected into the checks,
 * so tests serve from 127.0.0.1 with a test CA and never reach the internet.
 */

import https from 'node:https';
import { isIP } from 'node:net';
import type { Resolver } from '../../dns/resolver.ts';
import { lookupAddresses } from './addresses.ts';

export type HttpsResult =
  | { ok: true; status: number; contentType: string; body: Buffer }
  /** `temporary`: DNS timeout or a connection timeout, which says nothing about the published setup. */
  | { ok: false; error: string; temporary: boolean };

export type HttpsFetch = (url: string, options?: { maxBytes?: number }) => Promise<HttpsResult>;

export interface HttpsFetchOptions {
  resolver: Resolver;
  /** Trust these roots instead of Node's bundled ones (tests: a test CA). */
  ca?: string[];
  /** Connect to this port instead of the URL's (tests: an ephemeral loopback port). */
  port?: number;
  /** Default 15 s, the idle timeout mailauth uses for policy fetches. */
  timeoutMs?: number;
}

/** RFC 8461 §3.3: senders may cap the policy at 64 KiB; we read no more of anything. */
const DEFAULT_MAX_BYTES = 64 * 1024;

export function createHttpsFetch(options: HttpsFetchOptions): HttpsFetch {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return async (href, call = {}) => {
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      return { ok: false, error: `not a URL: ${href}`, temporary: false };
    }
    if (url.protocol !== 'https:') return { ok: false, error: `not an https URL: ${href}`, temporary: false };
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let address = host;
    if (isIP(host) === 0) {
      const found = await lookupAddresses(options.resolver, host);
      if (!found.ok) {
        return found.error === 'temperror'
          ? { ok: false, error: `DNS timeout or error looking up ${host}`, temporary: true }
          : { ok: false, error: `${host} has no A or AAAA record`, temporary: false };
      }
      address = found.addresses[0] as string;
    }
    return get(url, address, options, timeoutMs, call.maxBytes ?? DEFAULT_MAX_BYTES);
  };
}

function get(url: URL, address: string, options: HttpsFetchOptions, timeoutMs: number, maxBytes: number) {
  return new Promise<HttpsResult>((resolve) => {
    let settled = false;
    const done = (result: HttpsResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(result);
    };
    const request = https.request(
      {
        host: address,
        port: options.port ?? (url.port === '' ? 443 : Number(url.port)),
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { host: url.host, 'user-agent': 'postern-dns-check' },
        // SNI and the identity check use the name, not the address we connect to (RFC 6125 §6).
        ...(isIP(url.hostname) === 0 ? { servername: url.hostname } : {}),
        ...(options.ca ? { ca: options.ca } : {}),
        rejectUnauthorized: true,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            done({ ok: false, error: `${url.href} is larger than ${maxBytes} bytes`, temporary: false });
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () =>
          done({
            ok: true,
            status: response.statusCode ?? 0,
            contentType: String(response.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', (err) => done(failure(url, err)));
      },
    );
    const timer = setTimeout(
      () => done({ ok: false, error: `no answer from ${url.host} within ${timeoutMs} ms`, temporary: true }),
      timeoutMs,
    );
    request.on('error', (err) => done(failure(url, err)));
    request.end();
  });
}

/** TLS verification errors are the site's to fix; a refused or reset connection is too (it is not up). */
function failure(url: URL, err: Error): HttpsResult {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/i.test(code)) {
    return { ok: false, error: `certificate of ${url.hostname} not valid (${code}: ${err.message})`, temporary: false };
  }
  const temporary = code === 'ETIMEDOUT' || code === 'EAI_AGAIN';
  return { ok: false, error: `cannot fetch ${url.href}: ${code || err.message}`, temporary };
}
