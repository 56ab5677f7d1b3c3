/**
 * The two-tier read-through cache (ARCHITECTURE §5).
 *
 * - L1: in-process LRU (lru-cache), bounded by entries and by bytes, short TTLs.
 * - L2: Redis (ioredis), longer TTLs, shared by every replica.
 * - Single-flight: concurrent misses of one key share one load, L2 lookup and
 *   loader included; `getMany` makes one MGET and one loader call for all its
 *   misses and joins loads already in flight for some of its ids.
 * - A loader answer of `undefined`/`null` ("not found") is cached for the
 *   entity's `negativeMs`; every TTL gets ±10 % jitter (policy.ts).
 * - Writes call `invalidate` after they commit: every replica, this one
 *   included, drops its L1 entries (pub/sub on `nova:cache:invalidate`), the L2
 *   keys are deleted (again after a short delay, so a load that read the
 *   database before the write cannot leave a stale copy), and a load that began
 *   before the invalidation neither fills L1 nor writes L2.
 * - Redis down: every command has a short timeout and runs behind a circuit
 *   breaker (cockatiel); while it is open Redis is skipped altogether, reads go
 *   to the loader and writes still succeed. Invalidations that could not reach
 *   Redis are remembered and sent when it is back; until then those keys skip
 *   L2. After the subscriber (re)connects, L1 is cleared, because
 *   invalidations published while it was away are lost.
 * - Without a Redis URL (embedded mode) only L1 is used, with the same API.
 *
 * Values are stored as JSON: plain objects by default, or through an
 * entity's `codec` (e.g. protobuf messages with toJson/fromJson). L1 hands out
 * the same object to every reader: treat cached values as immutable.
 */
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
import { Redis, type RedisOptions } from "ioredis";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { counter, gauge } from "../observability/metrics.ts";
import { jitter, keyFormat, policyFor, type TtlPolicy } from "./policy.ts";

export { JITTER, jitter, keyFormat, policyFor, TTL_POLICY, type TtlPolicy } from "./policy.ts";

export const INVALIDATE_CHANNEL = "nova:cache:invalidate";

const requests = counter("nova_cache_requests_total", "Cache lookups by tier and result (hit, miss, error)", [
  "tier",
  "result",
]);
const loads = counter("nova_cache_loads_total", "Loader calls (misses in every tier), by entity", ["entity"]);
const invalidations = counter("nova_cache_invalidations_total", "Keys invalidated by writes, by entity", ["entity"]);
const received = counter("nova_cache_invalidations_received_total", "Invalidation messages received from Redis");
const redisErrors = counter("nova_cache_redis_errors_total", "Failed Redis calls and connection errors", ["op"]);
const redisSkipped = counter("nova_cache_redis_skipped_total", "Redis calls skipped while the breaker is open", ["op"]);
const breakerOpen = gauge("nova_cache_breaker_open", "1 while the cache's Redis circuit breaker is not closed", [
  "cache",
]);
const breakerState = gauge("nova_cache_breaker_state", "Redis circuit breaker: 0 closed, 1 half-open, 2 open", [
  "cache",
]);
const pendingGauge = gauge("nova_cache_pending_invalidations", "Invalidated keys not yet delivered to Redis", [
  "cache",
]);

export interface CacheOptions {
  /** Redis for L2 and cross-replica invalidation; without it only L1 is used. */
  redisUrl?: string;
  log: Logger;
  /** Names this cache in metrics and logs (one cache per process: the process's name). */
  name?: string;
  /** L1 bounds (default 50,000 entries, 64 MiB of serialized JSON). */
  l1MaxEntries?: number;
  l1MaxBytes?: number;
  /** Timeout of one Redis command (default 150 ms). */
  redisTimeoutMs?: number;
  /** The breaker opens after this many consecutive Redis failures (default 3)… */
  breakerFailures?: number;
  /** …and lets one probe through after this long (default 2 s). */
  breakerHalfOpenMs?: number;
  /** Most invalidated keys kept for a Redis that is down (default 100,000). */
  maxPendingInvalidations?: number;
  /** Switch tiers off (CACHE_ENABLED=false, benchmarks). */
  l1?: boolean;
  l2?: boolean;
  /** L1's clock (lru-cache `perf`); tests pass a fake one. */
  clock?: { now(): number };
}

/** How an entity's values become JSON and back; the default is the identity. */
export interface Codec<T> {
  encode(value: T): unknown;
  decode(json: unknown): T;
}

export interface EntityCache<T> {
  /** `nova:<service>:<entity>:<id>:v<version>` */
  key(id: string): string;
  /** Read-through for one id; a loader answer of undefined or null is cached briefly as "not found". */
  get(id: string, loader: () => Promise<T | null | undefined>): Promise<T | undefined>;
  /**
   * Read-through for many ids: one L2 MGET, then ONE loader call with every id
   * still missing. An id the loader leaves out of its map is cached as "not
   * found". The answer has the found ids, in the order asked.
   */
  getMany(ids: readonly string[], loader: (missing: string[]) => Promise<Map<string, T>>): Promise<Map<string, T>>;
  /** Call after a write commits: drops the ids from L2 and from every replica's L1. Never throws for Redis. */
  invalidate(ids: readonly string[]): Promise<void>;
}

export interface CacheStats {
  l1Entries: number;
  l1Bytes: number;
  pendingInvalidations: number;
  breaker: "closed" | "half-open" | "open" | "isolated";
  /** The invalidation subscription is live. */
  subscribed: boolean;
}

/** One entity as the cache sees it. */
interface Ent {
  name: string;
  ttl: TtlPolicy;
  key(id: string): string;
  /** JSON text of a value (null: "not found"). */
  serialize(v: unknown): string;
  /** A value from its JSON text (null: "not found"). */
  parse(raw: string): unknown;
}

interface Slot {
  /** null: a cached "not found". */
  v: unknown;
}

const NOT_FOUND = "null";
const STATE_NAMES = { 0: "closed", 1: "open", 2: "half-open", 3: "isolated" } as const;

/** The process's cache: `createCache` once per process, then `entity(...)` handles. */
export function createCache(opts: CacheOptions): Cache {
  return new Cache(opts);
}

export class Cache {
  private readonly l1: LRUCache<string, Slot> | undefined;
  private readonly redis: Redis | undefined;
  private readonly sub: Redis | undefined;
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Bumped per key on invalidation: a load that began earlier does not fill either tier. */
  private readonly generations = new Map<string, number>();
  /** Bumped when L1 is cleared as a whole. */
  private epoch = 0;
  /** Invalidated keys whose DEL/PUBLISH did not reach Redis. */
  private readonly pending = new Set<string>();
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private subscribed = false;
  private readonly breaker;
  private readonly log: Logger;
  private readonly name: string;
  private readonly maxPending: number;
  private closed = false;

  constructor(opts: CacheOptions) {
    this.log = opts.log;
    this.name = opts.name ?? "nova";
    this.maxPending = opts.maxPendingInvalidations ?? 100_000;
    if (opts.l1 !== false) {
      this.l1 = new LRUCache<string, Slot>({
        max: opts.l1MaxEntries ?? 50_000,
        maxSize: opts.l1MaxBytes ?? 64 * 1024 * 1024,
        ...(opts.clock ? { perf: opts.clock } : {}),
      });
    }
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: opts.breakerHalfOpenMs ?? 2_000,
      breaker: new ConsecutiveBreaker(opts.breakerFailures ?? 3),
    });
    const labels = { cache: this.name };
    breakerOpen.set(labels, 0);
    breakerState.set(labels, 0);
    pendingGauge.set(labels, 0);
    this.breaker.onStateChange((s) => {
      breakerOpen.set(labels, s === CircuitState.Closed ? 0 : 1);
      breakerState.set(labels, s === CircuitState.Open ? 2 : s === CircuitState.HalfOpen ? 1 : 0);
      if (s === CircuitState.Open) this.log.warn("cache: Redis circuit open; reading through to the loaders");
      if (s === CircuitState.Closed) {
        this.log.info("cache: Redis circuit closed");
        void this.flushPending();
      }
    });
    if (opts.redisUrl && opts.l2 !== false) {
      const common: RedisOptions = {
        // Fail fast instead of queueing while disconnected; the breaker decides when to try again.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 1_000,
        retryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
        connectionName: `nova-cache-${this.name}`,
      };
      this.redis = new Redis(opts.redisUrl, { ...common, commandTimeout: opts.redisTimeoutMs ?? 150 });
      this.redis.on("error", () => redisErrors.inc({ op: "connection" }));
      this.redis.on("ready", () => void this.flushPending());
      // The subscriber subscribes on every (re)connect itself, so it knows when the subscription is live.
      this.sub = new Redis(opts.redisUrl, { ...common, autoResubscribe: false });
      this.sub.on("error", () => redisErrors.inc({ op: "subscriber" }));
      this.sub.on("close", () => {
        this.subscribed = false;
      });
      this.sub.on("ready", () => void this.subscribe());
      this.sub.on("message", (_channel: string, message: string) => this.onMessage(message));
    }
  }

  /** Whether Redis (L2 and cross-replica invalidation) is configured. */
  get distributed(): boolean {
    return this.redis !== undefined;
  }

  /** Resolves true once L2 and the invalidation subscription are live (false after `timeoutMs`). */
  async ready(timeoutMs = 5_000): Promise<boolean> {
    if (!this.sub) return true;
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.subscribed && this.redis?.status === "ready") return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  stats(): CacheStats {
    return {
      l1Entries: this.l1?.size ?? 0,
      l1Bytes: this.l1?.calculatedSize ?? 0,
      pendingInvalidations: this.pending.size,
      breaker: STATE_NAMES[this.breaker.state],
      subscribed: this.subscribed,
    };
  }

  /** A handle for one entity: key format, TTLs from the policy table, optional JSON codec. */
  entity<T>(service: string, entity: string, version = 1, codec?: Codec<T>): EntityCache<T> {
    const ent: Ent = {
      name: `${service}:${entity}`,
      ttl: policyFor(service, entity),
      key: keyFormat(service, entity, version),
      serialize: (v) => (v === null ? NOT_FOUND : JSON.stringify(codec ? codec.encode(v as T) : v)),
      parse: (raw) => {
        const json = JSON.parse(raw) as unknown;
        return json === null || !codec ? json : codec.decode(json);
      },
    };
    return {
      key: ent.key,
      get: (id, loader) => this.get(ent, id, loader) as Promise<T | undefined>,
      getMany: (ids, loader) => this.getMany(ent, ids, loader) as Promise<Map<string, T>>,
      invalidate: (ids) => this.invalidate(ent, ids.map(ent.key)),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.flushTimer);
    this.sub?.disconnect();
    this.redis?.disconnect();
  }

  // ---- L1 ----

  private generation(key: string): number {
    return this.generations.get(key) ?? 0;
  }

  private l1Get(key: string): Slot | undefined {
    if (!this.l1) return undefined;
    const hit = this.l1.get(key);
    requests.inc({ tier: "l1", result: hit ? "hit" : "miss" });
    return hit;
  }

  /** Fills L1 unless the key (or all of L1) was invalidated since the load began. */
  private fillL1(ent: Ent, key: string, v: unknown, size: number, generation: number, epoch: number): void {
    if (!this.l1 || this.generation(key) !== generation || this.epoch !== epoch) return;
    const ttl = jitter(v === null ? ent.ttl.negativeMs : ent.ttl.l1Ms);
    this.l1.set(key, { v }, { ttl, size: key.length + size });
  }

  private dropLocal(key: string): void {
    this.l1?.delete(key);
    // New readers must not join a load that began before the write.
    this.inflight.delete(key);
    this.generations.set(key, this.generation(key) + 1);
    if (this.generations.size > 100_000) {
      // Forgetting generations could let an old load fill L1: clear L1 and start a new epoch instead.
      this.generations.clear();
      this.clearL1();
    }
  }

  private clearL1(): void {
    this.epoch++;
    this.l1?.clear();
    this.inflight.clear();
  }

  // ---- Redis ----

  /** Runs a Redis call behind the breaker; undefined when Redis is absent, open, slow or failing. */
  private async onRedis<R>(op: string, fn: (r: Redis) => Promise<R>): Promise<R | undefined> {
    const redis = this.redis;
    if (!redis || this.closed) return undefined;
    try {
      const r = await this.breaker.execute(() => fn(redis));
      if (this.pending.size) void this.flushPending();
      return r;
    } catch (err) {
      if (err instanceof BrokenCircuitError) redisSkipped.inc({ op });
      else {
        redisErrors.inc({ op });
        this.log.debug({ err, op }, "cache: redis call failed");
      }
      return undefined;
    }
  }

  /** L2 lookup of keys; undefined when Redis could not answer. Keys with a pending invalidation are misses. */
  private async l2Get(keys: string[]): Promise<(string | null)[] | undefined> {
    if (!this.redis) return undefined;
    const asked = keys.filter((k) => !this.pending.has(k));
    const raws = asked.length ? await this.onRedis("mget", (r) => r.mget(asked)) : [];
    if (!raws) {
      requests.inc({ tier: "l2", result: "error" }, keys.length);
      return undefined;
    }
    const byKey = new Map(asked.map((k, i) => [k, raws[i] ?? null]));
    const out = keys.map((k) => byKey.get(k) ?? null);
    const hits = out.filter((x) => x !== null).length;
    if (hits) requests.inc({ tier: "l2", result: "hit" }, hits);
    if (keys.length - hits) requests.inc({ tier: "l2", result: "miss" }, keys.length - hits);
    return out;
  }

  /** Writes loaded values to L2 (one pipeline), except keys invalidated since their load began. */
  private async l2Set(ent: Ent, entries: { key: string; raw: string; notFound: boolean; generation: number }[]) {
    if (!this.redis) return;
    const fresh = entries.filter((e) => this.generation(e.key) === e.generation && !this.pending.has(e.key));
    if (fresh.length === 0) return;
    await this.onRedis("set", async (r) => {
      const p = r.pipeline();
      for (const e of fresh) p.set(e.key, e.raw, "PX", jitter(e.notFound ? ent.ttl.negativeMs : ent.ttl.l2Ms));
      const results = (await p.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed) throw failed[0];
    });
  }

  private async subscribe(): Promise<void> {
    const sub = this.sub;
    if (!sub || this.closed) return;
    try {
      await sub.subscribe(INVALIDATE_CHANNEL);
      // Invalidations published while the subscriber was away are lost: start L1 afresh.
      this.clearL1();
      this.subscribed = true;
      this.log.debug("cache: subscribed to invalidations");
    } catch (err) {
      redisErrors.inc({ op: "subscribe" });
      this.log.debug({ err }, "cache: subscribe failed; retrying on reconnect");
    }
  }

  private onMessage(message: string): void {
    received.inc();
    let keys: unknown;
    try {
      keys = (JSON.parse(message) as { keys?: unknown }).keys;
    } catch {
      return;
    }
    if (Array.isArray(keys)) for (const k of keys) if (typeof k === "string") this.dropLocal(k);
  }

  private remember(keys: string[]): void {
    for (const k of keys) {
      if (this.pending.size >= this.maxPending) {
        this.log.error({ max: this.maxPending }, "cache: too many invalidations pending for Redis; some are dropped");
        break;
      }
      this.pending.add(k);
    }
    pendingGauge.set({ cache: this.name }, this.pending.size);
    // Retry in the background too, in case no traffic or reconnect triggers a delivery.
    this.flushTimer ??= setInterval(() => {
      if (this.pending.size === 0 || this.closed) {
        clearInterval(this.flushTimer);
        this.flushTimer = undefined;
      } else void this.flushPending();
    }, 1_000).unref();
  }

  /** Delivers remembered invalidations once Redis answers again (one flush at a time). */
  private flushPending(): Promise<void> {
    if (this.pending.size === 0 || !this.redis || this.closed) return Promise.resolve();
    this.flushing ??= this.deliverPending().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async deliverPending(): Promise<void> {
    const redis = this.redis as Redis;
    try {
      while (this.pending.size && redis.status === "ready" && !this.closed) {
        const keys = [...this.pending].slice(0, 1_000);
        await redis.del(keys);
        await redis.publish(INVALIDATE_CHANNEL, JSON.stringify({ keys }));
        for (const k of keys) this.pending.delete(k);
      }
      if (this.pending.size === 0) this.log.info("cache: delivered the invalidations Redis missed");
    } catch (err) {
      redisErrors.inc({ op: "flush" });
      this.log.debug({ err }, "cache: delivering pending invalidations failed; will retry");
    } finally {
      pendingGauge.set({ cache: this.name }, this.pending.size);
    }
  }

  // ---- reads and writes ----

  private async get(ent: Ent, id: string, loader: () => Promise<unknown>): Promise<unknown> {
    const key = ent.key(id);
    const hit = this.l1Get(key);
    if (hit) return hit.v ?? undefined;
    const joined = this.inflight.get(key);
    if (joined) return joined;
    const p = this.load(ent, [id], [key], async () => {
      const v = await loader();
      return new Map(v == null ? [] : [[id, v]]);
    }).then((m) => m.get(id) ?? undefined);
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    }
  }

  private async getMany(
    ent: Ent,
    ids: readonly string[],
    loader: (missing: string[]) => Promise<Map<string, unknown>>,
  ): Promise<Map<string, unknown>> {
    const found = new Map<string, unknown>();
    const misses: string[] = [];
    const joined: Promise<void>[] = [];
    for (const id of new Set(ids)) {
      const key = ent.key(id);
      const hit = this.l1Get(key);
      if (hit) {
        if (hit.v !== null) found.set(id, hit.v);
        continue;
      }
      const pending = this.inflight.get(key);
      if (pending) {
        // Another read is loading this id already: wait for it instead of loading it again.
        joined.push(
          pending.then((v) => {
            if (v !== undefined) found.set(id, v);
          }),
        );
        continue;
      }
      misses.push(id);
    }
    // Settles before anything below can throw, so a failed joined load is never an unhandled rejection.
    const joinedAll = Promise.all(joined);
    joinedAll.catch(() => {});
    if (misses.length) {
      const keys = misses.map(ent.key);
      const batch = this.load(ent, misses, keys, loader);
      const ones = misses.map((id, i) => {
        const one = batch.then((m) => m.get(id) ?? undefined);
        one.catch(() => {}); // observed through `batch` below
        this.inflight.set(keys[i] as string, one);
        return one;
      });
      try {
        for (const [id, v] of await batch) found.set(id, v);
      } finally {
        keys.forEach((k, i) => {
          if (this.inflight.get(k) === ones[i]) this.inflight.delete(k);
        });
      }
    }
    await joinedAll;
    const out = new Map<string, unknown>();
    for (const id of ids) if (found.has(id)) out.set(id, found.get(id));
    return out;
  }

  /** L2 for `ids`, then one loader call for the rest; fills both tiers. The answer holds found ids only. */
  private async load(
    ent: Ent,
    ids: string[],
    keys: string[],
    loader: (missing: string[]) => Promise<Map<string, unknown>>,
  ): Promise<Map<string, unknown>> {
    const epoch = this.epoch;
    const generations = keys.map((k) => this.generation(k));
    const out = new Map<string, unknown>();
    let missing: number[] = ids.map((_, i) => i);
    const raws = await this.l2Get(keys);
    if (raws) {
      missing = [];
      raws.forEach((raw, i) => {
        let v: unknown;
        try {
          v = raw === null ? undefined : ent.parse(raw);
        } catch (err) {
          this.log.warn({ err, key: keys[i] }, "cache: unreadable L2 entry; loading it again");
        }
        if (v === undefined) {
          missing.push(i);
          return;
        }
        this.fillL1(ent, keys[i] as string, v, (raw as string).length, generations[i] as number, epoch);
        if (v !== null) out.set(ids[i] as string, v);
      });
    }
    if (missing.length === 0) return out;
    loads.inc({ entity: ent.name });
    const loaded = await loader(missing.map((i) => ids[i] as string));
    const writes = missing.map((i) => {
      const id = ids[i] as string;
      const key = keys[i] as string;
      const generation = generations[i] as number;
      const v = loaded.get(id) ?? null;
      const raw = ent.serialize(v);
      this.fillL1(ent, key, v, raw.length, generation, epoch);
      if (v !== null) out.set(id, v);
      return { key, raw, notFound: v === null, generation };
    });
    await this.l2Set(ent, writes);
    return out;
  }

  private async invalidate(ent: Ent, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    invalidations.inc({ entity: ent.name }, keys.length);
    for (const k of keys) this.dropLocal(k);
    if (!this.redis) return;
    const deleted = await this.onRedis("del", (r) => r.del(keys));
    const published =
      deleted !== undefined &&
      (await this.onRedis("publish", (r) => r.publish(INVALIDATE_CHANNEL, JSON.stringify({ keys })))) !== undefined;
    if (!published) {
      this.remember(keys);
      return;
    }
    // A load that read the database before the write may still be writing its copy: delete again.
    setTimeout(() => {
      void this.onRedis("del", (r) => r.del(keys));
    }, 500).unref();
  }
}
