/**
 * Pebble, Let's Encrypt's small ACME test server (Debian package `pebble`), on loopback for the ACME
 * interop tests. Its HTTPS certificate is made here (Debian ships none of pebble's test certificates);
 * its validation authority resolves names through the given DNS server (our loopback test server) and
 * connects to the given http-01 and tls-alpn-01 ports. Every wait is bounded; a missing binary or a
 * pebble that does not come up is an error that says so, never a skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { startTestDnsServer, type TestDnsServer } from '../../src/dns/test-server.ts';
import { createSelfSignedCertificate } from '../../src/tls/create-certificate.ts';
import { DEFAULT_TEST_ZONE } from './dns.ts';
import { freePort } from './ports.ts';
import { tempDir } from './server.ts';

export { freePort };

export interface PebbleOptions {
  /** The port pebble's validator connects to for http-01 (where our responder listens). */
  httpPort: number;
  /** The port it connects to for tls-alpn-01. */
  tlsPort: number;
  /** `127.0.0.1:PORT` of the DNS server that maps the test hostnames to 127.0.0.1. */
  dnsServer: string;
  /** The lifetime of the certificates it issues (pebble's certificateValidityPeriod); 5 years by default. */
  certificateValiditySeconds?: number;
  env?: Record<string, string>;
}

export interface Pebble {
  /** The ACME directory URL (RFC 8555 §7.1.1). */
  directory: string;
  /** PEM of the certificate pebble's HTTPS listeners present: trust it to talk to them. */
  ca: string;
  /** The root that signs issued certificates (regenerated at every pebble start). */
  rootCertificate(): Promise<string>;
  /** What pebble printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5000;

export function pebbleBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'pebble');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  throw new Error(
    'pebble is not installed, and the ACME interop tests need it: run `apt-get install -y pebble` ' +
      '(Debian package; .ci/run must install it too)',
  );
}

/** A TCP port free on 127.0.0.1 just now (bound and released). */

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const binary = pebbleBinary();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-pebble-'));
  const own = await createSelfSignedCertificate({ hostnames: ['localhost'], ips: ['127.0.0.1'] });
  await writeFile(path.join(dir, 'cert.pem'), own.cert);
  await writeFile(path.join(dir, 'key.pem'), own.key, { mode: 0o600 });
  const [apiPort, managementPort] = [await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${apiPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: path.join(dir, 'cert.pem'),
      privateKey: path.join(dir, 'key.pem'),
      httpPort: options.httpPort,
      tlsPort: options.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(options.certificateValiditySeconds ? { certificateValidityPeriod: options.certificateValiditySeconds } : {}),
    },
  };
  await writeFile(path.join(dir, 'pebble-config.json'), JSON.stringify(config, null, 2));
  const child = spawn(binary, ['-config', path.join(dir, 'pebble-config.json'), '-dnsserver', options.dnsServer], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1', // validate at once instead of after a random pause
      PEBBLE_WFE_NONCEREJECT: '0', // by default pebble rejects 5% of good nonces to test client retries
      PEBBLE_AUTHZREUSE: '0', // every order validates again, renewals included
      ...options.env,
    },
  });
  let printed = '';
  const collect = (chunk: Buffer) => {
    printed = (printed + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const stop = async () => {
    await terminate(child, exited);
    await rm(dir, { recursive: true, force: true });
  };
  const directory = `https://127.0.0.1:${apiPort}/dir`;
  try {
    await waitUntilServing(directory, own.cert, exited, () => printed);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    directory,
    ca: own.cert,
    rootCertificate: () => httpsGet(`https://127.0.0.1:${managementPort}/roots/0`, own.cert),
    output: () => printed,
    stop,
  };
}

async function waitUntilServing(
  url: string,
  ca: string,
  exited: Promise<number | null>,
  printed: () => string,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let gone: number | null | undefined;
  void exited.then((code) => {
    gone = code;
  });
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (gone !== undefined) throw new Error(`pebble exited (code ${gone}) before serving:\n${printed()}`);
    try {
      await httpsGet(url, ca);
      return;
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`pebble did not serve ${url} within ${START_TIMEOUT_MS} ms (${lastError}):\n${printed()}`);
}

function httpsGet(url: string, ca: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca, timeout: timeoutMs }, (response) => {
      let body = '';
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () =>
        response.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${response.statusCode}`)),
      );
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

async function terminate(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

export interface PebbleForServer {
  /** The loopback zone pebble's validation authority resolves through: mail.example.test is 127.0.0.1. */
  dns: TestDnsServer;
  pebble: Pebble;
  /** The http-01 port pebble validates on: the server's tls.acme.http01.listen. */
  httpPort: number;
  /** A temporary directory, removed when the test ends. */
  dir: string;
  /** pebble's CA certificate as a file in `dir`: the server's tls.acme.directoryCa. */
  ca: string;
}

/** What each ACME test of the server sets up first: pebble for mail.example.test, stopped when the test ends. */
export async function pebbleForServer(
  t: { after(fn: () => unknown): void },
  prefix: string,
  options: Pick<PebbleOptions, 'certificateValiditySeconds'> = {},
): Promise<PebbleForServer> {
  const dns = await startTestDnsServer({
    records: { ...DEFAULT_TEST_ZONE.records, 'mail.example.test': { A: ['127.0.0.1'] } },
  });
  t.after(() => dns.close());
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort, tlsPort: await freePort(), dnsServer: dns.server, ...options });
  t.after(() => pebble.stop());
  const dir = tempDir(prefix);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = path.join(dir, 'pebble-ca.pem');
  writeFileSync(ca, pebble.ca);
  return { dns, pebble, httpPort, dir, ca };
}
