/**
 * The SDL contract: the schema the gateway serves, printed in a stable order, must equal the
 * committed snapshot. A schema change fails here until the snapshot is updated on purpose:
 *   UPDATE_SNAPSHOT=1 npm test -- gateway/schema
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { buildSchema, lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "./server.ts";

const SNAPSHOT = new URL("./schema.snapshot.graphql", import.meta.url);

test("the served GraphQL schema equals the committed SDL snapshot", () => {
  const printed = `${printSchema(lexicographicSortSchema(buildSchema(schema)))}\n`;
  if (process.env.UPDATE_SNAPSHOT === "1") writeFileSync(SNAPSHOT, printed);
  assert.equal(
    printed,
    readFileSync(SNAPSHOT, "utf8"),
    "the schema changed: review the change, then UPDATE_SNAPSHOT=1 npm test -- gateway/schema",
  );
});
