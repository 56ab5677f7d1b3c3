import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { JITTER, jitter, keyFormat, policyFor, TTL_POLICY } from "./policy.ts";

test("keys are nova:<service>:<entity>:<id>:v<schema-version>", () => {
  assert.equal(keyFormat("content", "post", 2)("abc"), "nova:content:post:abc:v2");
  assert.equal(
    keyFormat("identity", "user", 1)("0190c7a4-0000-7000-8000-000000000001"),
    "nova:identity:user:0190c7a4-0000-7000-8000-000000000001:v1",
  );
  // One entity and version: distinct ids always give distinct keys, even ids with ':' in them.
  fc.assert(
    fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
      const key = keyFormat("s", "e", 3);
      assert.equal(key(a) === key(b), a === b);
    }),
  );
});

test("bad key parts are refused", () => {
  assert.throws(() => keyFormat("Content", "post", 1), /bad service name/);
  assert.throws(() => keyFormat("content", "post:x", 1), /bad entity name/);
  assert.throws(() => keyFormat("content", "", 1), /bad entity name/);
  assert.throws(() => keyFormat("content", "post", 0), /bad schema version/);
  assert.throws(() => keyFormat("content", "post", 1.5), /bad schema version/);
  assert.throws(() => keyFormat("content", "post", 1)(""), /empty id/);
});

test("jitter stays within ±10 % (and at least 1 ms)", () => {
  assert.equal(JITTER, 0.1);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3_600_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (ms, r) => {
        const j = jitter(ms, () => r);
        assert.ok(j >= 1);
        assert.ok(j >= Math.floor(ms * 0.9) && j <= Math.ceil(ms * 1.1), `${ms} -> ${j}`);
      },
    ),
  );
  assert.equal(
    jitter(10_000, () => 0),
    9_000,
  );
  assert.equal(
    jitter(10_000, () => 0.5),
    10_000,
  );
  assert.equal(
    jitter(10_000, () => 0.999_999),
    11_000,
  );
  // With the real random source the TTLs spread out (so keys cached together do not expire together).
  const seen = new Set(Array.from({ length: 200 }, () => jitter(60_000)));
  assert.ok(seen.size > 50, `only ${seen.size} distinct TTLs`);
  for (const t of seen) assert.ok(t >= 54_000 && t <= 66_000);
});

test("the TTL table keeps ARCHITECTURE §5's ranges: L1 5–30 s, L2 60–300 s, negatives shorter than L1", () => {
  for (const [entity, p] of Object.entries(TTL_POLICY)) {
    assert.ok(p.l1Ms >= 5_000 && p.l1Ms <= 30_000, `${entity}: l1Ms ${p.l1Ms}`);
    assert.ok(p.l2Ms >= 60_000 && p.l2Ms <= 300_000, `${entity}: l2Ms ${p.l2Ms}`);
    assert.ok(p.negativeMs > 0 && p.negativeMs < p.l1Ms, `${entity}: negativeMs ${p.negativeMs}`);
    // With jitter, an L1 entry still never outlives the L2 entry it was read from.
    assert.ok(p.l1Ms * (1 + JITTER) < p.l2Ms * (1 - JITTER), entity);
  }
});

test("an entity without its own row gets the default policy", () => {
  assert.deepEqual(policyFor("content", "post"), TTL_POLICY["content:post"]);
  assert.deepEqual(policyFor("test", "thing"), TTL_POLICY.default);
});
