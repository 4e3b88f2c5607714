/**
 * The ACME http-01 challenge, RFC 8555 §8.3: the CA fetches
 * `http://<domain>/.well-known/acme-challenge/<token>` (port 80 in production) and expects the key
 * authorization (§8.1) as the body. Challenges is what any HTTP listener on port 80 can consult;
 * startHttp01Server is a small server that answers nothing else.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { CHALLENGE_CAPS, type ChallengeServer, listenOn, type TakeOver } from './listen.ts';

const PREFIX = '/.well-known/acme-challenge/';
/** RFC 8555 §8.3: the token "MUST NOT contain any characters outside the base64url alphabet". */
const TOKEN = /^[A-Za-z0-9_-]+$/;

export class Http01Challenges {
  readonly #tokens = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    if (!TOKEN.test(token)) throw new TypeError(`http-01: token outside the base64url alphabet: ${token}`);
    this.#tokens.set(token, keyAuthorization);
  }

  delete(token: string): void {
    this.#tokens.delete(token);
  }

  get size(): number {
    return this.#tokens.size;
  }

  /** Answers a challenge request and returns true; false when the request is none (the caller serves it). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    // RFC 9112 §3.2.2: a server MUST accept the absolute-form too (`GET http://<domain>/.well-known/…`).
    const pathname = (req.url ?? '').replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split('?')[0]!;
    if (!pathname.startsWith(PREFIX)) return false;
    const keyAuthorization = this.#tokens.get(pathname.slice(PREFIX.length));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (keyAuthorization === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such challenge\n');
    } else {
      // §8.3: "The value of the resource MUST be the ASCII representation of the key authorization."
      const body = Buffer.from(keyAuthorization, 'ascii');
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    }
    return true;
  }
}

export async function startHttp01Server(
  listen: string,
  challenges: Http01Challenges,
  takeOver?: TakeOver,
): Promise<ChallengeServer> {
  // A CA sends one request at once and reads one small reply: 5 s is plenty. A connection silent that
  // long is closed (timeout; headersTimeout alone left one that sent nothing open indefinitely); one
  // that trickles its headers, 5 s after it began (headersTimeout, checked each second, not each 30).
  const server = http.createServer(
    { headersTimeout: 5_000, requestTimeout: 5_000, connectionsCheckingInterval: 1_000 },
    (req, res) => {
      if (!challenges.handle(req, res)) res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    },
  );
  server.timeout = 5_000;
  server.keepAliveTimeout = 2_000;
  return listenOn(server, listen, CHALLENGE_CAPS, takeOver);
}
