/**
 * Postern on PostgreSQL as the server under test: `postern-pg` is one node, `postern-pg-2` two node
 * processes on the same database, each on its own port. Every start gets a fresh database, dropped when
 * the server stops (also from `stopAll` on an interrupted run). CPU and RSS are the nodes' own, summed;
 * PostgreSQL's CPU is measured on the side (`databaseCpu`).
 */
import { createDatabase, databaseUrl, dropDatabase, pgCpuSeconds, samplePgCpu, sampleWaits } from './postgres.ts';
import {
  type DatabaseProbe,
  type Server,
  type ServerKind,
  ServerProcess,
  track,
  type Usage,
  untrack,
} from './server-process.ts';

export const PG_KINDS: ServerKind[] = ['postern-pg', 'postern-pg-2'];
export const isPgKind = (kind: ServerKind): boolean => PG_KINDS.includes(kind);

export class PgServer implements Server {
  readonly kind: ServerKind;
  readonly database: string;
  readonly nodes: ServerProcess[] = [];
  #stopping: Promise<void> | undefined;

  private constructor(kind: ServerKind, database: string) {
    this.kind = kind;
    this.database = database;
  }

  static async start(kind: ServerKind, dnsPort: number, mailboxes = 1, cpuCap?: number): Promise<PgServer> {
    const database = await createDatabase();
    const server = new PgServer(kind, database);
    track(server);
    try {
      const store = { engine: 'postgres', url: databaseUrl(database), poolSize: 10 };
      const count = kind === 'postern-pg-2' ? 2 : 1;
      // One after the other: the first node's `user add` creates the schema and the account they share.
      for (let i = 0; i < count; i++) {
        server.nodes.push(await ServerProcess.start(kind, dnsPort, { store, addUser: i === 0, mailboxes, cpuCap }));
      }
      return server;
    } catch (e) {
      await server.stop();
      throw e;
    }
  }

  get port(): number {
    return this.nodes[0]?.port ?? 0;
  }

  get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  get alive(): boolean {
    return this.nodes.length > 0 && this.nodes.every((n) => n.alive);
  }

  usage(): Usage {
    const all = this.nodes.map((n) => n.usage());
    return {
      cpuSeconds: all.reduce((sum, u) => sum + u.cpuSeconds, 0),
      rssMb: all.reduce((sum, u) => sum + u.rssMb, 0),
    };
  }

  /** Starts measuring PostgreSQL's CPU (from /proc) and sampling what our backends wait on. */
  databaseProbe(): DatabaseProbe {
    const before = samplePgCpu(this.database);
    const sampler = sampleWaits(this.database);
    return {
      cpuSeconds: () => pgCpuSeconds(before, samplePgCpu(this.database)),
      waits: () => sampler.stop(),
    };
  }

  /** The nodes first (they hold connections to the database), then the database. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(this.nodes.map((n) => n.stop()));
      try {
        await dropDatabase(this.database);
      } catch (e) {
        process.stderr.write(`warning: could not drop database ${this.database}: ${(e as Error).message}\n`);
      }
      untrack(this);
    })();
    return this.#stopping;
  }
}
