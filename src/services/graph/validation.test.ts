import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NovaError } from "../../platform/errors.ts";
import {
  DEFAULT_PAGE,
  decodeCursor,
  encodeCursor,
  MAX_BATCH,
  MAX_PAGE,
  validateLimit,
  validateUserId,
  validateUserIds,
} from "./validation.ts";

/** Asserts `fn` fails with VALIDATION_FAILED naming `field` (never another error). */
function rejects(field: string, fn: () => unknown): void {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof NovaError, `unexpected error type: ${err}`);
    assert.equal(err.code, "VALIDATION_FAILED");
    assert.equal(err.field, field);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    return true;
  });
}

test("user ids: UUIDs only, normalized to lower case; anything else names the field", () => {
  fc.assert(
    fc.property(fc.uuid(), (id) => {
      assert.equal(validateUserId(` ${id.toUpperCase()} `), id.toLowerCase());
    }),
  );
  fc.assert(
    fc.property(
      fc.string({ maxLength: 40 }).filter((s) => !/^[0-9a-f-]{36}$/i.test(s.trim())),
      (s) => rejects("userId", () => validateUserId(s)),
    ),
  );
  rejects("targetId", () => validateUserId("", "targetId"));
});

test("batches: at most 100 ids; a bad id is named by its index", () => {
  const id = "0190c7a4-0000-7000-8000-000000000000";
  assert.equal(validateUserIds(Array(MAX_BATCH).fill(id)).length, MAX_BATCH);
  assert.deepEqual(validateUserIds([]), []);
  rejects("userIds", () => validateUserIds(Array(MAX_BATCH + 1).fill(id)));
  rejects("userIds[1]", () => validateUserIds([id, "nope"]));
});

test("limit: 0 means the default, 1 to 100 pass, the rest name the field", () => {
  assert.equal(validateLimit(0), DEFAULT_PAGE);
  fc.assert(fc.property(fc.integer({ min: 1, max: MAX_PAGE }), (n) => assert.equal(validateLimit(n), n)));
  fc.assert(
    fc.property(fc.integer({ min: MAX_PAGE + 1, max: 2 ** 32 - 1 }), (n) => rejects("limit", () => validateLimit(n))),
  );
  rejects("limit", () => validateLimit(-1));
});

test("cursors round-trip; anything not made by encodeCursor is a coded error, never a database error", () => {
  assert.equal(decodeCursor(""), undefined);
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: 9223372036854775807n }), (n) => {
      assert.equal(decodeCursor(encodeCursor(n.toString())), n.toString());
    }),
  );
  // Out of bigint range, zero, leading zeros, signs, junk and overlong input.
  for (const v of ["9223372036854775808", "99999999999999999999", "0", "007", "-5", "1e3", "abc"]) {
    rejects("cursor", () => decodeCursor(encodeCursor(v)));
  }
  for (const c of ["zz!", "a b", "MTI=", "x".repeat(41)]) rejects("cursor", () => decodeCursor(c));
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (s) => {
      try {
        const v = decodeCursor(s);
        assert.ok(v === undefined || encodeCursor(v) === s);
      } catch (err) {
        assert.ok(err instanceof NovaError && err.field === "cursor", String(err));
      }
    }),
  );
});
