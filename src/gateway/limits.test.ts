import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { buildSchema } from "graphql";
import type { NovaError } from "../platform/errors.ts";
import { checkOperation, countTokens, parseBounded, selectOperation } from "./limits.ts";
import { defaultSecurity } from "./security.ts";

const schema = buildSchema(readFileSync(new URL("./schema.graphql", import.meta.url), "utf8"));
const limits = defaultSecurity(false).limits;

function measure(q: string, variables?: Record<string, unknown>, l = limits) {
  const doc = parseBounded(q, l.maxTokens);
  return checkOperation(schema, doc, selectOperation(doc), variables, l);
}
function refused(q: string, code: string, l = limits) {
  assert.throws(
    () => measure(q, undefined, l),
    (e: NovaError) => e.code === code,
  );
}

test("tokens are counted without parsing the whole document", () => {
  assert.equal(countTokens("{ me { id } }", 100), 6);
  assert.equal(countTokens(`{ ${"a ".repeat(100_000)} }`, 50), 51, "stops after the limit");
  refused(`{ me { ${"id ".repeat(2_000)} } }`, "TOO_MANY_TOKENS");
});

test("depth counts field levels; 10 is allowed, 11 is not", () => {
  const nest = (n: number) => {
    let q = "id";
    for (let i = 0; i < n; i++) q = `following(first: 1) { edges { node { ${q} } } }`;
    return `{ me { ${q} } }`;
  };
  assert.equal(measure(nest(2)).depth, 8);
  assert.equal(
    measure(nest(2).replace("node { id }", "node { id followers(first: 1) { edges { cursor } } }")).depth,
    10,
  );
  refused(nest(3), "QUERY_TOO_DEEP");
});

test("cost: a field is 1, a page multiplies its selection by first (variables and defaults included)", () => {
  assert.equal(measure("{ me { id username } }").cost, 3);
  // followers: 1 + 10 * (edges 1 + node (1 + id 1)) = 31, plus me.
  assert.equal(measure("{ me { followers(first: 10) { edges { node { id } } } } }").cost, 32);
  assert.equal(measure("query($n: Int) { me { followers(first: $n) { edges { node { id } } } } }", { n: 10 }).cost, 32);
  assert.equal(measure("query($n: Int = 10) { me { followers(first: $n) { edges { node { id } } } } }").cost, 32);
  // No first: the resolvers' default page of 20.
  assert.equal(measure("{ me { followers { edges { node { id } } } } }").cost, 62);
  refused(
    "{ me { followers(first: 100) { edges { node { followers(first: 100) { edges { node { id } } } } } } } }",
    "QUERY_TOO_COMPLEX",
  );
});

test("fragments are measured once each: a fragment bomb is refused by cost, cycles are refused", () => {
  const frags = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  const t0 = performance.now();
  refused(`{ ...F0 } ${frags.join(" ")} fragment F30 on Query { __typename }`, "QUERY_TOO_COMPLEX");
  assert.ok(performance.now() - t0 < 100);
  refused("{ me { ...A } } fragment A on User { ...A }", "INVALID_OPERATION");
});

test("aliases and directives are counted through fragments", () => {
  const aliases = Array.from({ length: 8 }, (_, i) => `a${i}: id`).join(" ");
  refused(`{ me { ...X ...X } } fragment X on User { ${aliases} }`, "TOO_MANY_ALIASES");
  assert.equal(measure(`{ me { ...X } } fragment X on User { ${aliases} }`).aliases, 8);
  refused(`{ me { ${Array.from({ length: 11 }, () => "id @skip(if: false)").join(" ")} } }`, "TOO_MANY_DIRECTIVES");
});

test("introspection is refused when off, __typename stays", () => {
  const off = { ...limits, introspection: false };
  refused("{ __schema { types { name } } }", "INTROSPECTION_DISABLED", off);
  refused('{ me { ...F } } fragment F on User { x: __type(name: "User") { name } }', "INTROSPECTION_DISABLED", off);
  assert.equal(measure("{ __typename }", undefined, off).kind, "query");
  assert.equal(measure("{ __schema { queryType { name } } }").kind, "query");
});

test("the operation is chosen by name; a kind is reported", () => {
  const doc = parseBounded("query A { __typename } mutation B { logout }", 100);
  assert.equal(selectOperation(doc, "B").operation, "mutation");
  assert.throws(
    () => selectOperation(doc),
    (e: NovaError) => e.field === "operationName",
  );
  assert.throws(
    () => selectOperation(doc, "C"),
    (e: NovaError) => e.code === "VALIDATION_FAILED",
  );
  assert.throws(
    () => parseBounded("{ me { ", 100),
    (e: NovaError) => e.code === "INVALID_OPERATION",
  );
});
