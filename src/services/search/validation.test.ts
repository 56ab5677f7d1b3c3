import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { z } from "zod";
import { NovaError } from "../../platform/errors.ts";
import {
  decodeCursor,
  encodeCursor,
  fingerprint,
  prefixPattern,
  validateLanguage,
  validateQuery,
  validateTag,
} from "./validation.ts";

const fieldError = (field: string) => (err: unknown) =>
  err instanceof NovaError && err.code === "VALIDATION_FAILED" && err.field === field;

test("a query is 1 to 200 characters of text without control characters, normalized", () => {
  assert.equal(validateQuery("query", "  Cafe\u0301  "), "Café");
  assert.equal(validateQuery("query", "🙂".repeat(200)).length, 400, "counted in characters, not UTF-16 units");
  for (const bad of ["", " \t ", "a\nb", "a\u0000", "a\u0085", "a\u2028b", "\ud800x", "x".repeat(201)])
    assert.throws(() => validateQuery("query", bad), fieldError("query"), JSON.stringify(bad));
});

test("property: any string is either a normalized query or a field error", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => {
      try {
        const q = validateQuery("query", s);
        assert.ok(q.length > 0 && [...q].length <= 200 && q === q.normalize("NFC") && q === q.trim());
        assert.ok(!/\p{Cc}/u.test(q));
      } catch (err) {
        assert.ok(fieldError("query")(err), String(err));
      }
    }),
    { numRuns: 2_000 },
  );
});

test("property: a prefix pattern matches exactly the strings that start with the text", () => {
  // LIKE semantics with ESCAPE '\', evaluated here with a regular expression.
  const like = (pattern: string, s: string) => {
    let re = "^";
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i] as string;
      if (c === "\\") re += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      else if (c === "%") re += "[\\s\\S]*";
      else if (c === "_") re += "[\\s\\S]";
      else re += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    }
    return new RegExp(`${re}$`, "u").test(s);
  };
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (p, s) => {
      assert.equal(like(prefixPattern(p), s), s.startsWith(p));
      assert.ok(like(prefixPattern(p), p + s));
    }),
    { numRuns: 2_000 },
  );
});

test("cursors round-trip, are bound to their search, and anything else is a cursor error", () => {
  const fp = fingerprint("users", "ada");
  const shape = z.tuple([z.number(), z.string()]);
  assert.deepEqual(decodeCursor(encodeCursor(fp, [0.25, "ada"]), fp, shape), [0.25, "ada"]);
  assert.equal(decodeCursor("", fp, shape), undefined);
  assert.throws(
    () => decodeCursor(encodeCursor(fingerprint("users", "bob"), [0.25, "ada"]), fp, shape),
    fieldError("cursor"),
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 500 }), (c) => {
      try {
        decodeCursor(c, fp, shape);
      } catch (err) {
        assert.ok(fieldError("cursor")(err), String(err));
      }
    }),
    { numRuns: 2_000 },
  );
});

test("hashtags and languages", () => {
  assert.equal(validateTag("tag", "#Ｎｏｖａ"), "nova", "NFKC and lower case, as content stores them");
  assert.throws(() => validateTag("tag", "#no spaces"), fieldError("tag"));
  assert.equal(validateLanguage("language", "", "english"), "english");
  assert.equal(validateLanguage("language", "DE", "english"), "german");
  assert.throws(() => validateLanguage("language", "xx", "english"), fieldError("language"));
});
