/** identity.follow-counts reads the graph's events with the graph's declaration (no database needed for what it refuses). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { eventEnvelope } from "../../../test/helpers.ts";
import { followCounts } from "./consumers.ts";

test("a Followed off the graph's schema fails naming the field; other graph events are not read", async () => {
  const h = followCounts();
  const trx = undefined as never; // nothing here reaches the database
  const a = "0190a0b0-0000-7000-8000-000000000001";
  await assert.rejects(
    h.handle(eventEnvelope("Followed", "relationship", a, { userId: a, targetId: "x" }), trx),
    /^PayloadError: Followed \S+: payload\.targetId: must be a user id \(UUID\)$/,
  );
  await assert.rejects(
    h.handle(eventEnvelope("Unfollowed", "relationship", a, { userId: a, targetId: a, reason: "bored" }), trx),
    /: payload\.reason: /,
  );
  await h.handle(eventEnvelope("Blocked", "relationship", a, { userId: "not read" }), trx);
});
