/** README.md's generated blocks (scripts/lib/docs.ts) are what `npm run docs` writes; no services needed. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { blocks, errorCodesBlock, README_PATH, replaceBlock, signIn } from "../scripts/lib/docs.ts";
import { catalogue } from "../src/platform/errors.ts";

const readme = readFileSync(README_PATH, "utf8");

function block(name: string): string {
  const begin = `<!-- ${name}:begin -->\n`;
  const i = readme.indexOf(begin);
  const j = readme.indexOf(`\n<!-- ${name}:end -->`);
  assert.ok(i >= 0 && j > i, `README.md has a ${name} block`);
  return readme.slice(i + begin.length, j);
}

test("README.md's generated blocks are up to date (run `npm run docs`)", async () => {
  for (const [name, body] of Object.entries(await blocks())) {
    assert.equal(block(name), body, `README.md's ${name} block is stale: run \`npm run docs\``);
  }
});

test("the error-code table has a row for every catalogue code", () => {
  const table = errorCodesBlock();
  for (const def of Object.values(catalogue)) {
    assert.ok(def.meaning.trim().length > 0, `${def.graphql} has a meaning`);
    assert.match(table, new RegExp(`^\\| \`${def.graphql}\` \\| `, "m"));
  }
  for (const code of ["CONFLICT", "INVALID_CREDENTIALS", "TOKEN_INVALID", "IDEMPOTENCY_KEY_REUSED", "LIMIT_REACHED"]) {
    assert.match(table, new RegExp(`\`${code}\``), code);
  }
});

test("sign-in is read from the resolvers: a field that asks for a viewer needs sign-in, one that reaches a backend does not", async () => {
  const s = await signIn();
  const root = (type: string) => s.roots.find((r) => r.type === type);
  assert.ok(root("Query")?.open.includes("user"));
  assert.ok(root("Query")?.signIn.includes("me"));
  assert.deepEqual(root("Mutation")?.open, [
    "register",
    "login",
    "refreshToken",
    "signUp",
    "verifyEmail",
    "requestPasswordReset",
    "resetPassword",
  ]);
  assert.ok(root("Mutation")?.signIn.includes("logoutAll"));
  assert.deepEqual(root("Subscription")?.open, []);
  assert.ok(s.nested.includes("User.bookmarks"));
  assert.deepEqual(
    s.viewerOnly.find((v) => v.field === "Post.viewerHasLiked"),
    { field: "Post.viewerHasLiked", value: false },
  );
});

test("replaceBlock rewrites only what is between the markers, and refuses a README without them", () => {
  const text = "a\n<!-- x:begin -->\nold\n<!-- x:end -->\nb\n";
  assert.equal(replaceBlock(text, "x", "new"), "a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb\n");
  assert.throws(() => replaceBlock("no markers", "x", "new"), /no <!-- x:begin -->/);
});
