/**
 * The two-tier cache against real Redis: cross-replica invalidation,
 * single-flight, negative caching, L1 bounds, and a Redis that dies and
 * comes back (a private redis-server on a loopback port).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { Cache } from "../src/platform/cache/cache.ts";
import { freePort } from "../src/platform/db/embedded.ts";
import { createLogger } from "../src/platform/observability/logger.ts";
import { services, unique } from "./helpers.ts";

const log = createLogger({ level: "fatal" });
let redisUrl: string;
const open: Cache[] = [];
const cache = (opts: Partial<ConstructorParameters<typeof Cache>[0]> = {}) => {
  const c = new Cache({ redisUrl, log, ...opts });
  open.push(c);
  return c;
};

before(async () => {
  redisUrl = (await services()).redis;
});
after(async () => {
  for (const c of open) await c.close();
});

describe("two-tier cache", () => {
  test("keys follow nova:<service>:<entity>:<id>:v<version>", () => {
    assert.equal(cache({ redisUrl: undefined }).entity("content", "post", 2).key("abc"), "nova:content:post:abc:v2");
  });

  test("a write on one replica drops the other replica's L1 entry within 100 ms", async () => {
    const [a, b] = [cache(), cache()];
    assert.ok(await a.ready());
    assert.ok(await b.ready());
    const id = unique("post");
    let version = 1;
    const load = async () => ({ version });
    const ea = a.entity<{ version: number }>("test", "thing");
    const eb = b.entity<{ version: number }>("test", "thing");
    assert.equal((await eb.get(id, load))?.version, 1);
    version = 2;
    assert.equal((await eb.get(id, load))?.version, 1, "served from b's L1");
    const t0 = performance.now();
    await ea.invalidate([id]);
    let seen = 1;
    while (performance.now() - t0 < 1_000 && seen !== 2) {
      seen = (await eb.get(id, load))?.version ?? 0;
      if (seen !== 2) await new Promise((r) => setTimeout(r, 2));
    }
    const ms = performance.now() - t0;
    assert.equal(seen, 2);
    assert.ok(ms <= 100, `b saw the write after ${ms.toFixed(1)} ms`);
  });

  test("1,000 concurrent reads of one cold key cause exactly one load", async () => {
    const c = cache();
    const e = c.entity<{ n: number }>("test", "cold");
    const id = unique("k");
    let loads = 0;
    const loader = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 30));
      return { n: 7 };
    };
    const results = await Promise.all(Array.from({ length: 1_000 }, () => e.get(id, loader)));
    assert.equal(loads, 1);
    assert.ok(results.every((r) => r?.n === 7));
    // getMany joins a load already in flight for the same key instead of starting another.
    const id2 = unique("k");
    let batchLoads = 0;
    const [one, many] = await Promise.all([
      e.get(id2, loader),
      e.getMany([id2], async () => {
        batchLoads++;
        return new Map([[id2, { n: 8 }]]);
      }),
    ]);
    assert.equal(one?.n, 7);
    assert.equal(many.get(id2)?.n, 7);
    assert.equal(batchLoads, 0);
  });

  test("getMany: one MGET and one loader call for all misses; not-found is cached briefly", async () => {
    const [a, b] = [cache(), cache()];
    assert.ok((await a.ready()) && (await b.ready()));
    const ea = a.entity<{ id: string }>("test", "many");
    const eb = b.entity<{ id: string }>("test", "many");
    const ids = Array.from({ length: 20 }, () => unique("m"));
    const calls: string[][] = [];
    const loader = async (missing: string[]) => {
      calls.push(missing);
      return new Map(missing.filter((_, i) => i % 2 === 0).map((id) => [id, { id }]));
    };
    const first = await ea.getMany(ids, loader);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.length, 20);
    assert.equal(first.size, 10);
    // Another replica finds everything in L2, the not-found ones too.
    const second = await eb.getMany(ids, loader);
    assert.equal(calls.length, 1, "no load: L2 had the found and the not-found entries");
    assert.deepEqual([...second.keys()].sort(), [...first.keys()].sort());
  });

  test("L1 stays within its byte bound", async () => {
    const c = cache({ redisUrl: undefined, l1MaxBytes: 10_000 });
    const e = c.entity<{ blob: string }>("test", "big");
    for (let i = 0; i < 100; i++) await e.get(`k${i}`, async () => ({ blob: "x".repeat(500) }));
    const l1 = (c as unknown as { l1: { calculatedSize: number; size: number } }).l1;
    assert.ok(l1.calculatedSize <= 10_000, `L1 holds ${l1.calculatedSize} bytes`);
    assert.ok(l1.size < 100);
  });
});

describe("Redis down", () => {
  let port: number;
  let server: ChildProcess | undefined;
  const startRedis = async () => {
    server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => {});
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error("redis-server did not start");
  };
  before(async () => {
    port = await freePort();
    await startRedis();
  });
  after(() => {
    server?.kill("SIGKILL");
  });

  test("reads keep answering from the loader with no errors and no added latency; caching resumes when it is back", async () => {
    const url = `redis://127.0.0.1:${port}`;
    const [a, b] = [cache({ redisUrl: url, breakerHalfOpenMs: 500 }), cache({ redisUrl: url, breakerHalfOpenMs: 500 })];
    assert.ok(await a.ready());
    assert.ok(await b.ready());
    const e = a.entity<{ n: number }>("test", "down");
    let loads = 0;
    const loader = async () => {
      loads++;
      return { n: 1 };
    };
    assert.equal((await e.get(unique("k"), loader))?.n, 1);

    server?.kill("SIGKILL");
    await new Promise((r) => server?.once("exit", r));
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) assert.equal((await e.get(`down-${i}`, loader))?.n, 1);
    const ms = performance.now() - t0;
    assert.ok(ms < 2_000, `200 reads with Redis dead took ${ms.toFixed(0)} ms`);
    assert.equal(loads, 201, "every read was answered by the loader");
    // Writes still succeed (L1 dropped locally, Redis skipped).
    await e.invalidate(["down-1"]);

    await startRedis();
    // The breaker half-opens and the clients reconnect: L2 fills again and invalidations flow again.
    const probe = new Redis({ port });
    probe.on("error", () => {});
    try {
      const end = Date.now() + 10_000;
      let cached = false;
      while (Date.now() < end && !cached) {
        const id = unique("back");
        await e.get(id, loader);
        cached = (await probe.get(e.key(id))) !== null;
        if (!cached) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(cached, "L2 writes resumed");
      const eb = b.entity<{ n: number }>("test", "down");
      const id = unique("inv");
      let v = 1;
      assert.equal((await eb.get(id, async () => ({ n: v })))?.n, 1);
      v = 2;
      const end2 = Date.now() + 10_000;
      let seen = 1;
      while (Date.now() < end2 && seen !== 2) {
        await e.invalidate([id]);
        await new Promise((r) => setTimeout(r, 50));
        seen = (await eb.get(id, async () => ({ n: v })))?.n ?? 0;
      }
      assert.equal(seen, 2, "the other replica's subscription came back");
    } finally {
      probe.disconnect();
    }
  });
});
