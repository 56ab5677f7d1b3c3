/** The contract between the runtime and a module. */
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Cache } from "../platform/cache/cache.ts";
import type { MigrationSet } from "../platform/db/migrator.ts";
import type { Database } from "../platform/db/pool.ts";
import type { EventHandler } from "../platform/events/consumer.ts";
import type { Outbox } from "../platform/events/outbox.ts";
import type { Bus } from "../platform/pubsub/bus.ts";
import type { HealthRegistry } from "../platform/rpc/health.ts";
import type { ServiceRegistration } from "../platform/rpc/server.ts";
import type { Config } from "./config.ts";

export interface ModuleContext {
  readonly name: string;
  /** embedded: `nova start`, everything in one process; distributed: `nova serve`. */
  readonly mode: "embedded" | "distributed";
  readonly config: Config;
  readonly log: Logger;
  readonly health: HealthRegistry;
  /** The schema of every outbox in the module table (the relay serves them all). */
  readonly outboxSchemas: readonly string[];
  /** The wall clock in ms for rules of time a test must move (TOTP windows, challenge expiry). */
  readonly clock: () => number;
  /** The process's pools (only for modules that own a schema). */
  db(): Database;
  /** The process's two-tier cache (L1 only without REDIS_URL). */
  cache(): Cache;
  /** The process's pub/sub bus for real-time fan-out (Redis with REDIS_URL, in-process otherwise). */
  bus(): Bus;
  /** The outbox of this module's schema: events written in the caller's transaction (modules with migrations). */
  outbox(): Outbox;
  /** A client for a service of a module this one depends on, in-process or remote as the topology says. */
  client<S extends DescService>(service: S): Client<S>;
}

export interface ModuleInstance {
  /** Where the module listens for clients, if it does (e.g. the gateway's http://host:port). */
  address?: string;
  /** gRPC services this module serves. */
  services?: ServiceRegistration[];
  /**
   * Event handlers the runtime feeds, from Kafka consumer groups or the
   * embedded Postgres log; a handler's topics must be listed in the module's `consumes`.
   */
  consumers?: EventHandler[];
  /** Readiness of the module's own dependencies. */
  ready?(): Promise<boolean>;
  /** Stop accepting work and drain what is in flight (bounded by graceMs). */
  stop?(graceMs: number): Promise<void>;
}

export interface ModuleDef {
  /** Modules whose services this one calls (also: who may call whom over mTLS). */
  readonly deps: readonly string[];
  /** The services this module serves. */
  readonly provides?: readonly DescService[];
  /** The schema this module owns and its migrations. */
  readonly migrations?: MigrationSet;
  /** Event topics this module's consumers read (also its autoscaling triggers). */
  readonly consumes?: readonly string[];
  readonly init: (ctx: ModuleContext) => Promise<ModuleInstance>;
}
