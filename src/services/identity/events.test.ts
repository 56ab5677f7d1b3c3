/** Identity's events as the outbox receives them: the exact payload JSON consumers (search) read. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { identityEvents, profilePayload, USER_TOPIC, userEvent } from "./events.ts";

const row = {
  id: "0190a0b0-0000-7000-8000-000000000001",
  username: "alice",
  display_name: "Alice",
  bio: "",
  avatar_url: "https://example.com/a.png",
  created_at: new Date("2026-01-02T03:04:05.678Z"),
};

test("UserRegistered carries the public profile, keyed by the user, who is its actor", () => {
  const e = userEvent("UserRegistered", profilePayload(row));
  assert.equal(USER_TOPIC, "nova.identity.user");
  assert.deepEqual(
    { type: e.type, aggregateType: e.aggregateType, aggregateId: e.aggregateId, actorId: e.actorId },
    { type: "UserRegistered", aggregateType: "user", aggregateId: row.id, actorId: row.id },
  );
  // The same keys, in the same order, as before events.ts declared them.
  assert.equal(
    JSON.stringify(e.payload),
    '{"userId":"0190a0b0-0000-7000-8000-000000000001","username":"alice","displayName":"Alice","bio":"",' +
      '"avatarUrl":"https://example.com/a.png","createdAt":"2026-01-02T03:04:05.678Z"}',
  );
  assert.ok(identityEvents.ProfileUpdated.safeParse(e.payload).success);
});
