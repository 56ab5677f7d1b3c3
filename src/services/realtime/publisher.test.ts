import assert from "node:assert/strict";
import { test } from "node:test";
import type { Envelope } from "../../platform/events/envelope.ts";
import type { Bus } from "../../platform/pubsub/bus.ts";
import { authorChannel, userChannel } from "./channels.ts";
import { pushesOf, pushPublisher } from "./publisher.ts";

const env = (type: string, payload: Record<string, unknown>, actor: string | null = null): Envelope => ({
  id: "0190a0b0-0000-7000-8000-000000000001",
  type,
  aggregate_type: "x",
  aggregate_id: "a",
  occurred_at: "2026-11-27T00:00:00.000Z",
  actor_id: actor,
  schema_version: 1,
  traceparent: null,
  payload,
});

test("each event becomes pushes on the channels of who should hear of it", () => {
  const sent = pushesOf(
    env("MessageSent", {
      conversationId: "c",
      messageId: "m",
      senderId: "s",
      recipientIds: ["r1", "r2"],
      text: "hi",
      encrypted: false,
      clientMessageId: "k",
      createdAt: "2026-11-27T00:00:01.000Z",
    }),
  );
  assert.deepEqual(
    sent.map(([c]) => c),
    [userChannel("r1"), userChannel("r2"), userChannel("s")],
    "every member, the sender's other sessions too",
  );
  assert.deepEqual(sent[0]?.[1], {
    kind: "message",
    messageId: "m",
    conversationId: "c",
    senderId: "s",
    text: "hi",
    encrypted: false,
    ciphertext: "",
    keyId: "",
    clientMessageId: "k",
    createdAt: "2026-11-27T00:00:01.000Z",
  });
  assert.deepEqual(pushesOf(env("PostCreated", { postId: "p" }, "au")), [
    [authorChannel("au"), { kind: "post", postId: "p", authorId: "au" }],
  ]);
  assert.deepEqual(pushesOf(env("Unfollowed", { userId: "u", targetId: "t" })), [
    [userChannel("u"), { kind: "follow", targetId: "t", following: false }],
  ]);
  assert.deepEqual(pushesOf(env("NotificationCreated", { userId: "u", notificationId: "n" })), [
    [userChannel("u"), { kind: "notification", notificationId: "n" }],
  ]);
  assert.deepEqual(pushesOf(env("PostLiked", { postId: "p" })), [], "events nobody subscribes to push nothing");
});

test("a bus that refuses a push drops it: the event is not retried into the DLQ", async () => {
  const bus: Bus = {
    shared: true,
    publish: async () => {
      throw new Error("redis down");
    },
    subscribe: async () => () => undefined,
    close: async () => undefined,
  };
  const h = pushPublisher(bus);
  await h.handle(env("PostCreated", { postId: "p", authorId: "a" }), undefined as never);
});
