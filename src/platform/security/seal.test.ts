import assert from "node:assert/strict";
import { test } from "node:test";
import { createSealer } from "./seal.ts";

test("a sealed value opens with the same key and context only; a damaged one never does", () => {
  const a = createSealer("secret one", "purpose");
  const sealed = a.seal("the token", "ctx:1");
  assert.equal(a.open(sealed, "ctx:1"), "the token");
  assert.ok(!sealed.includes("the token"));
  assert.notEqual(a.seal("the token", "ctx:1"), sealed, "a fresh IV each time");
  assert.equal(a.open(sealed, "ctx:2"), undefined, "another context");
  assert.equal(createSealer("secret two", "purpose").open(sealed, "ctx:1"), undefined, "another key");
  assert.equal(createSealer("secret one", "another purpose").open(sealed, "ctx:1"), undefined, "another derivation");
  const [v, iv, body] = sealed.split(".") as [string, string, string];
  const flipped = `${body.slice(0, -2)}${body.endsWith("AA") ? "BB" : "AA"}`;
  for (const bad of [`${v}.${iv}.${flipped}`, "v2.x.y", "", "v1..", `v1.${iv}`, "v1.AAAA.AAAA"]) {
    assert.equal(a.open(bad, "ctx:1"), undefined, bad);
  }
});
