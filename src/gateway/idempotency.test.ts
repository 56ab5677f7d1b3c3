/** Idempotency keys on real Redis (two connections = two gateway replicas) and in-process. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { services, unique } from "../../test/helpers.ts";
import type { NovaError } from "../platform/errors.ts";
import {
  checkKey,
  fingerprint,
  Idempotency,
  type IdempotencyStore,
  MemoryIdempotencyStore,
  RedisIdempotencyStore,
} from "./idempotency.ts";

let a: Redis;
let b: Redis;
before(async () => {
  const s = await services();
  a = new Redis(s.redis);
  b = new Redis(s.redis);
  await a.ping();
});
after(() => {
  a.disconnect();
  b.disconnect();
});

async function race(stores: IdempotencyStore[]) {
  const prefix = `test:idem:${unique("p")}`;
  const replicas = stores.map((s) => new Idempotency(s, 60_000, prefix));
  const key = unique("k");
  let effects = 0;
  const body = { query: "mutation { x }", variables: { a: 1, b: 2 } };
  const run = async (i: number) => {
    const idem = replicas[i % replicas.length] as Idempotency;
    const c = await idem.begin(
      "user:1",
      key,
      i % 2 ? body : { variables: { b: 2, a: 1 }, query: "mutation { x }" },
      5_000,
    );
    if (c.kind === "replay") return c.response.body;
    effects++;
    await new Promise((r) => setTimeout(r, 50));
    const response = { status: 200, contentType: "application/json", body: `{"n":${effects}}` };
    await idem.finish(c, response);
    return response.body;
  };
  const bodies = await Promise.all(Array.from({ length: 20 }, (_, i) => run(i)));
  assert.equal(effects, 1, "one effect");
  assert.deepEqual(new Set(bodies), new Set(['{"n":1}']), "every request got the first response");
  // A different body under the same key is refused.
  await assert.rejects(
    (replicas[0] as Idempotency).begin("user:1", key, { query: "mutation { y }" }, 1_000),
    (e: NovaError) => e.code === "IDEMPOTENCY_KEY_REUSED" && e.def.http === 422,
  );
  // Another user's key of the same name is another key.
  const other = await (replicas[0] as Idempotency).begin("user:2", key, body, 1_000);
  assert.equal(other.kind, "claimed");
}

test("20 concurrent identical requests across two Redis connections: one effect, one response", async () => {
  await race([new RedisIdempotencyStore(a), new RedisIdempotencyStore(b)]);
});

test("the same in one process without Redis", async () => {
  await race([new MemoryIdempotencyStore()]);
});

test("the key is kept for the TTL on Redis; a failed (5xx) request frees it", async () => {
  const idem = new Idempotency(new RedisIdempotencyStore(a), 24 * 3_600_000, "test:idem:ttl");
  const c = await idem.begin("s", unique("k"), { q: 1 }, 1_000);
  assert.equal(c.kind, "claimed");
  if (c.kind !== "claimed") return;
  await idem.finish(c, { status: 200, contentType: "application/json", body: "{}" });
  const ttl = await a.pttl(c.key);
  assert.ok(ttl > 23.9 * 3_600_000 && ttl <= 24 * 3_600_000, `ttl ${ttl}`);
  const d = await idem.begin("s", unique("k"), { q: 1 }, 1_000);
  if (d.kind !== "claimed") throw new Error("expected a claim");
  await idem.finish(d, { status: 503, contentType: "", body: "" });
  assert.equal(await a.exists(d.key), 0);
});

test("a request still in progress past the wait is IDEMPOTENCY_KEY_IN_USE", async () => {
  const idem = new Idempotency(new MemoryIdempotencyStore(), 60_000);
  const key = unique("k");
  assert.equal((await idem.begin("s", key, {}, 1_000)).kind, "claimed");
  await assert.rejects(idem.begin("s", key, {}, 100), (e: NovaError) => e.code === "IDEMPOTENCY_KEY_IN_USE");
});

test("keys and fingerprints", () => {
  assert.equal(checkKey("0b9f6c1e-4f55-4a52-9a7c-7f3c4d2f1a00"), "0b9f6c1e-4f55-4a52-9a7c-7f3c4d2f1a00");
  for (const bad of ["", "a b", "x".repeat(256), "é"])
    assert.throws(
      () => checkKey(bad),
      (e: NovaError) => e.field === "Idempotency-Key",
    );
  assert.equal(fingerprint({ a: 1, b: [1, { c: 2, d: 3 }] }), fingerprint({ b: [1, { d: 3, c: 2 }], a: 1 }));
  assert.notEqual(fingerprint({ a: 1 }), fingerprint({ a: 2 }));
});
