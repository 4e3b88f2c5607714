/** The composition root: builds the store, the inbound pipeline and the listeners from the config. */

import { AccountCache } from '../accounts/account-cache.ts';
import { splitHostPort } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Resolver } from '../dns/resolver.ts';
import { createResolver } from '../dns/system-resolver.ts';
import type { Logger } from '../log/logger.ts';
import { InboundPolicy } from '../policy/inbound-policy.ts';
import { SmtpListener } from '../smtp/listener.ts';
import { NullStore } from '../store/null-store.ts';
import { describeStore, openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { inboundHandlers } from './inbound.ts';

export interface ServerOptions {
  config: Config;
  logger: Logger;
  /** Benchmark reference only: accept and discard every message (see docs/benchmarks.md). */
  discardMail?: boolean;
}

export interface RunningServer {
  smtp: { address: string; port: number };
  store: Store;
  /** The one resolver every DNS-dependent check uses (ARCHITECTURE.md principle 6), from `dns.*`. */
  resolver: Resolver;
  stop(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config, logger } = options;
  const resolver = createResolver({
    servers: config.dns.servers,
    timeoutMs: config.dns.timeoutMs,
    tries: config.dns.tries,
  });
  const opened = await openStore(config, {
    applicationName: `postern ${config.hostname}:${process.pid}`,
    onError: (error) => logger.warn({ err: error }, 'store: a background connection failed'),
  });
  const { migration } = opened;
  if (migration.applied.length > 0) {
    logger.info(
      { from: migration.from, to: migration.to, backup: migration.backup },
      `store: migrated the schema from version ${migration.from} to ${migration.to}`,
    );
  }
  logger.info(`store: ${await describeStore(config)}, schema version ${migration.to}`);
  const store: Store = options.discardMail ? new NullStore({ readFrom: opened }) : opened;
  // Accounts seen at RCPT are cached briefly: a pipelined RCPT group is answered without waiting.
  const accounts = new AccountCache((address) => store.findAccount(address), { ttlMs: 10_000, maxEntries: 10_000 });
  let policy: InboundPolicy;
  try {
    policy = new InboundPolicy({ config, resolver, store, accounts, logger });
  } catch (err) {
    await closeStores(store, opened);
    throw err;
  }
  const { host, port } = splitHostPort(config.listen.smtp);
  const smtp = config.smtp;
  const listener = new SmtpListener({
    host,
    port,
    session: {
      hostname: config.hostname,
      maxMessageSize: smtp.maxMessageSize,
      maxRecipients: smtp.maxRecipients,
      maxCommandsBeforeMail: smtp.maxCommandsBeforeMail,
      maxErrors: smtp.maxErrors,
      bareLineEndings: smtp.bareLineEndings,
      vrfy: smtp.vrfy,
    },
    greetDelayMs: smtp.greetDelayMs,
    softErrorLimit: smtp.softErrorLimit,
    errorSleepMs: smtp.errorSleepMs,
    maxConnections: smtp.maxConnections,
    idleTimeoutMs: smtp.idleTimeoutMs,
    dataTimeoutMs: smtp.dataTimeoutMs,
    logger,
    handlers: inboundHandlers({ hostname: config.hostname, store, policy, logger }),
  });
  let bound: { address: string; port: number };
  try {
    bound = await listener.listen();
  } catch (err) {
    await policy.close();
    await closeStores(store, opened);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    smtp: bound,
    store,
    resolver,
    stop() {
      stopping ??= (async () => {
        await listener.close(smtp.shutdownGraceMs);
        await policy.close();
        // Deliveries per commit shows how well group commit works under the load seen.
        logger.info(opened.stats(), 'store: commits and deliveries since start');
        await closeStores(store, opened);
      })();
      return stopping;
    },
  };
}

async function closeStores(store: Store, opened: Store): Promise<void> {
  if (store !== opened) await store.close();
  await opened.close();
}
