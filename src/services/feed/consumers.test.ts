/** The feed's consumer reads graph and content events with their writers' declarations. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { eventEnvelope } from "../../../test/helpers.ts";
import { timelineConsumer } from "./consumers.ts";
import type { FeedContext } from "./context.ts";

test("a payload off its writer's schema fails naming the field, before any effect; unread types do nothing", async () => {
  // A context that fails any use: what is refused or not read must not reach it.
  const ctx = new Proxy({} as FeedContext, {
    get: (_, name) => {
      throw new Error(`ctx.${String(name)} used`);
    },
  });
  const h = timelineConsumer(ctx);
  const trx = undefined as never;
  const a = "0190a0b0-0000-7000-8000-000000000001";
  await assert.rejects(
    h.handle(eventEnvelope("PostCreated", "post", a, { postId: a, authorId: 1 }), trx),
    /^PayloadError: PostCreated \S+: payload\.authorId: /,
  );
  await assert.rejects(
    h.handle(eventEnvelope("Muted", "relationship", a, { userId: a, targetId: "x" }), trx),
    /^PayloadError: Muted \S+: payload\.targetId: must be a user id \(UUID\)$/,
  );
  await h.handle(eventEnvelope("Mentioned", "post", a, { postId: "not read" }), trx);
  await h.handle(eventEnvelope("Befriended", "relationship", a, {}), trx);
});
