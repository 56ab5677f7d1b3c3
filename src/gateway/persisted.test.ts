import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildSchema, parse, validate } from "graphql";
import type { NovaError } from "../platform/errors.ts";
import { buildManifest, loadManifest, PersistedOperations, sha256 } from "./persisted.ts";

const schema = buildSchema(readFileSync(new URL("./schema.graphql", import.meta.url), "utf8"));

test("the allow-list is exactly what src/gateway/operations/*.graphql says (run `npm run operations`)", () => {
  assert.deepEqual(loadManifest(), buildManifest());
  assert.ok(Object.keys(loadManifest().operations).length >= 30);
});

test("every allow-listed operation validates against schema.graphql", () => {
  for (const op of Object.values(buildManifest().operations)) {
    const doc = parse(op.document);
    assert.deepEqual(
      validate(schema, doc).map((e) => e.message),
      [],
      op.name,
    );
    const def = doc.definitions[0] as { name?: { value: string } };
    assert.equal(def.name?.value, op.name, "named like its file");
  }
});

test("a document carries the fragments it spreads, transitively, once each, and no other", () => {
  const dir = mkdtempSync(join(tmpdir(), "nova-ops-"));
  mkdirSync(join(dir, "fragments"));
  const put = (path: string, text: string) => writeFileSync(join(dir, path), text);
  put("fragments/A.graphql", "fragment A on User { id ...B }");
  put("fragments/B.graphql", "fragment B on User { username }");
  put("fragments/C.graphql", "fragment C on User { email }");
  put("Q.graphql", "query Q { me { ...A ... on User { ...B } } }");
  const [op] = Object.values(buildManifest(dir).operations);
  assert.equal(
    op?.document,
    "query Q { me { ...A ... on User { ...B } } }\n\nfragment A on User { id ...B }\n\nfragment B on User { username }",
  );
  put("R.graphql", "query R { me { ...Missing } }");
  assert.throws(() => buildManifest(dir), /unknown fragment Missing/);
  rmSync(dir, { recursive: true });
});

const manifest = buildManifest();
const [hash, me] = Object.entries(manifest.operations).find(([, o]) => o.name === "Me") as [
  string,
  { document: string },
];

test("production: only the allow-list, by hash or exact text", () => {
  const p = new PersistedOperations(manifest, true);
  assert.equal(p.resolve({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }).query, me.document);
  assert.equal(p.resolve({ query: me.document }).query, me.document);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as NovaError).code;
    }
    return "none";
  };
  assert.equal(
    code(() => p.resolve({ extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } } })),
    "PERSISTED_QUERY_NOT_FOUND",
  );
  assert.equal(
    code(() => p.resolve({ query: "{ __schema { types { name } } }" })),
    "PERSISTED_QUERY_REQUIRED",
  );
  const q = "{ __typename }";
  assert.equal(
    code(() => p.resolve({ query: q, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(q) } } })),
    "PERSISTED_QUERY_REQUIRED",
  );
  assert.equal(
    code(() => p.resolve({ extensions: { persistedQuery: { version: 2, sha256Hash: hash } } })),
    "VALIDATION_FAILED",
  );
});

test("development: APQ registers a text under its hash once it is remembered", () => {
  const p = new PersistedOperations(manifest, false);
  const q = "{ __typename }";
  const ext = { persistedQuery: { version: 1, sha256Hash: sha256(q) } };
  assert.throws(
    () => p.resolve({ extensions: ext }),
    (e: NovaError) => e.code === "PERSISTED_QUERY_NOT_FOUND",
  );
  const r = p.resolve({ query: q, extensions: ext });
  assert.equal(r.remember, sha256(q));
  p.remember(r.remember as string, q);
  assert.equal(p.resolve({ extensions: ext }).query, q);
  assert.equal(p.resolve({ query: "{ me { id } }" }).query, "{ me { id } }", "ad-hoc documents run");
});
