import assert from "node:assert/strict";
import { test } from "node:test";
import { uuidv7 } from "./ids.ts";

test("uuidv7: version 7, RFC variant, strictly increasing within a process", () => {
  let prev = "";
  for (let i = 0; i < 10_000; i++) {
    const id = uuidv7();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(id > prev, `${id} <= ${prev}`);
    prev = id;
  }
  const future = Date.now() + 1_000_000_000;
  assert.equal(
    Number.parseInt(uuidv7(future).replace(/-/g, "").slice(0, 12), 16),
    future,
    "the timestamp is the first 48 bits",
  );
});
