/**
 * The real server, in-process, on 127.0.0.1 port 0 with a temporary data directory and two
 * accounts (alice@example.com, bob@example.com) created through the store.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.ts';
import type { Config, ConfigInput } from '../../src/config/schema.ts';
import type { Resolver } from '../../src/dns/resolver.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startServer } from '../../src/server/server.ts';
import type { ContentBudget } from '../../src/smtp/content-budget.ts';
import type { Store } from '../../src/store/store.ts';
import type { CertificateStore } from '../../src/tls/certificate-store.ts';
import { acquireTestDns } from './dns.ts';

// A well-formed argon2id PHC string; SMTP never checks it.
export const TEST_PASSWORD_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';

export interface TestServer {
  port: number;
  /** STARTTLS submission and implicit-TLS submission (a self-signed certificate for mx.example.com). */
  submissionPort: number;
  submissionsPort: number;
  certificates: CertificateStore;
  config: Config;
  store: Store;
  resolver: Resolver;
  contentBudget: ContentBudget;
  dataDir: string;
  /** Stops the server (idempotent), then removes the temporary directory. */
  stop(): Promise<void>;
  /** Stops the listener and store but keeps the directory (for graceful-shutdown tests). */
  stopServer(): Promise<void>;
  /** The stored bytes of every message in the account's INBOX, in UID order. */
  inbox(address: string): Promise<Buffer[]>;
  /** The log lines so far, parsed (set `log.level` in the overrides; the default is silent). */
  logs(): Record<string, unknown>[];
}

export type TestOverrides = Omit<ConfigInput, 'smtp'> & { smtp?: ConfigInput['smtp'] };

export function tempDir(prefix = 'postern-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startTestServer(overrides: TestOverrides = {}): Promise<TestServer> {
  const root = tempDir();
  const dataDir = path.join(root, 'data');
  const dns = await acquireTestDns();
  const config = ((): Config => {
    try {
      return parseConfig(
        {
          hostname: 'mx.example.com',
          domains: ['example.com'],
          dataDir,
          listen: { smtp: '127.0.0.1:0', submission: '127.0.0.1:0', submissions: '127.0.0.1:0' },
          log: { level: 'silent' },
          // The periodic dns check would probe the test zone's addresses, which are not loopback.
          dnsCheckIntervalMinutes: 0,
          dns: { servers: [dns.server], timeoutMs: 500, tries: 1 },
          // The test senders' example.net and example.org are TLD swaps of our example.com: phishing
          // scoring would tag them. Tests of the filter (test/server/content-filter.test.ts) set `filter`.
          filter: { phishing: { enabled: false } },
          ...overrides,
          smtp: { shutdownGraceMs: 2000, ...overrides.smtp },
        },
        'test',
      );
    } catch (err) {
      void dns.release();
      throw err;
    }
  })();
  const logLines: string[] = [];
  const logSink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  let server: Awaited<ReturnType<typeof startServer>>;
  let started: typeof server | undefined;
  try {
    server = await startServer({ config, logger: createLogger(config.log.level, logSink) });
    started = server;
    for (const address of ['alice@example.com', 'bob@example.com']) {
      // A dataDir given in the overrides may hold them already (a restart on the same store).
      if (!(await server.store.findAccount(address))) await server.store.createAccount(address, TEST_PASSWORD_HASH);
    }
  } catch (err) {
    await started?.stop(); // its listeners would keep the test process alive
    fs.rmSync(root, { recursive: true, force: true });
    await dns.release();
    throw err;
  }
  const stopServer = () => server.stop();
  return {
    port: server.smtp.port,
    submissionPort: server.submission?.port ?? 0,
    submissionsPort: server.submissions?.port ?? 0,
    certificates: server.certificates,
    config,
    store: server.store,
    resolver: server.resolver,
    contentBudget: server.contentBudget,
    dataDir,
    stopServer,
    async stop() {
      try {
        await stopServer();
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
        await dns.release();
      }
    },
    inbox: (address) => inboxOf(server.store, address),
    logs: () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

export async function inboxOf(store: Store, address: string): Promise<Buffer[]> {
  const account = await store.findAccount(address);
  if (!account) throw new Error(`no account ${address}`);
  const mailbox = await store.getMailbox(account.id, 'INBOX');
  if (!mailbox) throw new Error(`${address} has no INBOX`);
  const out: Buffer[] = [];
  for (const m of await store.listMessages(mailbox.id)) {
    const content = await store.readMessage(mailbox.id, m.uid);
    if (content) out.push(Buffer.from(content));
  }
  return out;
}

/** The message as the client sent it: the stored bytes after our Return-Path and Received headers. */
export function withoutTrace(stored: Buffer): Buffer {
  const text = stored.toString('latin1');
  // Return-Path, Received, and the Authentication-Results field the server adds after them.
  const m =
    /^Return-Path: <[^>]*>\r\nReceived: [^\r]*\r\n(?:\t[^\r]*\r\n)*(?:Authentication-Results: [^\r]*\r\n(?:\t[^\r]*\r\n)*)?/.exec(
      text,
    );
  if (!m) throw new Error(`no trace headers: ${JSON.stringify(text.slice(0, 200))}`);
  return stored.subarray(Buffer.byteLength(m[0], 'latin1'));
}
