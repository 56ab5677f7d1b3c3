/**
 * `npm run operations`: rebuilds the persisted-operation allow-list
 * (src/gateway/operations/manifest.json) from the client operations in
 * src/gateway/operations/*.graphql. `--check` exits 1 when the manifest is
 * stale or an operation does not validate against the schema (the unit test
 * src/gateway/persisted.test.ts checks the same in `npm test`).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { buildSchema, parse, validate } from "graphql";
import { buildManifest, MANIFEST_PATH } from "../src/gateway/persisted.ts";

const schema = buildSchema(readFileSync(new URL("../src/gateway/schema.graphql", import.meta.url), "utf8"));
const manifest = buildManifest();
const problems: string[] = [];
for (const op of Object.values(manifest.operations)) {
  for (const e of validate(schema, parse(op.document))) problems.push(`${op.name}: ${e.message}`);
}
if (problems.length) {
  process.stderr.write(`operations do not validate against schema.graphql:\n  ${problems.join("\n  ")}\n`);
  process.exit(1);
}
const text = `${JSON.stringify(manifest, null, 2)}\n`;
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(MANIFEST_PATH, "utf8");
  } catch {}
  if (current !== text) {
    process.stderr.write("src/gateway/operations/manifest.json is stale: run `npm run operations`\n");
    process.exit(1);
  }
} else {
  writeFileSync(MANIFEST_PATH, text);
  process.stdout.write(`${Object.keys(manifest.operations).length} operations -> ${MANIFEST_PATH}\n`);
}
