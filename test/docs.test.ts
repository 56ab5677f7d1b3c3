/** README.md's generated blocks (scripts/lib/docs.ts) are what `npm run docs` writes; no services needed. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import {
  blocks,
  declaredEvents,
  errorCodesBlock,
  eventsBlock,
  README_PATH,
  replaceBlock,
  signIn,
} from "../scripts/lib/docs.ts";
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

test("the event table has a row for every event of every service's events.ts, on its topic", async () => {
  const services = readdirSync(new URL("../src/services/", import.meta.url), { withFileTypes: true });
  const withEvents = services
    .filter(
      (d) =>
        d.isDirectory() && readdirSync(new URL(`../src/services/${d.name}/`, import.meta.url)).includes("events.ts"),
    )
    .map((d) => d.name)
    .sort();
  const declared = await declaredEvents();
  assert.deepEqual(
    declared.map((d) => d.service),
    withEvents,
  );
  for (const d of declared)
    assert.ok(d.sets.length > 0, `${d.service}/events.ts declares its events with defineEvents`);
  assert.deepEqual(withEvents, [
    "content",
    "export",
    "graph",
    "identity",
    "media",
    "messaging",
    "moderation",
    "notifications",
  ]);
  const table = await eventsBlock();
  const rows = [...table.matchAll(/^\| `(nova\.[a-z.]+)` \| `(\w+)` \| `(\w+)` \|/gm)].map((m) => `${m[1]} ${m[3]}`);
  const expected = declared.flatMap((d) => d.sets.flatMap((s) => s.types.map((t) => `${s.topic} ${t}`)));
  assert.deepEqual(rows, expected);
  assert.ok(rows.includes("nova.graph.relationship Followed"));
  assert.ok(rows.includes("nova.notifications.notification NotificationCreated"));
  assert.match(
    table,
    /^\| `nova\.graph\.relationship` \| `userId` \| `Unfollowed` \| `userId`, `targetId`, `reason\?` \|$/m,
  );
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
    "signIn",
    "completeSignIn",
    "confirmEmailChange",
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
