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

test("payloads are read with their writers' schemas: a bad field fails naming it, defaults fill what may be missing", async () => {
  const written: unknown[] = [];
  const index = {
    kind: "recording",
    writeUsers: async (_db: unknown, users: unknown[]) => written.push(...users),
    writePosts: async (_db: unknown, posts: unknown[]) => written.push(...posts),
  } as unknown as SearchIndex;
  const db = {} as never;
  const lang = (code: string | undefined) => (code === "fr" ? "french" : "simple");
  // What identity and content may leave out has today's default; an upper-case id is read lower-cased.
  await applyEvent(db, ev("ProfileUpdated", { userId: U1.toUpperCase(), username: "alice" }), lang, index);
  await applyEvent(db, ev("PostCreated", { postId: P1, authorId: U1, text: "t", language: "fr" }), lang, index);
  assert.deepEqual(written, [
    { userId: U1, username: "alice", displayName: "", createdAt: "2026-11-27T00:00:00.000Z" },
    { postId: P1, authorId: U1, text: "t", hashtags: [], createdAt: "2026-11-27T00:00:00.000Z", language: "french" },
  ]);
  const fails = (type: string, payload: Record<string, unknown>) => applyEvent(db, ev(type, payload), lang, index);
  await assert.rejects(fails("PostCreated", { postId: P1, authorId: "nope", text: "t" }), {
    name: "PayloadError",
    message: `PostCreated ${ev("x", {}).id}: payload.authorId: must be an id (UUID)`,
  });
  await assert.rejects(fails("Blocked", { userId: U1 }), /: payload\.targetId: /);
  await assert.rejects(fails("UserRegistered", { userId: U1, username: 7 }), /: payload\.username: /);
  await assert.rejects(fails("PostEdited", { postId: P1, text: "t", hashtags: [""] }), /payload\.hashtags must be/);
  // A type search does not show is not read at all.
  await fails("PostLiked", { postId: "not read" });
  assert.equal(written.length, 2);
});
