import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NovaError } from "../../platform/errors.ts";
import { textProblem } from "../../platform/validate.ts";
import {
  isCommonPassword,
  LIMITS,
  validateAvatarUrl,
  validateBio,
  validateDisplayName,
  validateEmail,
  validatePassword,
  validateUsername,
} from "./validation.ts";

/** Either a normalized value or a VALIDATION_FAILED error naming `field` — never anything else. */
function outcome(field: string, fn: () => string): { ok: true; value: string } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    assert.ok(err instanceof NovaError, `unexpected error type: ${err}`);
    assert.equal(err.code, "VALIDATION_FAILED");
    assert.equal(err.field, field);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    return { ok: false };
  }
}

const len = (s: string) => [...s].length;

test("username: accepts exactly 3-30 of [a-z0-9_], case-insensitively, and is idempotent", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const r = outcome("username", () => validateUsername(s));
      const norm = s.trim().toLowerCase();
      const valid = /^[a-z0-9_]{3,30}$/.test(norm);
      assert.equal(r.ok, valid, JSON.stringify(s));
      if (r.ok) {
        assert.equal(r.value, norm);
        assert.equal(validateUsername(r.value), r.value);
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.stringMatching(/^[a-zA-Z0-9_]{3,30}$/), (s) => {
      assert.equal(validateUsername(s), s.toLowerCase());
    }),
  );
});

test("email: valid addresses pass trimmed; anything without a proper @domain fails with the field named", () => {
  fc.assert(
    fc.property(fc.emailAddress(), (e) => {
      const r = outcome("email", () => validateEmail(`  ${e} `));
      // fast-check generates RFC-valid addresses; our rule may be stricter, never looser.
      if (r.ok) {
        assert.equal(r.value, e);
        assert.ok(r.value.length <= LIMITS.emailMax);
      }
    }),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      const r = outcome("email", () => validateEmail(s));
      if (r.ok) {
        assert.match(r.value, /^[^@\s]+@[^@\s]+\.[^@\s]+$/);
        assert.ok(r.value.length <= LIMITS.emailMax);
      }
    }),
    { numRuns: 2000 },
  );
  for (const ok of ["a@example.com", "first.last+tag@sub.example.org"]) assert.equal(validateEmail(ok), ok);
  for (const bad of ["", "a", "a@", "@b.com", "a@b", "a b@c.com", `${"x".repeat(250)}@example.com`]) {
    assert.equal(outcome("email", () => validateEmail(bad)).ok, false, bad);
  }
});

test("password: at least 10 characters (code points), at most 256, never a common one", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (s) => {
      const r = outcome("password", () => validatePassword(s));
      const n = len(s);
      assert.equal(r.ok, n >= LIMITS.passwordMin && n <= LIMITS.passwordMax && !isCommonPassword(s));
      if (r.ok) assert.equal(r.value, s, "a password is never altered");
    }),
    { numRuns: 2000 },
  );
  for (const common of ["password123", "Password123", "1234567890", "qwertyuiop"]) {
    assert.equal(outcome("password", () => validatePassword(common)).ok, false, common);
  }
  assert.equal(validatePassword("correct horse battery"), "correct horse battery");
});

test("displayName and bio: bounded length, no control characters (bio may have newlines)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => {
      const r = outcome("displayName", () => validateDisplayName(s));
      const t = s.trim();
      const expected =
        len(t) <= LIMITS.displayNameMax &&
        !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(t) &&
        textProblem(t) === undefined;
      assert.equal(r.ok, expected, JSON.stringify(s));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 400 }), (s) => {
      const r = outcome("bio", () => validateBio(s));
      const t = s.trim();
      const t2 = t.replace(/\r\n?/g, "\n");
      const expected =
        len(t2) <= LIMITS.bioMax &&
        !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/.test(t2) &&
        textProblem(t2) === undefined;
      assert.equal(r.ok, expected, JSON.stringify(s));
    }),
    { numRuns: 2000 },
  );
  assert.equal(validateBio("line one\nline two"), "line one\nline two");
  assert.equal(outcome("displayName", () => validateDisplayName("a\nb")).ok, false);
});

test("avatarUrl: only https URLs without credentials, or empty to clear", () => {
  fc.assert(
    fc.property(fc.webUrl({ validSchemes: ["https"] }), (u) => {
      const r = outcome("avatarUrl", () => validateAvatarUrl(u));
      if (u.length <= LIMITS.avatarUrlMax) {
        if (r.ok) assert.ok(r.value.startsWith("https://"));
      }
    }),
  );
  fc.assert(
    fc.property(fc.webUrl({ validSchemes: ["http", "ftp"] }), (u) => {
      assert.equal(outcome("avatarUrl", () => validateAvatarUrl(u)).ok, false, u);
    }),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 100 }), (s) => {
      const r = outcome("avatarUrl", () => validateAvatarUrl(s));
      if (r.ok && r.value !== "") assert.ok(r.value.startsWith("https://"));
    }),
    { numRuns: 2000 },
  );
  assert.equal(validateAvatarUrl(""), "");
  assert.equal(outcome("avatarUrl", () => validateAvatarUrl("javascript:alert(1)")).ok, false);
  assert.equal(outcome("avatarUrl", () => validateAvatarUrl("https://u:p@example.com/a.png")).ok, false);
});
