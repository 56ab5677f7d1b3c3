import assert from "node:assert/strict";
import { test } from "node:test";
import type { Envelope } from "../../platform/events/envelope.ts";
import { applyEvent } from "./consumers.ts";
import type { SearchIndex } from "./projection.ts";

const U1 = "0190a0b0-0000-7000-8000-000000000001";
const U2 = "0190a0b0-0000-7000-8000-000000000002";
const P1 = "0190a0b0-0000-7000-8000-0000000000a1";

const ev = (type: string, payload: Record<string, unknown>): Envelope => ({
  id: "0190a0b0-0000-7000-8000-0000000000ff",
  type,
  aggregate_type: "x",
  aggregate_id: "a",
  occurred_at: "2026-11-27T00:00:00.000Z",
  actor_id: null,
  schema_version: 1,
  traceparent: null,
  payload,
});

test("every event reaches the index backend through the SearchIndex seam, not through PostgreSQL directly", async () => {
  const calls: [string, ...unknown[]][] = [];
  const record =
    (name: string) =>
    async (_db: unknown, ...args: unknown[]) => {
      calls.push([name, ...args]);
      return 1;
    };
  const index = {
    kind: "recording",
    writeUsers: record("writeUsers"),
    writePosts: record("writePosts"),
    editPost: record("editPost"),
    removePosts: record("removePosts"),
    writeBlocks: record("writeBlocks"),
    removeBlock: record("removeBlock"),
    sweep: record("sweep"),
  } as unknown as SearchIndex;
  const db = {} as never;
  const lang = () => "english";
  await applyEvent(db, ev("UserRegistered", { userId: U1, username: "alice", displayName: "Alice" }), lang, index);
  await applyEvent(db, ev("Blocked", { userId: U1, targetId: U2 }), lang, index);
  await applyEvent(db, ev("Unblocked", { userId: U1, targetId: U2 }), lang, index);
  await applyEvent(
    db,
    ev("PostCreated", { postId: P1, authorId: U1, text: "hi #tag", hashtags: ["tag"] }),
    lang,
    index,
  );
  await applyEvent(db, ev("PostEdited", { postId: P1, text: "hello", hashtags: [] }), lang, index);
  await applyEvent(db, ev("PostDeleted", { postId: P1 }), lang, index);
  await applyEvent(db, ev("Followed", { userId: U1, targetId: U2 }), lang, index);
  assert.deepEqual(
    calls.map((c) => c[0]),
    ["writeUsers", "writeBlocks", "removeBlock", "writePosts", "editPost", "removePosts"],
  );
  assert.deepEqual(calls[2], ["removeBlock", U1, U2]);
  assert.deepEqual(calls[5], ["removePosts", [P1]]);
});
