/**
 * `Idempotency-Key` on mutations. The first request with a key claims it
 * (an atomic SET NX, or a Map insert in one process) as "pending"; its
 * response is stored under the key for GATEWAY_IDEMPOTENCY_TTL_HOURS (24 h).
 * A request with the same key and the same body waits for the first one
 * and gets its response replayed (`Idempotent-Replayed: true`), so the
 * effect happens once even when both arrive at the same moment. The same key
 * with a different body is IDEMPOTENCY_KEY_REUSED (422).
 *
 * Store: Redis when REDIS_URL is set (shared by every gateway replica),
 * otherwise in-process (embedded mode is one process). A pending claim
 * expires after the request deadline plus a margin, so a gateway that died
 * mid-request does not block the key for a day.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { invalid, NovaError } from "../platform/errors.ts";

export interface StoredResponse {
  status: number;
  contentType: string;
  body: string;
}

export type Entry = { fp: string; state: "pending" } | { fp: string; state: "done"; response: StoredResponse };

export interface IdempotencyStore {
  /** Claims the key (returns undefined) or returns what is already there. */
  claim(key: string, fp: string, pendingMs: number): Promise<Entry | undefined>;
  complete(key: string, fp: string, response: StoredResponse, ttlMs: number): Promise<void>;
  release(key: string): Promise<void>;
}

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(private readonly redis: Redis) {}

  async claim(key: string, fp: string, pendingMs: number): Promise<Entry | undefined> {
    const pending: Entry = { fp, state: "pending" };
    for (let i = 0; i < 3; i++) {
      const ok = await this.redis.set(key, JSON.stringify(pending), "PX", pendingMs, "NX");
      if (ok === "OK") return undefined;
      const raw = await this.redis.get(key);
      if (raw) return JSON.parse(raw) as Entry;
      // Expired between SET and GET: try to claim again.
    }
    throw new NovaError("UNAVAILABLE", "idempotency store is busy");
  }

  async complete(key: string, fp: string, response: StoredResponse, ttlMs: number): Promise<void> {
    const done: Entry = { fp, state: "done", response };
    await this.redis.set(key, JSON.stringify(done), "PX", ttlMs);
  }

  async release(key: string): Promise<void> {
    await this.redis.del(key);
  }
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new LRUCache<string, Entry>({ max: 100_000 });

  async claim(key: string, fp: string, pendingMs: number): Promise<Entry | undefined> {
    const found = this.entries.get(key);
    if (found) return found;
    this.entries.set(key, { fp, state: "pending" }, { ttl: pendingMs });
    return undefined;
  }

  async complete(key: string, fp: string, response: StoredResponse, ttlMs: number): Promise<void> {
    this.entries.set(key, { fp, state: "done", response }, { ttl: ttlMs });
  }

  async release(key: string): Promise<void> {
    this.entries.delete(key);
  }
}

/** A key: 1–255 visible ASCII characters (a UUID is the usual choice). */
export function checkKey(value: string): string {
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw invalid("Idempotency-Key", "must be 1 to 255 visible ASCII characters");
  }
  return value;
}

/** The fingerprint of a request body: its JSON with object keys sorted. */
export function fingerprint(body: unknown): string {
  return createHash("sha256").update(canonicalJson(body)).digest("hex");
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const keys = Object.keys(v as object)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

export type Claim = { kind: "claimed"; key: string; fp: string } | { kind: "replay"; response: StoredResponse };

export class Idempotency {
  constructor(
    private readonly store: IdempotencyStore,
    private readonly ttlMs: number,
    private readonly prefix = "nova:gateway:idem",
  ) {}

  /**
   * Claims the key for this request, or waits for the request that holds it
   * and returns its response. `scope` keeps different users' keys apart.
   */
  async begin(scope: string, key: string, body: unknown, waitMs: number): Promise<Claim> {
    const storeKey = `${this.prefix}:${createHash("sha256").update(`${scope}\n${key}`).digest("hex")}`;
    const fp = fingerprint(body);
    const end = Date.now() + waitMs;
    let delay = 10;
    for (;;) {
      const found = await this.store.claim(storeKey, fp, waitMs + 5_000);
      if (!found) return { kind: "claimed", key: storeKey, fp };
      if (found.fp !== fp) {
        throw new NovaError(
          "IDEMPOTENCY_KEY_REUSED",
          "this Idempotency-Key was already used with a different request body",
          { field: "Idempotency-Key" },
        );
      }
      if (found.state === "done") return { kind: "replay", response: found.response };
      if (Date.now() + delay > end) {
        throw new NovaError("IDEMPOTENCY_KEY_IN_USE", undefined, { field: "Idempotency-Key" });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 200);
    }
  }

  /** Stores the response of a claimed request; a server-side failure (5xx) frees the key for a retry instead. */
  async finish(claim: { key: string; fp: string }, response: StoredResponse): Promise<void> {
    if (response.status >= 500) await this.store.release(claim.key);
    else await this.store.complete(claim.key, claim.fp, response, this.ttlMs);
  }
}
