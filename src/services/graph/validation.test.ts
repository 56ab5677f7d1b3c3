import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NovaError } from "../../platform/errors.ts";
import { MAX_BATCH, validateUserId, validateUserIds } from "./validation.ts";

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
