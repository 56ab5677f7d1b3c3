import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ClampedCounters } from "./counters.ts";

test("merged counter changes give what applying each change clamped at zero gives", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 3, maxLength: 3 }),
      fc.array(fc.tuple(fc.nat(2), fc.constantFrom("a", "b"), fc.integer({ min: -3, max: 3 })), { maxLength: 40 }),
      (start, changes) => {
        const rows = ["r0", "r1", "r2"];
        const oneByOne = new Map(rows.flatMap((r, i) => ["a", "b"].map((c) => [`${r}:${c}`, start[i] as number])));
        const merged = new ClampedCounters(["a", "b"] as const);
        for (const [row, c, d] of changes) {
          const key = `${rows[row]}:${c}`;
          oneByOne.set(key, Math.max(0, (oneByOne.get(key) as number) + d));
          merged.add(rows[row] as string, c, d);
        }
        const { ids, sum, floor } = merged.columns();
        assert.deepEqual(ids, [...ids].sort(), "ids sorted");
        for (const [i, id] of ids.entries()) {
          for (const c of ["a", "b"] as const) {
            const stored = start[rows.indexOf(id)] as number;
            assert.equal(Math.max(floor[c][i] as number, stored + (sum[c][i] as number)), oneByOne.get(`${id}:${c}`));
          }
        }
      },
    ),
    { numRuns: 500 },
  );
});
