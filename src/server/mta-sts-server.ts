/**
 * The MTA-STS policy host (RFC 8461 §3.3): an HTTPS server answering
 * `GET https://mta-sts.<domain>/.well-known/mta-sts.txt` for each of our domains with the policy of
 * admin/mta-sts-policy.ts, so an admin needs no separate web server. Certificates are the server's
 * own, picked by SNI from the CertificateStore; senders validate them (§3.3: "MUST be valid for the
 * Policy Host"), so one must name mta-sts.<domain> and a warning says which names none covers.
 * Nothing else is served: any other host or path is 404.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import { MTA_STS_PATH, mtaStsPolicy, policyHost } from '../admin/mta-sts-policy.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import { listenOn, type TakeOver } from '../tls/acme/listen.ts';
import type { CertificateInfo, CertificateStore } from '../tls/certificate-store.ts';
import { hardenSocket, serverTlsOptions } from '../tls/tls-options.ts';
import { MTA_STS_MAX_CONNECTIONS, MTA_STS_MAX_PER_CLIENT } from './open-files.ts';

/** Requests answered on one connection; a sender needs one (RFC 8461 §3.3: one GET of one file). */
export const MAX_REQUESTS_PER_CONNECTION = 3;

export interface MtaStsServerOptions {
  /** host:port to bind (`mtaSts.listen`); port 0 picks a free port. */
  listen: string;
  /** The port bound for it before the server gave up root (early-ports.ts); absent: it binds `listen`. */
  takeOver?: TakeOver;
  config: Pick<Config, 'hostname' | 'domains' | 'mtaSts' | 'tls'>;
  certificates: CertificateStore;
  logger: Logger;
}

export interface MtaStsServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function startMtaStsServer(options: MtaStsServerOptions): Promise<MtaStsServer> {
  const { config, certificates, logger } = options;
  const body = Buffer.from(mtaStsPolicy(config).text, 'ascii');
  const hosts = new Set(config.domains.map(policyHost));
  // No certificate of its own: every handshake takes the SNI callback's context, so renewed certificates
  // are served at once. A client without SNI gets no certificate; a sender always names the policy host.
  // A sender fetches one small file now and then: a few seconds and a few connections are plenty.
  // Node's 120 s handshake timeout and no connection cap let one client hold hundreds of idle
  // sockets, and the descriptors they take are the SMTP listeners' too (open-files.ts): listenOn caps them.
  const server = https.createServer({
    ...serverTlsOptions(),
    SNICallback: certificates.SNICallback,
    handshakeTimeout: 10_000,
    // headersTimeout is enforced on this sweep: at Node's 30 s, a client trickling its headers a byte at a
    // time held the connection some 40 s; each second, it is closed 10 s after its request began.
    connectionsCheckingInterval: 1_000,
    // RFC 7301 §3.2: a client whose protocols we do not list gets no_application_protocol; an HTTP/1.0
    // client offering http/1.0 alone is served too (server preference: http/1.1 first).
    ALPNProtocols: ['http/1.1', 'http/1.0'],
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  // A sender fetches one file: a keep-alive client asking again every few seconds never went idle for
  // keepAliveTimeout and held its connection for ever. maxRequestsPerSocket alone only says "Connection:
  // close" on the last reply and answers 503 after it, the connection left open; the request handler
  // closes it after that reply (RFC 9112 §9.6). So none outlives the handshake (10 s), a silence (10 s),
  // 3 requests (headers within 10 s each) and 2 keep-alive waits (5 s each): about a minute at most.
  server.maxRequestsPerSocket = MAX_REQUESTS_PER_CONNECTION;
  const served = new WeakMap<object, number>();
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    hardenSocket(socket);
    // Silent for 10 s: gone. (headersTimeout did not close a connection that sent no request at all.)
    socket.setTimeout(10_000, () => socket.destroy());
  });
  server.on('tlsClientError', () => {}); // scanners and aborted handshakes: nothing to act on
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const count = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, count);
    // An explicit "Connection: close" makes Node end the connection once this reply is sent.
    if (count >= MAX_REQUESTS_PER_CONNECTION) res.setHeader('Connection', 'close');
    const notFound = () => res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
    // message that lacks a Host header field and to any request message that contains more than one Host
    // header field line or a Host header field with an invalid field-value." (Node answers a missing one.)
    const host = req.headersDistinct.host;
    if (host !== undefined && (host.length !== 1 || !validHost(host[0]!))) {
      res.writeHead(400, { 'Content-Type': 'text/plain', Connection: 'close' }).end('bad Host header\n');
      return;
    }
    const target = requestTarget(req);
    if (!target || !hosts.has(target.host)) return notFound();
    if (target.path.split('?')[0] !== MTA_STS_PATH) return notFound();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    // §3.3: the policy is served with media type text/plain.
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const bound = await listenOn(
    server,
    options.listen,
    { maxConnections: MTA_STS_MAX_CONNECTIONS, maxPerClient: MTA_STS_MAX_PER_CLIENT },
    options.takeOver,
  );
  logger.info(
    { address: bound.address, port: bound.port, hosts: [...hosts] },
    `MTA-STS: serving the policy (mode ${config.mtaSts.mode}) on ${bound.address}:${bound.port}`,
  );
  const missing = uncoveredPolicyHosts(config, certificates.list());
  if (missing.length > 0) {
    logger.warn(
      { missing },
      `MTA-STS: no certificate names ${missing.join(', ')}; senders will not use the policy until one does (add the names to tls.acme.hostnames or to a certificate in tls.certificates)`,
    );
  }
  return bound;
}

/**
 * The policy hosts that no loaded certificate names (exactly or by a `*.` wildcard, RFC 6125 §6.4.3)
 * and that ACME is not asked to obtain either (it orders in the background, after start).
 */
export function uncoveredPolicyHosts(
  config: Pick<Config, 'domains' | 'tls'>,
  loaded: Pick<CertificateInfo, 'hostnames'>[],
): string[] {
  const names = new Set([...loaded.flatMap((info) => info.hostnames), ...(config.tls.acme?.hostnames ?? [])]);
  return config.domains
    .map(policyHost)
    .filter((host) => !names.has(host) && !names.has(`*${host.slice(host.indexOf('.'))}`));
}

/**
 * RFC 9110 §7.2: Host = uri-host [ ":" port ]: RFC 3986 §3.2.2's IP-literal, or a reg-name (which covers
 * IPv4address) of unreserved, pct-encoded and sub-delims; §3.2.3's port, digits, which above 65535 name
 * no TCP port (RFC 9293 §3.1). Empty is allowed (§7.2: a target URI without authority); it gets 404.
 */
function validHost(value: string): boolean {
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::(\d*))?$/.exec(value);
  return match !== null && (match[1] === undefined || match[1] === '' || Number(match[1]) <= 65_535);
}

/** RFC 9112 §3.2.2's absolute-form: the scheme, the authority, and the path and query after them. */
const ABSOLUTE_FORM = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i;

/**
 * The host and path a request asks for; undefined for a scheme other than https. RFC 9112 §3.2.2: a
 * server MUST accept the absolute-form, and take the host from it, not from Host. Without either (an
 * HTTP/1.0 request may omit Host; Node answers 400 to HTTP/1.1 without it, as §3.2 requires), the
 * name the client asked for in SNI (RFC 6066 §3) is the host it means.
 */
function requestTarget(req: IncomingMessage): { host: string; path: string } | undefined {
  const target = req.url ?? '';
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute) {
    const [, scheme, authority, path] = absolute;
    return scheme!.toLowerCase() === 'https' ? { host: hostOf(authority), path: path! } : undefined;
  }
  const servername = (req.socket as tls.TLSSocket).servername;
  return { host: hostOf(req.headers.host ?? (servername || undefined)), path: target };
}

/** The name in a Host header or authority: lower case, without the port or a trailing dot (RFC 9110 §7.2, RFC 4343). */
function hostOf(header: string | undefined): string {
  const name = (header ?? '').replace(/:\d+$/, '').toLowerCase();
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
