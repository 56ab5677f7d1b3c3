import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NovaError } from "./errors.ts";
import { text, textProblem, wellFormed } from "./validate.ts";

const fieldError = (field: string) => (err: unknown) =>
  err instanceof NovaError && err.code === "VALIDATION_FAILED" && err.field === field;

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
