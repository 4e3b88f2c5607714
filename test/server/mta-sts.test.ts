// The MTA-STS policy (RFC 8461 §3.2) and its HTTPS host (§3.3): real TLS on 127.0.0.1, a certificate from
// a test CA that the client validates for mta-sts.example.com, SNI choosing it.
import assert from 'node:assert/strict';
import dns from 'node:dns';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { mtaStsPolicy } from '../../src/admin/mta-sts-policy.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log/logger.ts';
import {
  MAX_REQUESTS_PER_CONNECTION,
  startMtaStsServer,
  uncoveredPolicyHosts,
} from '../../src/server/mta-sts-server.ts';
import { MTA_STS_MAX_PER_CLIENT } from '../../src/server/open-files.ts';
import { startServer } from '../../src/server/server.ts';
import { CertificateStore } from '../../src/tls/certificate-store.ts';
import { configDir, postern } from '../support/child-server.ts';
import { acquireTestDns } from '../support/dns.ts';
import { tempDir } from '../support/server.ts';
import { createTestCa, type TestCa } from '../support/test-ca.ts';
import { captureLogger } from '../tls/tls-kit.ts';

type Context = { after(fn: () => unknown): void };

const configOf = (extra: Partial<ConfigInput> = {}) =>
  parseConfig({ hostname: 'mx.example.com', domains: ['example.com'], ...extra }, 'test');

test('the policy text: RFC 8461 §3.2 fields, CRLF line ends', () => {
  const { text } = mtaStsPolicy(configOf());
  assert.equal(text, 'version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\nmax_age: 604800\r\n');
  const enforce = mtaStsPolicy(configOf({ mtaSts: { mode: 'enforce', maxAgeSeconds: 2_592_000 } }));
  assert.equal(enforce.text, 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 2592000\r\n');
});

test('mtaSts.mx: one mx line per host or wildcard, in order; nodes with the same mtaSts serve one policy and id', () => {
  const nodes = { mode: 'enforce' as const, mx: ['mx1.example.com', 'MX2.example.com', '*.Nodes.example.com'] };
  const one = mtaStsPolicy(configOf({ hostname: 'mx1.example.com', mtaSts: nodes }));
  assert.equal(
    one.text,
    'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\nmx: *.nodes.example.com\r\nmax_age: 604800\r\n',
  );
  // RFC 8461 §4.1: each node's own hostname alone made each node's policy refuse the others.
  assert.deepEqual(mtaStsPolicy(configOf({ hostname: 'mx2.example.com', mtaSts: nodes })), one);
  assert.notEqual(mtaStsPolicy(configOf({ mtaSts: { mode: 'enforce', mx: ['mx1.example.com'] } })).id, one.id);
  // Absent: the hostname, as before.
  assert.match(mtaStsPolicy(configOf({ hostname: 'mail.example.com' })).text, /\r\nmx: mail\.example\.com\r\n/);
});

test('the id: the same for the same policy, new whenever the policy text changes', () => {
  const base = mtaStsPolicy(configOf());
  assert.match(base.id, /^[A-Za-z0-9]{1,32}$/); // §3.1
  assert.equal(mtaStsPolicy(configOf()).id, base.id);
  // Settings outside the policy text leave the id alone.
  assert.equal(
    mtaStsPolicy(configOf({ domains: ['example.com', 'example.org'], mtaSts: { listen: '0.0.0.0:443' } })).id,
    base.id,
  );
  const changed = [
    configOf({ mtaSts: { mode: 'enforce' } }),
    configOf({ mtaSts: { mode: 'none' } }),
    configOf({ mtaSts: { maxAgeSeconds: 86_400 } }),
    configOf({ hostname: 'mail.example.com' }),
  ].map((config) => mtaStsPolicy(config).id);
  assert.equal(new Set([base.id, ...changed]).size, 5);
});

test('uncoveredPolicyHosts: exact names, wildcards, and names ACME will order', () => {
  const config = configOf({ domains: ['example.com', 'example.org', 'example.net'] });
  assert.deepEqual(uncoveredPolicyHosts(config, [{ hostnames: ['mx.example.com', 'mta-sts.example.com'] }]), [
    'mta-sts.example.org',
    'mta-sts.example.net',
  ]);
  assert.deepEqual(
    uncoveredPolicyHosts(config, [{ hostnames: ['*.example.org'] }, { hostnames: ['mta-sts.example.net'] }]),
    ['mta-sts.example.com'],
  );
  const acme = configOf({
    domains: ['example.com'],
    tls: {
      acme: {
        directory: 'https://acme.example.net/dir',
        termsOfServiceAgreed: true,
        hostnames: ['mx.example.com', 'mta-sts.example.com'],
        http01: { listen: '0.0.0.0:80' },
      },
    },
  });
  assert.deepEqual(uncoveredPolicyHosts(acme, []), []);
});

interface Reply {
  status: number;
  type: string | undefined;
  body: string;
}

/** An HTTPS request that validates the server's certificate for `servername` against the test CA. */
function fetchPolicy(
  port: number,
  ca: string,
  options: { servername?: string; host?: string; path?: string; method?: string } = {},
): Promise<Reply> {
  const servername = options.servername ?? 'mta-sts.example.com';
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        servername,
        ca,
        method: options.method ?? 'GET',
        path: options.path ?? '/.well-known/mta-sts.txt',
        headers: { host: options.host ?? servername },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function certificatesFor(ca: TestCa, ...sets: string[][]): Promise<CertificateStore> {
  const store = new CertificateStore();
  for (const [index, names] of sets.entries()) {
    const { cert, key } = await ca.issue(names);
    store.addPem(cert, key, { source: names[0], default: index === 0 });
  }
  return store;
}

test('the HTTPS policy host: the policy for mta-sts.<our domain>, 404 for other paths and hosts', async (t) => {
  const ca = await createTestCa();
  const certificates = await certificatesFor(ca, ['mx.example.com'], ['mta-sts.example.com']);
  const config = configOf({ mtaSts: { mode: 'enforce' } });
  const { logger, lines } = captureLogger();
  const server = await startMtaStsServer({ listen: '127.0.0.1:0', config, certificates, logger });
  t.after(() => server.close());
  assert.equal(server.address, '127.0.0.1');

  const ok = await fetchPolicy(server.port, ca.ca);
  assert.equal(ok.status, 200);
  assert.equal(ok.type, 'text/plain'); // RFC 8461 §3.3
  assert.equal(ok.body, mtaStsPolicy(config).text);
  assert.match(ok.body, /^mode: enforce\r$/m);

  const [query, head, post, otherPath, root, otherHost, mailHost, withPort] = await Promise.all([
    fetchPolicy(server.port, ca.ca, { path: '/.well-known/mta-sts.txt?x=1' }),
    fetchPolicy(server.port, ca.ca, { method: 'HEAD' }),
    fetchPolicy(server.port, ca.ca, { method: 'POST' }),
    fetchPolicy(server.port, ca.ca, { path: '/.well-known/other.txt' }),
    fetchPolicy(server.port, ca.ca, { path: '/' }),
    fetchPolicy(server.port, ca.ca, { host: 'mta-sts.example.net' }),
    fetchPolicy(server.port, ca.ca, { servername: 'mx.example.com' }),
    fetchPolicy(server.port, ca.ca, { host: 'MTA-STS.Example.com.:443' }),
  ]);
  assert.equal(query.status, 200);
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(post.status, 405);
  for (const r of [otherPath, root, otherHost, mailHost]) assert.equal(r.status, 404);
  assert.equal(withPort.status, 200, 'Host compares without port, case or trailing dot');
  // Every name is covered: no warning.
  assert.equal(lines.filter((l) => l.level >= 40).length, 0);
  assert.ok(lines.some((l) => /MTA-STS: serving the policy/.test(l.msg)));
});

/** A policy host with default settings and a certificate for mta-sts.example.com, closed after the test. */
async function policyHost(t: { after(fn: () => unknown): void }) {
  const ca = await createTestCa();
  const certificates = await certificatesFor(ca, ['mx.example.com'], ['mta-sts.example.com']);
  const { logger } = captureLogger();
  const server = await startMtaStsServer({ listen: '127.0.0.1:0', config: configOf({}), certificates, logger });
  t.after(() => server.close());
  return { ca, server };
}

test("the policy host holds few idle connections from one client: its descriptors are the SMTP listeners' too", async (t) => {
  const { ca, server } = await policyHost(t);
  const sockets = await Promise.all(
    Array.from(
      { length: MTA_STS_MAX_PER_CLIENT + 10 },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(server.port, '127.0.0.1', () => resolve(socket));
          socket.on('error', reject);
        }),
    ),
  );
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const open = sockets.filter((socket) => !socket.destroyed && socket.readyState === 'open').length;
  assert.equal(open, MTA_STS_MAX_PER_CLIENT, 'the rest closed at once (a TLS handshake never sent)');
  const ok = await fetchPolicy(server.port, ca.ca).catch((err: Error) => err);
  assert.ok(ok instanceof Error, 'a 17th connection from the same address is refused too');
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((await fetchPolicy(server.port, ca.ca)).status, 200, 'served again once they are gone');
});

test('a TLS connection that asks for nothing is closed after 10 s of silence, not held for minutes', async (t) => {
  const { ca, server } = await policyHost(t);
  const started = Date.now();
  const socket = tls.connect({ port: server.port, host: '127.0.0.1', servername: 'mta-sts.example.com', ca: ca.ca });
  t.after(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('close', resolve));
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds >= 9 && seconds < 15, `closed after ${seconds} s`);
});

/**
 * Sends `request` as it is over TLS, validating the certificate for `servername`, and reads the reply
 * until the server closes; rejects when the handshake fails.
 */
function rawRequest(
  port: number,
  ca: string,
  request: string,
  options: { servername?: string; ALPNProtocols?: string[] } = {},
): Promise<{ alpn: string | false | null; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, ca, servername: options.servername ?? 'mta-sts.example.com', ...options },
      () => socket.write(request),
    );
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(reply)?.[1] ?? 0);
      resolve({ alpn: socket.alpnProtocol, status, body: reply.slice(reply.indexOf('\r\n\r\n') + 4) });
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('no reply within 5 s')));
  });
}

const get11 = (target: string, host = 'mta-sts.example.com') =>
  `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

test('an absolute-form target is served, its host ruling over Host (RFC 9112 §3.2.2)', async (t) => {
  const { ca, server } = await policyHost(t);
  const policy = mtaStsPolicy(configOf({})).text;
  const url = 'https://mta-sts.example.com/.well-known/mta-sts.txt';
  const [plain, otherHost, withPort, otherTarget, http] = await Promise.all([
    rawRequest(server.port, ca.ca, get11(url)),
    rawRequest(server.port, ca.ca, get11(url, 'www.example.net')),
    rawRequest(server.port, ca.ca, get11('HTTPS://MTA-STS.example.com.:443/.well-known/mta-sts.txt?x=1')),
    rawRequest(server.port, ca.ca, get11('https://mta-sts.example.net/.well-known/mta-sts.txt')),
    rawRequest(server.port, ca.ca, get11('http://mta-sts.example.com/.well-known/mta-sts.txt')),
  ]);
  assert.equal(plain.status, 200);
  assert.equal(plain.body, policy);
  assert.equal(otherHost.status, 200, 'Host is ignored for an absolute-form target');
  assert.equal(withPort.status, 200, 'scheme and host compare without case, port or trailing dot');
  assert.equal(otherTarget.status, 404, 'the host of the target, not of Host, must be ours');
  assert.equal(http.status, 404, 'the policy lives at an https URL only');
});

test('ALPN: a client offering http/1.0 alone is served; one offering no HTTP/1 gets no_application_protocol', async (t) => {
  const { ca, server } = await policyHost(t);
  const request = 'GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: mta-sts.example.com\r\n\r\n';
  const http10 = await rawRequest(server.port, ca.ca, request, { ALPNProtocols: ['http/1.0'] });
  assert.equal(http10.alpn, 'http/1.0');
  assert.equal(http10.status, 200);
  assert.equal(http10.body, mtaStsPolicy(configOf({})).text);
  const both = await rawRequest(server.port, ca.ca, request, { ALPNProtocols: ['http/1.0', 'http/1.1'] });
  assert.equal(both.alpn, 'http/1.1', "the server's preference");
  // RFC 7301 §3.2: a server that supports none of the client's protocols SHALL refuse the handshake.
  await assert.rejects(rawRequest(server.port, ca.ca, request, { ALPNProtocols: ['h2'] }), /no.application.protocol/i);
});

test('HTTP/1.0 without Host: the name asked for in SNI is the host; HTTP/1.1 without Host is 400', async (t) => {
  const { ca, server } = await policyHost(t);
  const request = 'GET /.well-known/mta-sts.txt HTTP/1.0\r\n\r\n';
  const policy = await rawRequest(server.port, ca.ca, request);
  assert.equal(policy.status, 200);
  assert.equal(policy.body, mtaStsPolicy(configOf({})).text);
  assert.equal((await rawRequest(server.port, ca.ca, request, { servername: 'mx.example.com' })).status, 404);
  const http11 = await rawRequest(server.port, ca.ca, 'GET /.well-known/mta-sts.txt HTTP/1.1\r\n\r\n');
  assert.equal(http11.status, 400, 'RFC 9112 §3.2: an HTTP/1.1 request without Host MUST get 400');
});

test('duplicate Host lines and a Host with an invalid value get 400 (RFC 9112 §3.2), not the policy', async (t) => {
  const { ca, server } = await policyHost(t);
  const request = (...hosts: string[]) =>
    `GET /.well-known/mta-sts.txt HTTP/1.1\r\n${hosts.map((h) => `Host: ${h}\r\n`).join('')}Connection: close\r\n\r\n`;
  const [twice, twiceAbsolute, badPort, path, good, goodPort] = await Promise.all([
    rawRequest(server.port, ca.ca, request('mta-sts.example.com', 'mta-sts.example.com')),
    rawRequest(
      server.port,
      ca.ca,
      'GET https://mta-sts.example.com/.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nHost: www.example.net\r\nConnection: close\r\n\r\n',
    ),
    rawRequest(server.port, ca.ca, request('mta-sts.example.com:99999999')),
    rawRequest(server.port, ca.ca, request('mta-sts.example.com/evil')),
    rawRequest(server.port, ca.ca, request('mta-sts.example.com')),
    rawRequest(server.port, ca.ca, request('mta-sts.example.com:443')),
  ]);
  assert.equal(twice.status, 400, 'two Host lines, even the same');
  assert.equal(twiceAbsolute.status, 400, 'with an absolute-form target too: §3.2 says any request');
  assert.equal(badPort.status, 400, 'port 99999999 is no port');
  assert.equal(path.status, 400, 'a Host with a path is no uri-host [ ":" port ]');
  assert.equal(good.status, 200);
  assert.equal(goodPort.status, 200);
});

/**
 * Opens a TLS connection to the policy host, runs `drive` on it once the handshake is done, and resolves
 * when the server closes it: how long it stayed open and how many responses came.
 */
function heldFor(port: number, ca: string, drive: (socket: tls.TLSSocket) => void, giveUpMs: number) {
  return new Promise<{ seconds: number; responses: number; closed: boolean }>((resolve, reject) => {
    const started = Date.now();
    let responses = 0;
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'mta-sts.example.com', ca }, () => drive(socket));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      responses += chunk.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
    });
    socket.on('error', reject);
    const giveUp = setTimeout(() => {
      resolve({ seconds: (Date.now() - started) / 1000, responses, closed: false });
      socket.destroy();
    }, giveUpMs);
    socket.on('close', () => {
      clearTimeout(giveUp);
      resolve({ seconds: (Date.now() - started) / 1000, responses, closed: true });
    });
  });
}

test('a connection is bounded: headers trickled are cut off after 10 s, keep-alive ends after a few requests', async (t) => {
  const { ca, server } = await policyHost(t);
  const timers: NodeJS.Timeout[] = [];
  t.after(() => {
    for (const timer of timers) clearInterval(timer);
  });
  const every = (ms: number, fn: () => void) => timers.push(setInterval(fn, ms));
  const [trickle, keepAlive] = await Promise.all([
    // One header byte each second: never silent for 10 s, so only headersTimeout can end it.
    heldFor(
      server.port,
      ca.ca,
      (socket) => {
        const request = `GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\nX-a: ${'b'.repeat(100)}`;
        let at = 0;
        every(1_000, () => {
          if (!socket.destroyed) socket.write(request[at++ % request.length]!);
        });
      },
      25_000,
    ),
    // A whole request every 4 s: never idle for the 5 s keep-alive timeout.
    heldFor(
      server.port,
      ca.ca,
      (socket) => {
        const request = 'GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.example.com\r\n\r\n';
        socket.write(request);
        every(4_000, () => {
          if (!socket.destroyed) socket.write(request);
        });
      },
      25_000,
    ),
  ]);
  assert.ok(trickle.closed && trickle.seconds < 14, `trickled headers held ${trickle.seconds} s`);
  assert.ok(keepAlive.closed, `a request every 4 s held the connection ${keepAlive.seconds} s`);
  assert.equal(keepAlive.responses, MAX_REQUESTS_PER_CONNECTION);
});

test('a policy host no certificate names: a warning naming it; the client refuses the default certificate', async (t) => {
  const ca = await createTestCa();
  const certificates = await certificatesFor(ca, ['mx.example.com'], ['mta-sts.example.com']);
  const config = configOf({ domains: ['example.com', 'example.org'] });
  const { logger, lines } = captureLogger();
  const server = await startMtaStsServer({ listen: '127.0.0.1:0', config, certificates, logger });
  t.after(() => server.close());
  const warnings = lines.filter((l) => l.level === 40);
  assert.equal(warnings.length, 1);
  assert.deepEqual(warnings[0]!.missing, ['mta-sts.example.org']);
  assert.match(warnings[0]!.msg, /no certificate names mta-sts\.example\.org.*tls\.acme\.hostnames/);
  // SNI falls back to the mx certificate, which is not valid for mta-sts.example.org (§3.3 requires it).
  await assert.rejects(fetchPolicy(server.port, ca.ca, { servername: 'mta-sts.example.org' }), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  });
});

test('postern serve: mtaSts.listen starts the policy host, RunningServer has its port, stop closes it', async (t: Context) => {
  const root = tempDir('postern-mta-sts-');
  const dns = await acquireTestDns();
  t.after(async () => {
    fs.rmSync(root, { recursive: true, force: true });
    await dns.release();
  });
  const ca = await createTestCa();
  const pair = await ca.issue(['mx.example.com', 'mta-sts.example.com']);
  fs.writeFileSync(path.join(root, 'mx.crt'), pair.cert);
  fs.writeFileSync(path.join(root, 'mx.key'), pair.key, { mode: 0o600 });
  const base = {
    hostname: 'mx.example.com',
    domains: ['example.com'],
    dataDir: path.join(root, 'data'),
    listen: { smtp: '127.0.0.1:0', submission: null, submissions: null },
    log: { level: 'silent' as const },
    dns: { servers: [dns.server], timeoutMs: 500, tries: 1 },
    tls: { certificates: [{ cert: path.join(root, 'mx.crt'), key: path.join(root, 'mx.key') }] },
  };
  const logger = createLogger('silent');
  const off = await startServer({ config: parseConfig(base, 'test'), logger });
  assert.equal(off.mtaSts, undefined, 'off by default');
  await off.stop();

  const config = parseConfig({ ...base, mtaSts: { listen: '127.0.0.1:0' } }, 'test');
  const server = await startServer({ config, logger });
  let stopped = false;
  t.after(() => (stopped ? undefined : server.stop()));
  assert.ok(server.mtaSts && server.mtaSts.port > 0);
  const reply = await fetchPolicy(server.mtaSts.port, ca.ca);
  assert.equal(reply.status, 200);
  assert.equal(reply.body, mtaStsPolicy(config).text);
  await server.stop();
  stopped = true;
  await assert.rejects(fetchPolicy(server.mtaSts.port, ca.ca), { code: 'ECONNREFUSED' });
});

test('postern serve: an mtaSts.listen port another program holds is one line naming the key, exit 1 (it was "listen EADDRINUSE")', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const taken = `127.0.0.1:${(holder.address() as net.AddressInfo).port}`;
  const busy = configDir({
    listen: { smtp: '127.0.0.1:0', submission: null, submissions: null },
    mtaSts: { listen: taken },
  });
  t.after(() => busy.cleanup());
  const served = await postern(['serve', '--config', busy.file]);
  assert.equal(served.code, 1, served.stderr);
  assert.equal(
    served.stderr,
    `postern: mtaSts.listen: ${taken} is in use by another program (is another server running?)\n`,
  );
});

test('postern serve: two listeners spelt apart on one socket are named both, not "another program"', async (t) => {
  const free = net.createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  // A name the config's own check cannot see through (it knows localhost): this machine's host name,
  // resolved as the server's listen resolves it (dns.lookup's first answer), if that is loopback.
  const name = os.hostname();
  const address = await dns.promises.lookup(name).then(
    (answer) => answer.address,
    () => undefined,
  );
  if (address === undefined || !(address.startsWith('127.') || address === '::1')) {
    t.skip(`the host name ${name} does not resolve to a loopback address here (${address ?? 'no answer'})`);
    return;
  }
  const literal = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  const both = configDir({
    listen: { smtp: literal, submission: null, submissions: null },
    mtaSts: { listen: `${name}:${port}` },
  });
  t.after(() => both.cleanup());
  const served = await postern(['serve', '--config', both.file]);
  assert.equal(served.code, 1, served.stderr);
  assert.equal(
    served.stderr,
    `postern: listen.smtp (${literal}) and mtaSts.listen (${name}:${port}) are one socket, ${address} port ${port}: one port serves one listener; give one of them another port\n`,
  );
});
