/**
 * The two-tier read-through cache (ARCHITECTURE §5).
 * - L1: in-process LRU (lru-cache), bounded by entries and by bytes, short TTLs.
 * - L2: Redis (ioredis), longer TTLs, shared by every replica.
 * - Single-flight: concurrent misses of one key share one load (L2 lookup
 *   and loader included).
 * - Negative results are cached briefly; every TTL gets ±10 % jitter.
 * - Writes call `invalidate`: the L2 keys are deleted (again after a short
 *   delay, so a load that raced the write cannot leave a stale copy) and the
 *   keys are published on `nova:cache:invalidate`, so every replica drops its
 *   L1 entries; a load that started before an invalidation does not fill L1.
 * - Redis down: every Redis call has a short timeout and runs behind a
 *   circuit breaker (cockatiel); with the breaker open Redis is skipped, reads
 *   go to the loader and writes still succeed. Without a Redis URL (embedded
 *   mode) only L1 is used.
 */
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll } from "cockatiel";
import { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { counter, gauge } from "../observability/metrics.ts";

export const INVALIDATE_CHANNEL = "nova:cache:invalidate";

export interface TtlPolicy {
  /** In-process TTL (5–30 s). */
  l1Ms: number;
  /** Redis TTL (60–300 s). */
  l2Ms: number;
  /** TTL of a cached "not found", both tiers. */
  negativeMs: number;
}

/** THE TTL policy, per `<service>:<entity>`; anything else gets `default`. */
export const TTL_POLICY: Record<string, TtlPolicy> = {
  default: { l1Ms: 5_000, l2Ms: 60_000, negativeMs: 2_000 },
  // Posts change rarely after creation (edits, deletes invalidate them).
  "content:post": { l1Ms: 15_000, l2Ms: 300_000, negativeMs: 5_000 },
  // Profiles: invalidated on update.
  "identity:user": { l1Ms: 10_000, l2Ms: 300_000, negativeMs: 5_000 },
};

const requests = counter("nova_cache_requests_total", "Cache lookups, by tier and result", ["tier", "result"]);
const loads = counter("nova_cache_loads_total", "Loader calls (misses in every tier), by entity", ["entity"]);
const invalidations = counter("nova_cache_invalidations_total", "Keys invalidated, by entity", ["entity"]);
const received = counter("nova_cache_invalidations_received_total", "Invalidation messages received from Redis");
const redisErrors = counter("nova_cache_redis_errors_total", "Failed or skipped Redis calls", ["op"]);
const breakerOpen = gauge("nova_cache_breaker_open", "1 while the cache's Redis circuit breaker is open");

export interface CacheOptions {
  /** Redis for L2 and invalidations; without it only L1 is used. */
  redisUrl?: string;
  log: Logger;
  l1MaxEntries?: number;
  l1MaxBytes?: number;
  /** Per Redis command. */
  redisTimeoutMs?: number;
  /** The breaker opens after this many consecutive Redis failures… */
  breakerFailures?: number;
  /** …and lets one probe through after this long. */
  breakerHalfOpenMs?: number;
  /** Switch tiers off (benchmarks compare them). */
  l1?: boolean;
  l2?: boolean;
}

interface Slot {
  /** null: a cached "not found". */
  v: unknown;
}

function jitter(ms: number): number {
  return Math.max(1, Math.round(ms * (0.9 + Math.random() * 0.2)));
}

export interface EntityCache<T> {
  /** `nova:<service>:<entity>:<id>:v<version>` */
  key(id: string): string;
  /** Read-through for one id; `undefined` from the loader is cached as "not found". */
  get(id: string, loader: () => Promise<T | undefined>): Promise<T | undefined>;
  /** Read-through for many ids: one L2 MGET and one loader call for all misses. */
  getMany(ids: string[], loader: (missing: string[]) => Promise<Map<string, T>>): Promise<Map<string, T>>;
  /** Call after a write commits: drops the ids in both tiers and on every replica. */
  invalidate(ids: string[]): Promise<void>;
}

export class Cache {
  private readonly l1: LRUCache<string, Slot> | undefined;
  private readonly redis: Redis | undefined;
  private readonly sub: Redis | undefined;
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Bumped per key on invalidation: a load that began earlier does not fill L1. */
  private readonly generations = new Map<string, number>();
  private readonly breaker;
  private readonly log: Logger;
  private readonly origin = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  private closed = false;

  constructor(opts: CacheOptions) {
    this.log = opts.log;
    if (opts.l1 !== false) {
      this.l1 = new LRUCache<string, Slot>({
        max: opts.l1MaxEntries ?? 50_000,
        maxSize: opts.l1MaxBytes ?? 64 * 1024 * 1024,
        sizeCalculation: (s, k) => k.length + (s.v === null ? 4 : JSON.stringify(s.v).length),
        ttlAutopurge: false,
      });
    }
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: opts.breakerHalfOpenMs ?? 2_000,
      breaker: new ConsecutiveBreaker(opts.breakerFailures ?? 3),
    });
    this.breaker.onStateChange((s) => {
      breakerOpen.set(s === CircuitState.Open ? 1 : 0);
      if (s === CircuitState.Open) this.log.warn("cache: Redis circuit open; reading through to the loaders");
      if (s === CircuitState.Closed) this.log.info("cache: Redis circuit closed");
    });
    if (opts.redisUrl && opts.l2 !== false) {
      const common = {
        // Fail fast instead of queueing while disconnected; the breaker decides when to try again.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: opts.redisTimeoutMs ?? 150,
        connectTimeout: 1_000,
        retryStrategy: () => 1_000,
        lazyConnect: false,
      };
      this.redis = new Redis(opts.redisUrl, common);
      this.redis.on("error", () => redisErrors.inc({ op: "connection" }));
      // The subscriber re-subscribes by itself after a reconnect; it may queue its SUBSCRIBE.
      this.sub = new Redis(opts.redisUrl, { ...common, enableOfflineQueue: true, commandTimeout: undefined });
      this.sub.on("error", () => redisErrors.inc({ op: "subscriber" }));
      this.sub.subscribe(INVALIDATE_CHANNEL).catch(() => redisErrors.inc({ op: "subscribe" }));
      this.sub.on("message", (_channel: string, message: string) => {
        received.inc();
        try {
          const m = JSON.parse(message) as { keys?: unknown };
          if (Array.isArray(m.keys)) for (const k of m.keys) if (typeof k === "string") this.dropLocal(k);
        } catch {
          // not ours
        }
      });
    }
  }

  /** Whether Redis (L2 and cross-replica invalidation) is configured. */
  get distributed(): boolean {
    return this.redis !== undefined;
  }

  /** Resolves when the invalidation subscription is live (tests, start-up). */
  async ready(timeoutMs = 5_000): Promise<boolean> {
    if (!this.sub) return true;
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.sub.status === "ready" && this.redis?.status === "ready") return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  entity<T>(service: string, entity: string, version = 1): EntityCache<T> {
    const name = `${service}:${entity}`;
    const ttl = TTL_POLICY[name] ?? (TTL_POLICY.default as TtlPolicy);
    const key = (id: string) => `nova:${service}:${entity}:${id}:v${version}`;
    return {
      key,
      get: (id, loader) => this.get(name, key(id), ttl, loader) as Promise<T | undefined>,
      getMany: async (ids, loader) => this.getMany<T>(name, ids, key, ttl, loader),
      invalidate: (ids) => this.invalidate(name, ids.map(key)),
    };
  }

  private dropLocal(key: string): void {
    this.l1?.delete(key);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    if (this.generations.size > 100_000) this.generations.clear();
  }

  private fillL1(key: string, v: unknown, ttl: TtlPolicy, generation: number): void {
    if (!this.l1 || (this.generations.get(key) ?? 0) !== generation) return;
    this.l1.set(key, { v }, { ttl: jitter(v === null ? ttl.negativeMs : ttl.l1Ms) });
  }

  /** Runs a Redis call behind the breaker; undefined when Redis is down, open, or slow. */
  private async onRedis<R>(op: string, fn: (r: Redis) => Promise<R>): Promise<R | undefined> {
    const redis = this.redis;
    if (!redis || this.closed) return undefined;
    try {
      return await this.breaker.execute(() => fn(redis));
    } catch (err) {
      redisErrors.inc({ op });
      if (!(err instanceof BrokenCircuitError)) this.log.debug({ err, op }, "cache: redis call failed");
      return undefined;
    }
  }

  private async get(name: string, key: string, ttl: TtlPolicy, loader: () => Promise<unknown>): Promise<unknown> {
    const hit = this.l1?.get(key);
    if (hit) {
      requests.inc({ tier: "l1", result: "hit" });
      return hit.v === null ? undefined : hit.v;
    }
    if (this.l1) requests.inc({ tier: "l1", result: "miss" });
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const generation = this.generations.get(key) ?? 0;
    const p = (async () => {
      const raw = await this.onRedis("get", (r) => r.get(key));
      if (this.redis) requests.inc({ tier: "l2", result: raw == null ? "miss" : "hit" });
      if (raw != null) {
        const v = JSON.parse(raw) as unknown;
        this.fillL1(key, v, ttl, generation);
        return v === null ? undefined : v;
      }
      loads.inc({ entity: name });
      const loaded = await loader();
      const v = loaded === undefined ? null : loaded;
      this.fillL1(key, v, ttl, generation);
      await this.onRedis("set", (r) =>
        r.set(key, JSON.stringify(v), "PX", jitter(v === null ? ttl.negativeMs : ttl.l2Ms)),
      );
      return loaded;
    })();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  private async getMany<T>(
    name: string,
    ids: string[],
    keyOf: (id: string) => string,
    ttl: TtlPolicy,
    loader: (missing: string[]) => Promise<Map<string, T>>,
  ): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    const unique = [...new Set(ids)];
    let l1Miss: string[] = [];
    for (const id of unique) {
      const hit = this.l1?.get(keyOf(id));
      if (hit) {
        requests.inc({ tier: "l1", result: "hit" });
        if (hit.v !== null) out.set(id, hit.v as T);
      } else l1Miss.push(id);
    }
    if (this.l1 && l1Miss.length) requests.inc({ tier: "l1", result: "miss" }, l1Miss.length);
    // Ids another call is already loading: wait for those instead of loading them again.
    const waiting: Promise<void>[] = [];
    l1Miss = l1Miss.filter((id) => {
      const pending = this.inflight.get(keyOf(id));
      if (!pending) return true;
      waiting.push(
        pending.then(
          (v) => {
            if (v !== undefined) out.set(id, v as T);
          },
          () => {},
        ),
      );
      return false;
    });
    if (l1Miss.length) {
      const generations = new Map(l1Miss.map((id) => [id, this.generations.get(keyOf(id)) ?? 0]));
      const batch = (async () => {
        const found = new Map<string, T | null>();
        const raws = await this.onRedis("mget", (r) => r.mget(...l1Miss.map(keyOf)));
        let missing = l1Miss;
        if (raws) {
          missing = [];
          for (const [i, id] of l1Miss.entries()) {
            const raw = raws[i];
            if (raw == null) missing.push(id);
            else {
              const v = JSON.parse(raw) as T | null;
              found.set(id, v);
              this.fillL1(keyOf(id), v, ttl, generations.get(id) ?? 0);
            }
          }
          requests.inc({ tier: "l2", result: "hit" }, l1Miss.length - missing.length);
          if (missing.length) requests.inc({ tier: "l2", result: "miss" }, missing.length);
        }
        if (missing.length) {
          loads.inc({ entity: name });
          const loaded = await loader(missing);
          const m = this.redis?.multi();
          for (const id of missing) {
            const v = loaded.get(id) ?? null;
            found.set(id, v);
            this.fillL1(keyOf(id), v, ttl, generations.get(id) ?? 0);
            m?.set(keyOf(id), JSON.stringify(v), "PX", jitter(v === null ? ttl.negativeMs : ttl.l2Ms));
          }
          if (m) await this.onRedis("mset", () => m.exec());
        }
        return found;
      })();
      for (const id of l1Miss) {
        const one = batch.then((f) => {
          const v = f.get(id);
          return v === null ? undefined : v;
        });
        one.catch(() => {});
        this.inflight.set(keyOf(id), one);
      }
      try {
        const found = await batch;
        for (const [id, v] of found) if (v !== null) out.set(id, v);
      } finally {
        for (const id of l1Miss) this.inflight.delete(keyOf(id));
      }
    }
    await Promise.all(waiting);
    return out;
  }

  private async invalidate(name: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    invalidations.inc({ entity: name }, keys.length);
    for (const k of keys) this.dropLocal(k);
    if (!this.redis) return;
    await this.onRedis("del", (r) => r.del(...keys));
    await this.onRedis("publish", (r) => r.publish(INVALIDATE_CHANNEL, JSON.stringify({ keys, origin: this.origin })));
    // A load that read the database before the write may still be writing its copy: delete again.
    setTimeout(() => {
      void this.onRedis("del", (r) => r.del(...keys));
    }, 500).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sub?.disconnect();
    this.redis?.disconnect();
  }
}
