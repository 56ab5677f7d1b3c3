/**
 * `npm run docs`: rewrites README.md's generated blocks (scripts/lib/docs.ts:
 * the error codes from the catalogue, the fields that need sign-in from the
 * resolvers). `--check` exits 1 when README.md is stale instead (the unit test
 * test/docs.test.ts checks the same in `npm test`).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { README_PATH, renderReadme } from "./lib/docs.ts";

const text = readFileSync(README_PATH, "utf8");
const next = await renderReadme(text);
if (process.argv.includes("--check")) {
  if (next !== text) {
    process.stderr.write("README.md's generated blocks are stale: run `npm run docs`\n");
    process.exit(1);
  }
} else if (next !== text) {
  writeFileSync(README_PATH, next);
  process.stdout.write("README.md: generated blocks rewritten\n");
} else {
  process.stdout.write("README.md: generated blocks already up to date\n");
}
