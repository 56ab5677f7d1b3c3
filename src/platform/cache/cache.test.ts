/**
 * The cache's in-process behaviour (L1 only, no Redis): bounds, single-flight,
 * negative caching, invalidation. The Redis tier is tested against a real
 * Redis in test/cache.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "../observability/logger.ts";
import { type CacheOptions, createCache, TTL_POLICY } from "./cache.ts";

const log = createLogger({ level: "fatal" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A clock the test moves by hand (L1 TTLs read it). */
function fakeClock() {
  let t = 1_000_000;
  return {
    now: () => t,
    /** lru-cache caches `now` for 1 ms: let that lapse too. */
    advance: async (ms: number) => {
      t += ms;
      await sleep(3);
    },
  };
}

function counting<T>(value: (id: string) => T | null | undefined, delayMs = 0) {
  const calls: string[][] = [];
  return {
    calls,
    one: (id: string) => async () => {
      calls.push([id]);
      if (delayMs) await sleep(delayMs);
      return value(id);
    },
    many: async (ids: string[]) => {
      calls.push(ids);
      if (delayMs) await sleep(delayMs);
      const out = new Map<string, T>();
      for (const id of ids) {
        const v = value(id);
        if (v !== undefined && v !== null) out.set(id, v);
      }
      return out;
    },
  };
}

const l1Only = (opts: Partial<CacheOptions> = {}) => createCache({ log, name: "unit", ...opts });

test("L1 is bounded by entries: the least recently used entries go first", async () => {
  const c = l1Only({ l1MaxEntries: 10 });
  const e = c.entity<{ id: string }>("test", "bounded");
  const l = counting((id) => ({ id }));
  for (let i = 0; i < 50; i++) await e.get(`k${i}`, l.one(`k${i}`));
  assert.equal(c.stats().l1Entries, 10);
  assert.equal(l.calls.length, 50);
  await e.get("k49", l.one("k49"));
  assert.equal(l.calls.length, 50, "a recent key is still in L1");
  await e.get("k0", l.one("k0"));
  assert.equal(l.calls.length, 51, "an old key was evicted and loads again");
});

test("L1 is bounded by bytes of serialized JSON", async () => {
  const c = l1Only({ l1MaxBytes: 10_000 });
  const e = c.entity<{ blob: string }>("test", "big");
  for (let i = 0; i < 100; i++) await e.get(`k${i}`, async () => ({ blob: "x".repeat(500) }));
  const s = c.stats();
  assert.ok(s.l1Bytes <= 10_000, `L1 holds ${s.l1Bytes} bytes`);
  // Each entry is ~540 bytes (key + JSON), so about 18 fit.
  assert.ok(s.l1Entries >= 15 && s.l1Entries <= 19, `${s.l1Entries} entries`);
  // An entry larger than the whole budget is served but not kept.
  const huge = await e.get("huge", async () => ({ blob: "y".repeat(20_000) }));
  assert.equal(huge?.blob.length, 20_000);
  assert.ok(c.stats().l1Bytes <= 10_000);
});

test("single-flight: 100 concurrent gets of one cold key cause one load, and everyone gets its answer", async () => {
  const c = l1Only();
  const e = c.entity<{ n: number }>("test", "sf");
  const l = counting(() => ({ n: 42 }), 20);
  const got = await Promise.all(Array.from({ length: 100 }, () => e.get("hot", l.one("hot"))));
  assert.equal(l.calls.length, 1);
  assert.ok(got.every((g) => g?.n === 42));
  // A failed load is shared by its joiners and not cached: the next read loads again.
  let fail = true;
  const flaky = async () => {
    l.calls.push(["flaky"]);
    await sleep(10);
    if (fail) throw new Error("db down");
    return { n: 1 };
  };
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => e.get("flaky", flaky)));
  assert.ok(results.every((r) => r.status === "rejected"));
  assert.equal(l.calls.length, 2);
  fail = false;
  assert.equal((await e.get("flaky", flaky))?.n, 1);
  assert.equal(l.calls.length, 3);
});

test("getMany: one loader call for all misses, joins loads in flight, answers in the order asked", async () => {
  const c = l1Only();
  const e = c.entity<{ id: string }>("test", "many");
  const l = counting((id) => (id.startsWith("gone") ? undefined : { id }), 20);
  await e.get("a", l.one("a"));
  l.calls.length = 0;
  const [first, second] = await Promise.all([
    e.getMany(["c", "a", "b", "b", "gone1"], l.many),
    e.getMany(["b", "d", "c"], l.many),
  ]);
  // "a" came from L1; the first call loaded b, c and gone1 at once; the second joined b and c and loaded only d.
  assert.deepEqual(l.calls, [["c", "b", "gone1"], ["d"]]);
  assert.deepEqual([...first.keys()], ["c", "a", "b"]);
  assert.deepEqual([...second.keys()], ["b", "d", "c"]);
  assert.deepEqual(second.get("d"), { id: "d" });
  // Everything, the missing id included, is now cached.
  await e.getMany(["a", "b", "c", "d", "gone1"], l.many);
  assert.equal(l.calls.length, 2);
  // A get joins a getMany in flight too.
  l.calls.length = 0;
  const [one, many] = await Promise.all([e.get("x", l.one("x")), e.getMany(["x", "y"], l.many)]);
  assert.deepEqual(one, { id: "x" });
  assert.deepEqual([...many.keys()], ["x", "y"]);
  assert.deepEqual(l.calls, [["x"], ["y"]]);
});

test("negative caching: not-found is kept for negativeMs only, values for l1Ms", async () => {
  const clock = fakeClock();
  const c = l1Only({ clock });
  const e = c.entity<{ n: number }>("test", "neg"); // the default policy
  const p = TTL_POLICY.default;
  let value: { n: number } | null | undefined = null;
  let loads = 0;
  const loader = async () => {
    loads++;
    return value;
  };
  assert.equal(await e.get("k", loader), undefined, "null from the loader reads as undefined");
  value = { n: 1 };
  assert.equal(await e.get("k", loader), undefined, "the not-found answer is cached");
  assert.equal(loads, 1);
  await clock.advance(p.negativeMs * 1.1 + 1);
  assert.deepEqual(await e.get("k", loader), { n: 1 }, "after negativeMs the loader is asked again");
  assert.equal(loads, 2);
  // A value outlives the negative TTL…
  await clock.advance(p.negativeMs * 1.1 + 1);
  await e.get("k", loader);
  assert.equal(loads, 2);
  // …but not l1Ms (+ jitter).
  await clock.advance(p.l1Ms * 1.1);
  await e.get("k", loader);
  assert.equal(loads, 3);
  // undefined counts as not-found as well, for getMany too.
  value = undefined;
  assert.equal(await e.get("u", loader), undefined);
  assert.equal(await e.get("u", loader), undefined);
  assert.equal(loads, 4);
  const many = await e.getMany(["u", "v"], async (ids) => {
    loads++;
    assert.deepEqual(ids, ["v"]);
    return new Map();
  });
  assert.equal(many.size, 0);
});

test("invalidate drops this replica's entry, and a load that raced the write does not refill it", async () => {
  const c = l1Only();
  const e = c.entity<{ v: number }>("test", "inv");
  let v = 1;
  let loads = 0;
  const loader = async () => {
    loads++;
    const seen = v; // the "database read"
    await sleep(30);
    return { v: seen };
  };
  assert.equal((await e.get("k", loader))?.v, 1);
  v = 2;
  assert.equal((await e.get("k", loader))?.v, 1, "still cached");
  await e.invalidate(["k"]);
  assert.equal((await e.get("k", loader))?.v, 2);
  assert.equal(loads, 2);

  // A read starts, the write lands and invalidates while the read is still loading the old row.
  const racing = e.get("k2", loader);
  await sleep(5);
  v = 3;
  await e.invalidate(["k2"]);
  // A reader after the invalidation does not join the old load.
  const after = e.get("k2", loader);
  assert.equal((await racing)?.v, 2);
  assert.equal((await after)?.v, 3);
  assert.equal((await e.get("k2", loader))?.v, 3, "L1 holds the post-write value, not the raced one");
});

test("with both tiers switched off every read goes to the loader (CACHE_ENABLED=false)", async () => {
  const c = l1Only({ l1: false });
  const e = c.entity<{ n: number }>("test", "off");
  let loads = 0;
  for (let i = 0; i < 5; i++) await e.get("k", async () => ({ n: ++loads }));
  assert.equal(loads, 5);
  assert.equal(c.distributed, false);
  assert.equal(await c.ready(), true);
});
