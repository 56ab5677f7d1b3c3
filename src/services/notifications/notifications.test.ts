/**
 * The notifications service on real PostgreSQL (the shared test database), without booting Nova: events
 * go into the inbox consumer's handler as the event source would deliver them (applyOnce: the effect and
 * processed_events in one transaction), and the RPC handlers are called directly as a user.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import { eventEnvelope, services } from "../../../test/helpers.ts";
import {
  GetNotificationsRequestSchema,
  ListNotificationsRequestSchema,
  MarkReadRequestSchema,
} from "../../gen/nova/notifications/v1/notifications_pb.ts";
import { migrate } from "../../platform/db/migrator.ts";
import { Database } from "../../platform/db/pool.ts";
import { applyOnce } from "../../platform/events/consumer.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { createOutbox } from "../../platform/events/outbox.ts";
import { eventTables } from "../../platform/events/sets.ts";
import { runWithCall } from "../../platform/rpc/context.ts";
import { createInbox } from "./consumers.ts";
import { NOTIFICATION_TOPIC, NotificationCreatedSchema } from "./events.ts";
import { createNotificationService } from "./service.ts";

let db: Database;
let k: Kysely<unknown>;
let rpc: ReturnType<typeof createNotificationService>;
const inbox = createInbox({
  outbox: createOutbox({ service: "notifications", schema: "notifications" }),
  options: { groupWindowMs: 3_600_000 },
});

before(async () => {
  db = new Database({
    writerUrl: (await services()).postgres,
    poolMax: 4,
    applicationName: "notifications-service-test",
  });
  await migrate(db.writerPool, [
    { schema: "notifications", dir: new URL("./migrations/", import.meta.url) },
    eventTables("notifications"),
  ]);
  k = db.kysely<unknown>().writer;
  rpc = createNotificationService({ db: db.kysely<unknown>(), maxDevices: 5 });
});
after(() => db.close());

// ---- Factories.

const userId = () => randomUUID();

const postLiked = (postId: string, authorId: string, liker: string) =>
  eventEnvelope("PostLiked", "post", postId, { postId, userId: liker, authorId });
const followed = (follower: string, target: string) =>
  eventEnvelope("Followed", "relationship", follower, { userId: follower, targetId: target });
const blocked = (blocker: string, target: string) =>
  eventEnvelope("Blocked", "relationship", blocker, { userId: blocker, targetId: target });

const deliver = (...events: Envelope[]) => Promise.all(events.map((e) => applyOnce(k, inbox.handler, e)));

/** Calls an RPC handler as `user` (the handlers read the caller from the call context, not from the request). */
async function as<T>(user: string, fn: () => T | Promise<T>): Promise<T> {
  return runWithCall({ user: { userId: user, sessionId: "s" } }, fn);
}
const ctx = {} as HandlerContext;

async function inboxOf(user: string) {
  return as(user, async () => {
    const list = await rpc.listNotifications(create(ListNotificationsRequestSchema, { limit: 50 }), ctx);
    const got = await rpc.getNotifications(
      create(GetNotificationsRequestSchema, { notificationIds: list.notificationIds }),
      ctx,
    );
    return got.notifications ?? [];
  });
}

/** The NotificationCreated events written for `user`, oldest first. */
async function announced(user: string): Promise<Envelope[]> {
  const r = await db.writerPool.query(
    `SELECT envelope FROM notifications.outbox WHERE key = $1 AND topic = $2 ORDER BY seq`,
    [user, NOTIFICATION_TOPIC],
  );
  return r.rows.map((x) => x.envelope as Envelope);
}

describe("notifications (service level)", () => {
  test("an event in: the recipient's inbox row, and a NotificationCreated of the declared shape", async () => {
    const [alice, bob] = [userId(), userId()];
    await deliver(followed(bob, alice));
    const rows = await inboxOf(alice);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.type, "FOLLOW");
    assert.deepEqual(rows[0]?.actorIds, [bob]);
    assert.equal(rows[0]?.actorCount, 1);
    assert.equal(rows[0]?.read, false);
    assert.equal((await inboxOf(bob)).length, 0, "the follower is not notified");
    const [event, ...more] = await announced(alice);
    assert.equal(more.length, 0);
    assert.equal(event?.type, "NotificationCreated");
    assert.equal(event?.aggregate_type, "notification");
    assert.equal(event?.actor_id, bob);
    // The payload keeps today's keys and value types (what the push consumer and realtime publisher read).
    const payload = NotificationCreatedSchema.parse(event?.payload);
    assert.deepEqual(Object.keys(event?.payload ?? {}).sort(), Object.keys(NotificationCreatedSchema.shape).sort());
    assert.equal(payload.notificationId, rows[0]?.id);
    assert.equal(payload.grouped, false);
    assert.equal(payload.subjectId, "");
    assert.equal(payload.postId, "");
  });

  test("two likes of one post make one notification with both actors, the newest first", async () => {
    const [author, first, second, postId] = [userId(), userId(), userId(), randomUUID()];
    await deliver(postLiked(postId, author, first));
    await deliver(postLiked(postId, author, second));
    const rows = await inboxOf(author);
    assert.equal(rows.length, 1, "one group");
    assert.equal(rows[0]?.type, "LIKE");
    assert.equal(rows[0]?.postId, postId);
    assert.equal(rows[0]?.actorCount, 2);
    assert.deepEqual(rows[0]?.actorIds, [second, first]);
    const events = (await announced(author)).map((e) => NotificationCreatedSchema.parse(e.payload));
    assert.deepEqual(
      events.map((e) => [e.grouped, e.actorCount]),
      [
        [false, 1],
        [true, 2],
      ],
    );
    // The same liker again adds nothing, and its redelivery is a no-op; another post is another group.
    const again = postLiked(postId, author, first);
    assert.equal(await applyOnce(k, inbox.handler, again), "applied");
    assert.equal(await applyOnce(k, inbox.handler, again), "duplicate");
    assert.equal((await inboxOf(author))[0]?.actorCount, 2);
    assert.equal((await announced(author)).length, 2, "no announcement for an actor already in the group");
    await deliver(postLiked(randomUUID(), author, first));
    assert.equal((await inboxOf(author)).length, 2);
  });

  test("a block takes the blocked user's likes back and stops new ones", async () => {
    const [author, liker, friend, postId] = [userId(), userId(), userId(), randomUUID()];
    await deliver(postLiked(postId, author, liker));
    await deliver(postLiked(postId, author, friend));
    await deliver(blocked(author, liker));
    let rows = await inboxOf(author);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0]?.actorIds, [friend], "the blocked liker left the group");
    assert.equal(rows[0]?.actorCount, 1);
    await deliver(blocked(friend, author));
    assert.equal((await inboxOf(author)).length, 0, "a group left without actors is deleted");
    await deliver(postLiked(postId, author, liker));
    rows = await inboxOf(author);
    assert.equal(rows.length, 0, "a blocked user's new like does not notify");
  });

  test("mark read: counts what it marked and the unread left; another user's ids are not touched", async () => {
    const [alice, bob, carol, postId] = [userId(), userId(), userId(), randomUUID()];
    await deliver(followed(bob, alice), postLiked(postId, alice, carol));
    const before = await inboxOf(alice);
    assert.equal(before.length, 2);
    const [one, two] = before.map((n) => n.id as string);
    const mark = (user: string, ids: string[]) =>
      as(user, () => rpc.markRead(create(MarkReadRequestSchema, { notificationIds: ids }), ctx));
    assert.deepEqual(await mark(bob, [one as string]), { marked: 0, unreadCount: 0 }, "not bob's");
    assert.deepEqual(await mark(alice, [one as string]), { marked: 1, unreadCount: 1 });
    assert.deepEqual(await mark(alice, [one as string, two as string]), { marked: 1, unreadCount: 0 });
    assert.ok((await inboxOf(alice)).every((n) => n.read));
    await assert.rejects(mark(alice, []), { name: "NovaError", code: "VALIDATION_FAILED", field: "notificationIds" });
    // A read group does not grow: the next like starts a new one.
    await deliver(postLiked(postId, alice, bob));
    assert.equal((await inboxOf(alice)).filter((n) => n.type === "LIKE").length, 2);
  });
});
