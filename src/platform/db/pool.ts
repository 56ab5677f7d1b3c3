/**
 * PostgreSQL pools: a writer (through PgBouncer in transaction mode in
 * production) and a reader (the streaming replica, or the writer when there
 * is none). Nothing here keeps session state, so every query is safe behind
 * PgBouncer transaction pooling; the statement and lock timeouts are
 * database-level defaults set by the migrator.
 *
 * Prepared statements (`prepare`, DB_PREPARED_STATEMENTS): every parameterised
 * query is sent as a named statement (the name is a hash of its text), so a
 * connection parses and plans it once and then only binds and executes it.
 * On by default in embedded mode, where the connection is direct and the
 * migrations run before the first query; off by default in distributed mode,
 * where PgBouncer before 1.21 (transaction pooling) cannot carry them and a
 * rolling migration could change a `SELECT *` under a prepared plan. A query
 * whose best plan depends on its values (search: how many rows a text
 * matches) starts with PLAN_EACH_CALL and stays unnamed: PostgreSQL would
 * otherwise switch it to one generic plan after five calls.
 */

import { createHash } from "node:crypto";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { counter, gauge, histogram } from "../observability/metrics.ts";

export const POOL_DEFAULTS = {
  connectTimeoutMs: 5_000,
  acquireTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
  maxLifetimeSeconds: 1_800,
  statementTimeout: "30s",
  lockTimeout: "10s",
} as const;

export interface DbConfig {
  writerUrl: string;
  readerUrl?: string | undefined;
  poolMax: number;
  applicationName: string;
  /** Send parameterised queries as named prepared statements (see above). */
  prepare?: boolean;
}

/** Put first in a query that must be planned with its values on every call (see above). */
export const PLAN_EACH_CALL = "/* nova: plan each call */";

const statementNames = new Map<string, string>();
/** A stable name per statement text (a hash: the same text gets the same name on every connection). */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `nova_${createHash("sha1").update(text).digest("base64url").slice(0, 22)}`;
    if (statementNames.size >= 10_000) statementNames.clear();
    statementNames.set(text, name);
  }
  return name;
}

const queries = counter("nova_db_queries_total", "Queries sent, by pool", ["pool"]);
const queryErrors = counter("nova_db_query_errors_total", "Queries that failed, by pool", ["pool"]);
const querySeconds = histogram("nova_db_query_seconds", "Query latency, by pool", ["pool"]);
/** Pools of this process, read when /metrics is scraped. */
const livePools = new Map<pg.Pool, "writer" | "reader">();
const poolClients = gauge("nova_db_pool_clients", "Pool clients by state", ["pool", "state"]);
(poolClients as unknown as { collect?: () => void }).collect = () => {
  poolClients.reset();
  for (const [p, name] of livePools) {
    poolClients.inc({ pool: name, state: "total" }, p.totalCount);
    poolClients.inc({ pool: name, state: "idle" }, p.idleCount);
    poolClients.inc({ pool: name, state: "waiting" }, p.waitingCount);
  }
};

function makePool(url: string, role: "writer" | "reader", cfg: DbConfig): pg.Pool {
  // pg uses one timeout for "connect" and "wait for a free client"; the
  // client subclass gives connect its own, shorter bound.
  class BoundedClient extends pg.Client {
    constructor(opts?: pg.ClientConfig) {
      super({ ...opts, connectionTimeoutMillis: POOL_DEFAULTS.connectTimeoutMs });
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    Client: BoundedClient,
    max: cfg.poolMax,
    connectionTimeoutMillis: POOL_DEFAULTS.acquireTimeoutMs,
    idleTimeoutMillis: POOL_DEFAULTS.idleTimeoutMs,
    maxLifetimeSeconds: POOL_DEFAULTS.maxLifetimeSeconds,
    application_name: `${cfg.applicationName}-${role}`,
  });
  pool.on("error", () => {
    // An idle client died (server restart, PgBouncer recycle): the pool replaces it.
  });
  // Count and time every query that goes through this pool.
  pool.on("connect", (client) => {
    const q = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: unknown }).query = (...args: unknown[]) => {
      if (
        cfg.prepare &&
        args.length === 2 &&
        typeof args[0] === "string" &&
        Array.isArray(args[1]) &&
        args[1].length &&
        !args[0].startsWith(PLAN_EACH_CALL)
      ) {
        args = [{ name: statementName(args[0]), text: args[0], values: args[1] }];
      }
      queries.inc({ pool: role });
      const end = querySeconds.startTimer({ pool: role });
      const r = q(...args);
      if (r && typeof (r as Promise<unknown>).then === "function") {
        (r as Promise<unknown>).then(
          () => end(),
          () => {
            end();
            queryErrors.inc({ pool: role });
          },
        );
      }
      return r;
    };
  });
  return pool;
}

export class Database {
  readonly writerPool: pg.Pool;
  readonly readerPool: pg.Pool;
  readonly hasReplica: boolean;

  constructor(cfg: DbConfig) {
    this.writerPool = makePool(cfg.writerUrl, "writer", cfg);
    this.hasReplica = !!cfg.readerUrl && cfg.readerUrl !== cfg.writerUrl;
    this.readerPool = this.hasReplica ? makePool(cfg.readerUrl as string, "reader", cfg) : this.writerPool;
    livePools.set(this.writerPool, "writer");
    if (this.hasReplica) livePools.set(this.readerPool, "reader");
  }

  /** Typed query builders over both pools. Use `writer` for reads that must see the caller's own writes. */
  kysely<T>(): { writer: Kysely<T>; reader: Kysely<T> } {
    const writer = new Kysely<T>({ dialect: new PostgresDialect({ pool: this.writerPool }) });
    const reader = this.hasReplica
      ? new Kysely<T>({ dialect: new PostgresDialect({ pool: this.readerPool }) })
      : writer;
    return { writer, reader };
  }

  async ping(): Promise<{ writer: boolean; reader: boolean }> {
    const one = async (p: pg.Pool) => {
      try {
        await p.query("select 1");
        return true;
      } catch {
        return false;
      }
    };
    const [writer, reader] = await Promise.all([one(this.writerPool), one(this.readerPool)]);
    return { writer, reader };
  }

  async close(): Promise<void> {
    livePools.delete(this.writerPool);
    livePools.delete(this.readerPool);
    await this.writerPool.end();
    if (this.hasReplica) await this.readerPool.end();
  }
}
