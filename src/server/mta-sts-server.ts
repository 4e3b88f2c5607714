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
import type net from 'node:net';
import type tls from 'node:tls';
import { MTA_STS_PATH, mtaStsPolicy, policyHost } from '../admin/mta-sts-policy.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log/logger.ts';
import { formatAddress, parseAddress } from '../policy/cidr.ts';
import { listenOn, type TakeOver } from '../tls/acme/listen.ts';
import type { CertificateInfo, CertificateStore } from '../tls/certificate-store.ts';
import { hardenSocket, serverTlsOptions } from '../tls/tls-options.ts';
import { MTA_STS_MAX_CONNECTIONS, MTA_STS_MAX_PER_CLIENT } from './open-files.ts';

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
  // sockets, and the descriptors they take are the SMTP listeners' too (open-files.ts).
  const server = https.createServer({
    ...serverTlsOptions(),
    SNICallback: certificates.SNICallback,
    handshakeTimeout: 10_000,
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = MTA_STS_MAX_CONNECTIONS;
  const perClient = new Map<string, number>();
  server.on('connection', (socket: net.Socket) => {
    // An IPv6 client holds a /64 (RFC 6177), as the SMTP limits count it: its addresses are one client.
    const client = clientKey(socket.remoteAddress ?? '');
    const open = (perClient.get(client) ?? 0) + 1;
    if (open > MTA_STS_MAX_PER_CLIENT) {
      socket.destroy();
      return;
    }
    perClient.set(client, open);
    socket.once('close', () => {
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    });
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    hardenSocket(socket);
    // Silent for 10 s: gone. (headersTimeout did not close a connection that sent no request at all.)
    socket.setTimeout(10_000, () => socket.destroy());
  });
  server.on('tlsClientError', () => {}); // scanners and aborted handshakes: nothing to act on
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const notFound = () => res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    if (!hosts.has(hostOf(req.headers.host))) return notFound();
    if ((req.url ?? '').split('?')[0] !== MTA_STS_PATH) return notFound();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    // §3.3: the policy is served with media type text/plain.
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const bound = await listenOn(server, options.listen, options.takeOver);
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

/** The address, or its /64 for IPv6 (an IPv4-mapped one is its IPv4 address). */
function clientKey(address: string): string {
  const ip = parseAddress(address);
  if (ip === undefined || ip.version === 4) return ip ? formatAddress(ip) : address;
  return `${formatAddress({ version: 6, value: (ip.value >> 64n) << 64n })}/64`;
}

/** The Host header's name: lower case, without the port or a trailing dot (RFC 9110 §7.2, RFC 4343). */
function hostOf(header: string | undefined): string {
  const name = (header ?? '').replace(/:\d+$/, '').toLowerCase();
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
