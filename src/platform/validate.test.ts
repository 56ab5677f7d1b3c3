import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NovaError } from "./errors.ts";
import { isUuid, text, textProblem, uuid, uuids, uuidv7, wellFormed } from "./validate.ts";

const fieldError = (field: string) => (err: unknown) =>
  err instanceof NovaError &&
  err.code === "VALIDATION_FAILED" &&
  err.field === field &&
  err.message.startsWith(`${field}: `);

test("property: any string with a lone surrogate is refused, naming the field", () => {
  const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
  fc.assert(
    fc.property(fc.string(), lone, fc.string(), (pre, s, post) => {
      // A high surrogate followed by a low one is a pair: keep the surrogate alone.
      const v = `${pre}${s}x${post}`.replace(/^[\uDC00-\uDFFF]/, "x");
      if (!/[\uD800-\uDFFF]/.test(v.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ""))) return;
      assert.throws(() => wellFormed("f", v), fieldError("f"));
      assert.throws(() => text("f", v, { max: 10_000, multiline: true }), fieldError("f"));
    }),
  );
});

test("property: any well-formed string without control characters passes, trimmed and NFC", () => {
  const ch = fc
    .string({ unit: "grapheme", minLength: 1, maxLength: 50 })
    .filter((s) => !/[\p{Cc}\u2028\u2029]/u.test(s));
  fc.assert(
    fc.property(ch, (s) => {
      const t = s.normalize("NFC").trim();
      fc.pre(t !== "");
      assert.equal(textProblem(s), undefined);
      assert.equal(text("f", s, { max: 1000 }), t);
    }),
  );
});

test("NUL is refused everywhere; tabs and newlines only in multiline text", () => {
  assert.throws(() => wellFormed("identifier", "a\u0000b"), fieldError("identifier"));
  assert.throws(() => text("f", "a\u0000b", { max: 10, multiline: true }), fieldError("f"));
  assert.throws(() => text("f", "a\tb", { max: 10 }), fieldError("f"));
  assert.equal(text("f", "a\tb\r\nc", { max: 10, multiline: true }), "a\tb\nc");
  assert.throws(() => text("f", "a\u0085b", { max: 10, multiline: true }), fieldError("f"));
  assert.equal(text("f", "🙂".repeat(3), { max: 3 }), "🙂🙂🙂", "counted in code points");
  assert.throws(() => text("f", "x".repeat(4), { max: 3 }), fieldError("f"));
  assert.throws(() => text("f", "  ", { max: 3 }), fieldError("f"));
  assert.equal(text("f", "  ", { max: 3, optional: true }), "");
  assert.equal(text("f", "Cafe\u0301", { max: 10 }), "Café");
  assert.equal(text("f", "Cafe\u0301", { max: 10, nfc: false }), "Cafe\u0301");
  assert.equal(wellFormed("f", "\ud83d\ude42"), "\ud83d\ude42", "a pair is text");
});

test("ids: UUIDs only, normalized to lower case; anything else names the field", () => {
  fc.assert(
    fc.property(fc.uuid(), (id) => {
      assert.equal(uuid("userId", ` ${id.toUpperCase()} `), id.toLowerCase());
      assert.ok(isUuid(id.toLowerCase()));
    }),
  );
  fc.assert(
    fc.property(
      fc.string({ maxLength: 40 }).filter((s) => !/^[0-9a-f-]{36}$/i.test(s.trim())),
      (s) => {
        assert.throws(() => uuid("userId", s), fieldError("userId"));
        assert.ok(!isUuid(s));
      },
    ),
  );
  assert.throws(() => uuid("targetId", ""), fieldError("targetId"));
  assert.ok(!isUuid("0190C7A4-0000-7000-8000-000000000000"), "events carry ids in lower case");
  assert.throws(() => uuid("postId", "nope", "a post id"), /^NovaError: postId: must be a post id \(UUID\)$/);
});

test("id batches: at most `max` ids; a bad id is named by its index", () => {
  const id = "0190c7a4-0000-7000-8000-000000000000";
  assert.equal(uuids("userIds", Array(100).fill(id), 100).length, 100);
  assert.deepEqual(uuids("userIds", [], 100), []);
  assert.throws(() => uuids("userIds", Array(101).fill(id), 100), fieldError("userIds"));
  assert.throws(() => uuids("userIds", [id, "nope"], 100), fieldError("userIds[1]"));
});

test("uuidv7: version 7, RFC variant, strictly increasing within a process", () => {
  let prev = "";
  for (let i = 0; i < 10_000; i++) {
    const id = uuidv7();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(id > prev, `${id} <= ${prev}`);
    prev = id;
  }
  const future = Date.now() + 1_000_000_000;
  assert.equal(
    Number.parseInt(uuidv7(future).replace(/-/g, "").slice(0, 12), 16),
    future,
    "the timestamp is the first 48 bits",
  );
});
