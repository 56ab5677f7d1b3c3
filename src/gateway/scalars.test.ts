import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { buildSchema, Kind, parse } from "graphql";
import type { NovaError } from "../platform/errors.ts";
import { checkScalarLiterals, ScalarError, scalarResolvers } from "./scalars.ts";

const schema = buildSchema(readFileSync(new URL("./schema.graphql", import.meta.url), "utf8"));
const s = (name: string) => scalarResolvers[name] as (typeof scalarResolvers)[string];

test("every scalar is declared in schema.graphql", () => {
  for (const name of Object.keys(scalarResolvers)) assert.ok(schema.getType(name), name);
});

test("input rules", () => {
  const ok: [string, string][] = [
    ["Email", "a@example.com"],
    ["Username", "Alice_01"],
    ["URL", "https://x.example/a.png"],
    ["Cursor", "MTIz"],
    ["DateTime", "2025-01-31T12:00:00Z"],
  ];
  for (const [n, v] of ok) assert.equal(s(n).parseValue(v), v);
  const bad: [string, unknown][] = [
    ["Email", "nope"],
    ["Email", `${"a".repeat(250)}@x.io`],
    ["Username", "ab"],
    ["Username", "has space"],
    ["URL", "http://x.example"],
    ["URL", "https://u:p@x.example"],
    ["URL", "not a url"],
    ["Cursor", "a b"],
    ["DateTime", "yesterday"],
    ["DateTime", "2025-13-45T00:00:00Z"],
    ["Email", 42],
  ];
  for (const [n, v] of bad) assert.throws(() => s(n).parseValue(v), ScalarError, `${n} ${v}`);
  assert.throws(() => s("Email").parseLiteral({ kind: Kind.INT, value: "1" }), ScalarError);
});

test("output: DateTime becomes RFC 3339, others pass through", () => {
  assert.equal(s("DateTime").serialize(new Date(0)), "1970-01-01T00:00:00.000Z");
  assert.equal(s("DateTime").serialize("2025-01-31 12:00:00+00"), "2025-01-31T12:00:00.000Z");
  assert.equal(s("DateTime").serialize("2025-01-31T12:00:00.123456Z"), "2025-01-31T12:00:00.123456Z");
  assert.equal(s("Username").serialize("bob"), "bob");
});

test("literals are checked before validation and name the field the way the services do", () => {
  const check = (q: string) => checkScalarLiterals(schema, parse(q));
  assert.throws(
    () => check(`mutation { register(input: { email: "x", username: "ok_name", password: "p" }) { accessToken } }`),
    (e: NovaError) => e.code === "VALIDATION_FAILED" && e.field === "email",
  );
  assert.throws(
    () =>
      check(
        `mutation { createPost(input: { text: "t", media: [{ url: "https://a.example", mimeType: "image/png", width: 1, height: 1 }, { url: "ftp://b", mimeType: "image/png", width: 1, height: 1 }] }) { id } }`,
      ),
    (e: NovaError) => e.field === "media[1].url" && /https/.test(e.message),
  );
  check(`mutation($e: Email!) { register(input: { email: $e, username: "ok_name", password: "p" }) { accessToken } }`);
  check(`{ nope(x: "y") }`);
});
