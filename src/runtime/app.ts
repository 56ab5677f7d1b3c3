/**
 * Starts and stops a set of modules in one process: embedded (`nova start`:
 * every module, embedded PostgreSQL, in-process calls) or distributed
 * (`nova serve --target=…`: remote peers over gRPC with mTLS).
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Logger } from "pino";
import { type Cache, createCache } from "../platform/cache/cache.ts";
import { type EmbeddedDb, startEmbeddedPostgres } from "../platform/db/embedded.ts";
import { migrate } from "../platform/db/migrator.ts";
import { Database } from "../platform/db/pool.ts";
import { type EventHandler, serveReplayRequests } from "../platform/events/consumer.ts";
import { createOutbox, type Outbox } from "../platform/events/outbox.ts";
import { eventTables } from "../platform/events/sets.ts";
import { startKafkaSource, startLogSource } from "../platform/events/sources.ts";
import { dlqPublisher } from "../platform/events/transports.ts";
import { createLogger, setRootLogger } from "../platform/observability/logger.ts";
import { initTracing, shutdownTracing } from "../platform/observability/tracing.ts";
import { type Bus, createBus } from "../platform/pubsub/bus.ts";
import { createTransport, type Peer, serviceClient } from "../platform/rpc/client.ts";
import { HealthRegistry, ServingStatus } from "../platform/rpc/health.ts";
import { type Closable, type ServiceRegistration, startAdminServer, startRpcServer } from "../platform/rpc/server.ts";
import { loadTls, type TlsMaterial } from "../platform/rpc/tls.ts";
import { type Config, ConfigError, redactedConfig } from "./config.ts";
import type { ModuleContext, ModuleInstance } from "./module.ts";
import {
  allowedCallers,
  hasEventTables,
  type ModuleName,
  moduleDef,
  outboxSchemas,
  ownsOutbox,
  providerOf,
} from "./modules.ts";

export interface StartOptions {
  mode: "embedded" | "distributed";
  targets: ModuleName[];
  config: Config;
  log?: Logger;
  /** The wall clock in ms that modules read through `ctx.clock` (a test moves its own; default Date.now). */
  clock?: () => number;
}

export interface Nova {
  readonly log: Logger;
  readonly rpcPort?: number;
  readonly adminPort: number;
  /** Instances of the modules that run here, by name. */
  readonly instances: ReadonlyMap<ModuleName, ModuleInstance>;
  /** Stops everything in reverse start order; safe to call twice. */
  stop(): Promise<void>;
}

export async function runMigrations(db: Database, targets: ModuleName[], log: Logger): Promise<void> {
  const sets = targets.flatMap((m) => {
    const s = moduleDef(m).migrations;
    if (!s) return [];
    return hasEventTables(m) ? [s, eventTables(s.schema)] : [s];
  });
  if (sets.length === 0) return;
  const results = await migrate(db.writerPool, sets);
  for (const r of results)
    if (r.applied.length) log.info({ schema: r.schema, applied: r.applied }, "migrations applied");
}

/**
 * Feeds a module's handlers: one Kafka consumer group each when KAFKA_BROKERS
 * is set, else the embedded Postgres log; and serves `nova dlq replay` requests.
 */
async function startConsumers(
  name: ModuleName,
  handlers: EventHandler[],
  db: Database,
  config: Config,
  log: Logger,
): Promise<() => Promise<void>> {
  const declared = new Set(moduleDef(name).consumes ?? []);
  for (const h of handlers) {
    // The handler name is the Kafka consumer group: `<module>.<handler>`, so deployments can name it.
    if (!h.name.startsWith(`${name}.`))
      throw new Error(`module ${name}: consumer ${h.name} must be named ${name}.<handler>`);
  }
  for (const h of handlers)
    for (const t of h.topics)
      if (!declared.has(t)) throw new Error(`module ${name}: consumer ${h.name} reads ${t}, not in its \`consumes\``);
  const k = db.kysely<unknown>().writer;
  const dlq = config.kafkaBrokers.length
    ? dlqPublisher({ brokers: config.kafkaBrokers, clientId: `nova-${name}` })
    : undefined;
  const deliver = { log, onDead: dlq?.publish };
  // Side by side: each Kafka source's first join of its group is a few round trips to the broker.
  const settled = await Promise.allSettled(
    handlers.map((handler) => {
      handler.maxAttempts ??= config.EVENT_MAX_ATTEMPTS;
      return config.kafkaBrokers.length
        ? startKafkaSource({ brokers: config.kafkaBrokers, clientId: `nova-${name}`, db: k, handler, deliver })
        : startLogSource({ pool: db.writerPool, db: k, handler, deliver });
    }),
  );
  const running = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) {
    await Promise.all(running.map((r) => r.stop()));
    await dlq?.close();
    throw failed.reason;
  }
  const replays = serveReplayRequests(k, handlers, log);
  log.info(
    { consumers: handlers.map((h) => h.name), transport: config.kafkaBrokers.length ? "kafka" : "postgres-log" },
    "consumers started",
  );
  return async () => {
    await replays.stop();
    await Promise.all(running.map((r) => r.stop()));
    await dlq?.close();
  };
}

export async function startNova(opts: StartOptions): Promise<Nova> {
  const { config, targets, mode } = opts;
  const identity = targets.join("+");
  await initTracing(`nova-${identity}`);
  const log = opts.log ?? createLogger({ level: config.LOG_LEVEL, name: `nova-${identity}` });
  setRootLogger(log);
  log.info({ mode, targets, config: redactedConfig(config) }, "starting");

  const startup: Startup = {
    mode,
    config,
    targets,
    identity,
    log,
    health: new HealthRegistry(),
    stops: [],
    tls: lazily(() => loadTls(config.tls)),
    clock: opts.clock ?? Date.now,
    timings: {},
  };
  const stop = stopInReverse(startup);
  try {
    const t = startup.timings;
    let mark = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      t[name] = Math.round(now - mark);
      mark = now;
    };
    // Everything before this line: Node's start, the imports of the command and the runtime.
    t.beforeStart = Math.round(mark);
    const db = await openDatabase(startup);
    lap("database");
    t.database = (t.database ?? 0) - (t.migrations ?? 0);
    const { instances, localServices } = await initModules(startup, db);
    lap("modules");
    t.modules = (t.modules ?? 0) - (t.consumers ?? 0);
    const { rpcPort, adminPort } = await startServers(startup, db, instances, localServices);
    lap("servers");
    // Since the process started (performance.now()), migrations counted apart (bench startup reads this line).
    t.sinceProcessStart = Math.round(performance.now());
    log.info({ rpcPort, adminPort, startupMs: t }, "ready");
    return { log, rpcPort, adminPort, instances, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What the steps of one start share. Each step registers in `stops` what it started; they run in reverse. */
interface Startup {
  mode: StartOptions["mode"];
  config: Config;
  targets: ModuleName[];
  /** The targets joined by `+`: this process's name in logs, pools, the cache and the bus. */
  identity: string;
  log: Logger;
  health: HealthRegistry;
  stops: (() => Promise<void>)[];
  /** Loaded on first use: only remote peers and the RPC server need it. */
  tls: () => TlsMaterial;
  clock: () => number;
  /** Milliseconds per start-up step, logged with "ready". */
  timings: Record<string, number>;
}

type LocalServices = Map<ModuleName, ServiceRegistration[]>;

/** Made on the first call, then the same value; a call that throws makes nothing (the next one tries again). */
function lazily<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}

/** The stop of a start: not serving, then every registered stop in reverse, each error logged; safe to call twice. */
function stopInReverse({ stops, health, log }: Startup): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= (async () => {
      health.setAll(ServingStatus.NOT_SERVING);
      for (const s of stops.reverse()) {
        try {
          await s();
        } catch (err) {
          log.error({ err }, "error while stopping");
        }
      }
      await shutdownTracing();
      log.info("stopped");
    })();
    return stopped;
  };
}

/** Embedded PostgreSQL, or the configured pools; none when no target owns a schema. Migrates when told to. */
async function openDatabase({
  mode,
  config,
  targets,
  identity,
  log,
  stops,
  timings,
}: Startup): Promise<Database | undefined> {
  const needsDb = targets.some((m) => moduleDef(m).migrations);
  if (!needsDb) return undefined;
  let writerUrl = config.DATABASE_URL;
  let readerUrl = config.DATABASE_READ_URL;
  if (mode === "embedded" && !writerUrl) {
    const pgLog = log.child({ component: "postgres" });
    const embedded: EmbeddedDb = await startEmbeddedPostgres(config.dataDir, (m) => m && pgLog.debug(m));
    stops.push(() => embedded.stop());
    writerUrl = embedded.url;
    readerUrl = undefined;
  }
  if (!writerUrl) throw new ConfigError([`DATABASE_URL: required for targets ${identity}`]);
  const database = new Database({
    writerUrl,
    readerUrl,
    poolMax: config.DB_POOL_MAX,
    applicationName: `nova-${identity}`,
    prepare: config.DB_PREPARED_STATEMENTS ? config.DB_PREPARED_STATEMENTS === "true" : mode === "embedded",
  });
  stops.push(() => database.close());
  const migrateOnStart = config.MIGRATE_ON_START ? config.MIGRATE_ON_START === "true" : mode === "embedded";
  if (migrateOnStart) {
    const t0 = performance.now();
    await runMigrations(database, targets, log);
    timings.migrations = Math.round(performance.now() - t0);
  }
  return database;
}

/** Initialises the targets in order: each module's instance, its served services (SERVING) and its consumers. */
async function initModules(
  startup: Startup,
  db: Database | undefined,
): Promise<{ instances: Map<ModuleName, ModuleInstance>; localServices: LocalServices }> {
  const { config, targets, health, stops } = startup;
  const instances = new Map<ModuleName, ModuleInstance>();
  const localServices: LocalServices = new Map();
  const shared = {
    clientFor: clientFactory(startup, localServices),
    cache: processCache(startup),
    bus: processBus(startup),
  };
  for (const name of targets) {
    const ctx = moduleContext(startup, name, db, shared);
    const inst = await moduleDef(name).init(ctx);
    instances.set(name, inst);
    if (inst.services?.length) {
      localServices.set(name, inst.services);
      for (const s of inst.services) health.set(s.service.typeName, ServingStatus.SERVING);
    }
    if (inst.stop) stops.push(() => (inst.stop as (g: number) => Promise<void>)(config.SHUTDOWN_GRACE_MS));
    if (inst.consumers?.length) {
      if (!db) throw new Error(`module ${name} has consumers but no database`);
      const t0 = performance.now();
      stops.push(await startConsumers(name, inst.consumers, db, config, ctx.log));
      startup.timings.consumers = Math.round((startup.timings.consumers ?? 0) + performance.now() - t0);
    }
  }
  return { instances, localServices };
}

function moduleContext(
  { mode, config, log, health, clock }: Startup,
  name: ModuleName,
  db: Database | undefined,
  shared: { clientFor: (caller: ModuleName) => ModuleContext["client"]; cache: () => Cache; bus: () => Bus },
): ModuleContext {
  let outbox: Outbox | undefined;
  return {
    name,
    mode,
    config,
    log: log.child({ module: name }),
    health,
    outboxSchemas: outboxSchemas(),
    clock,
    db: () => {
      if (!db) throw new Error(`module ${name} has no database`);
      return db;
    },
    client: shared.clientFor(name),
    cache: shared.cache,
    bus: shared.bus,
    outbox: () => {
      const schema = moduleDef(name).migrations?.schema;
      if (!schema || !ownsOutbox(name)) throw new Error(`module ${name} has no outbox`);
      outbox ??= createOutbox({ service: name, schema });
      return outbox;
    },
  };
}

/**
 * Peers: a module's dependency is local when it runs here (`localServices`, filled as modules start), remote
 * otherwise. One client per caller and service, made on first use.
 */
function clientFactory({ config, tls }: Startup, localServices: LocalServices) {
  return (caller: ModuleName) => {
    const clients = new Map<string, unknown>();
    return <S extends DescService>(service: S): Client<S> => {
      const provider = providerOf(service.typeName);
      if (!provider || !moduleDef(caller).deps.includes(provider)) {
        throw new Error(`module ${caller} does not declare a dependency on the provider of ${service.typeName}`);
      }
      let c = clients.get(service.typeName) as Client<S> | undefined;
      if (!c) {
        const local = localServices.get(provider);
        const peer: Peer = local
          ? { kind: "local", services: local }
          : { kind: "remote", baseUrl: config.peerAddr(provider), tls: tls() };
        c = serviceClient(service, createTransport({ caller, target: provider, peer }), config.RPC_TIMEOUT_MS);
        clients.set(service.typeName, c);
      }
      return c;
    };
  };
}

/** The process's one cache, made when a module first asks. */
function processCache({ config, identity, log, stops }: Startup): () => Cache {
  return lazily(() => {
    const off = config.CACHE_ENABLED === "false";
    const c = createCache({
      redisUrl: config.REDIS_URL,
      log: log.child({ component: "cache" }),
      name: identity,
      l1MaxEntries: config.CACHE_L1_MAX_ENTRIES,
      l1MaxBytes: config.CACHE_L1_MAX_MB * 1024 * 1024,
      redisTimeoutMs: config.CACHE_REDIS_TIMEOUT_MS,
      ...(off ? { l1: false, l2: false } : {}),
    });
    stops.push(() => c.close());
    return c;
  });
}

/** The process's one bus, made when a module first asks. */
function processBus({ mode, config, identity, log, stops }: Startup): () => Bus {
  return lazily(() => {
    // Across processes the bus is Redis; in-process it only reaches modules of this process.
    if (mode === "distributed" && !config.REDIS_URL) {
      throw new Error("REDIS_URL is required in distributed mode: the real-time bus crosses processes");
    }
    const b = createBus({ redisUrl: config.REDIS_URL, log: log.child({ component: "bus" }), name: identity });
    stops.push(() => b.close());
    return b;
  });
}

/** The RPC server (distributed mode, when a target serves something) and the admin server. */
async function startServers(
  { mode, config, health, stops, tls }: Startup,
  db: Database | undefined,
  instances: ReadonlyMap<ModuleName, ModuleInstance>,
  localServices: LocalServices,
): Promise<{ rpcPort: number | undefined; adminPort: number }> {
  let rpcPort: number | undefined;
  const servers: Closable[] = [];
  if (mode === "distributed") {
    const served = [...localServices.values()].flat();
    if (served.length) {
      const rpc = await startRpcServer({
        host: config.HOST,
        port: config.RPC_PORT,
        tls: tls(),
        services: served,
        health,
        allowedCallers,
      });
      rpcPort = rpc.port;
      servers.push(rpc);
    }
  }
  // Metrics and probes live on the admin port, never on the public API port; embedded mode keeps it on loopback.
  const admin = await startAdminServer({
    host: mode === "embedded" ? "127.0.0.1" : config.HOST,
    port: config.ADMIN_PORT,
    health,
    ready: async () => {
      const checks: Record<string, boolean> = {};
      if (db) Object.assign(checks, await db.ping());
      for (const [n, i] of instances) if (i.ready) checks[n] = await i.ready();
      return checks;
    },
  });
  servers.push(admin);
  // Servers stop first (stops run in reverse): stop taking calls, drain, then modules and pools.
  for (const s of servers) stops.push(() => s.close(config.SHUTDOWN_GRACE_MS));
  return { rpcPort, adminPort: admin.port };
}
