/**
 * Notifications end to end through the gateway in the embedded topology
 * (events travel through the Postgres log, so assertions wait for the inbox
 * consumer to catch up), the inbox handler on real PostgreSQL transactions
 * (grouping, exactness under concurrency, redelivery, MessageSent), and a
 * consumer whose producer is not deployed yet on both transports.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import type { Kysely } from "kysely";
import pg from "pg";
import pino from "pino";
import { migrate } from "../src/platform/db/migrator.ts";
import { Database } from "../src/platform/db/pool.ts";
import { applyOnce, type EventHandler } from "../src/platform/events/consumer.ts";
import type { Envelope } from "../src/platform/events/envelope.ts";
import { createOutbox } from "../src/platform/events/outbox.ts";
import { Relay } from "../src/platform/events/relay.ts";
import { eventTables } from "../src/platform/events/sets.ts";
import { startKafkaSource, startLogSource } from "../src/platform/events/sources.ts";
import { kafkaPublisher, logPublisher } from "../src/platform/events/transports.ts";
import { uuidv7 } from "../src/platform/validate.ts";
import type { Nova } from "../src/runtime/app.ts";
import { createInbox } from "../src/services/notifications/consumers.ts";
import { LoggingPushSender, pushAttempts } from "../src/services/notifications/push.ts";
import { eventEnvelope, gql, register, services, startInProcess } from "./helpers.ts";

type U = Awaited<ReturnType<typeof register>>;
const quiet = pino({ level: "silent" });

async function eventually(what: string, cond: () => Promise<boolean>, ms = 120_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out: ${what}`);
}

function errorOf(r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) {
  const e = r.body.errors?.[0]?.extensions;
  return { code: e?.code, field: e?.field };
}

let nova: Nova;
let url: string;
let pool: pg.Pool;
let kdb: Database;
let k: Kysely<unknown>;

before(async () => {
  const s = await services();
  ({ nova, url } = await startInProcess());
  pool = new pg.Pool({ connectionString: s.postgres, max: 4 });
  kdb = new Database({ writerUrl: s.postgres, poolMax: 30, applicationName: "notifications-test" });
  k = kdb.kysely<unknown>().writer;
});
after(async () => {
  await kdb.close();
  await pool.end();
  await nova.stop();
});

interface Node {
  id: string;
  type: string;
  actorCount: number;
  read: boolean;
  actors: { id: string; username: string }[];
  post: { id: string } | null;
  conversationId: string | null;
}

describe("notifications through the gateway (embedded)", () => {
  const LIST = `query($f: Int, $a: String) { notifications(first: $f, after: $a) {
      edges { cursor node { id type actorCount read conversationId createdAt updatedAt actors { id username } post { id } } }
      pageInfo { hasNextPage endCursor } } unreadNotificationCount }`;
  const list = async (u: U, first = 50, afterCursor?: string) => {
    const r = await gql(url, LIST, { token: u.accessToken, variables: { f: first, a: afterCursor } });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    return r.body.data as {
      notifications: { edges: { cursor: string; node: Node }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
      unreadNotificationCount: number;
    };
  };
  const nodes = async (u: U) => (await list(u)).notifications.edges.map((e) => e.node);
  const ok = async (u: U, query: string, variables: Record<string, unknown> = {}) => {
    const r = await gql(url, query, { token: u.accessToken, variables });
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
    return r.body.data;
  };
  const follow = (u: U, target: U, how = "follow") =>
    ok(u, `mutation($id: ID!) { ${how}(userId: $id) { id } }`, { id: target.user.id });
  const post = async (u: U, text: string): Promise<string> =>
    (await ok(u, "mutation($t: String!) { createPost(input: { text: $t }) { id } }", { t: text })).createPost.id;
  const like = (u: U, postId: string) => ok(u, "mutation($id: ID!) { likePost(postId: $id) { id } }", { id: postId });
  const comment = (u: U, postId: string, text: string) =>
    ok(u, "mutation($p: ID!, $t: String!) { createComment(input: { postId: $p, text: $t }) { id } }", {
      p: postId,
      t: text,
    });
  const byType = (ns: Node[], type: string) => ns.filter((n) => n.type === type);
  /** A marker event after the ones under test: once its notification shows, the earlier events were handled. */
  const settle = async (recipient: U) => {
    const marker = await register(url);
    await follow(marker, recipient);
    await eventually("marker follow notified", async () =>
      (await nodes(recipient)).some((n) => n.type === "FOLLOW" && n.actors.some((a) => a.id === marker.user.id)),
    );
    await ok(recipient, "mutation { markNotificationsRead(all: true) }");
  };

  test("follows, likes, comments and mentions are grouped; no self-notifications; unread count and mark read", async () => {
    const [a, b, c, d] = [await register(url), await register(url), await register(url), await register(url)];
    for (const x of [b, c, d]) await follow(x, a);
    const p = await post(a, "hello");
    await like(a, p); // self: nothing
    await like(b, p);
    await like(c, p);
    await comment(b, p, "first");
    await comment(b, p, "second");
    await comment(c, p, "third");
    await post(b, `hey @${a.user.username}`);
    await eventually("four groups", async () => {
      const ns = await nodes(a);
      return (
        byType(ns, "FOLLOW")[0]?.actorCount === 3 &&
        byType(ns, "LIKE")[0]?.actorCount === 2 &&
        byType(ns, "COMMENT")[0]?.actorCount === 2 &&
        byType(ns, "MENTION").length === 1
      );
    });
    const page = await list(a);
    const ns = page.notifications.edges.map((e) => e.node);
    assert.equal(ns.length, 4, JSON.stringify(ns));
    assert.deepEqual(
      ns.map((n) => n.type),
      ["MENTION", "COMMENT", "LIKE", "FOLLOW"],
      "most recently active first",
    );
    const [mention, comments, likes, follows] = ns as [Node, Node, Node, Node];
    assert.deepEqual(
      follows.actors.map((x) => x.id),
      [d.user.id, c.user.id, b.user.id],
      "most recent actor first",
    );
    assert.deepEqual(likes.actors.map((x) => x.id).sort(), [b.user.id, c.user.id].sort());
    assert.equal(likes.post?.id, p);
    assert.equal(comments.post?.id, p);
    assert.equal(mention.actors[0]?.id, b.user.id);
    assert.equal(page.unreadNotificationCount, 4);
    assert.ok(ns.every((n) => !n.read));

    // Mark one read: the count drops; a new like then opens a NEW group (a read group is closed).
    const left = await ok(a, "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }", { ids: [likes.id] });
    assert.equal(left.markNotificationsRead, 3);
    assert.equal((await ok(a, "{ unreadNotificationCount }")).unreadNotificationCount, 3);
    await like(d, p);
    await eventually("a new like group", async () => byType(await nodes(a), "LIKE").length === 2);
    const likeGroups = byType(await nodes(a), "LIKE");
    assert.equal(likeGroups[0]?.read, false);
    assert.equal(likeGroups[0]?.actorCount, 1);
    assert.equal(likeGroups[1]?.id, likes.id);
    assert.equal(likeGroups[1]?.read, true);
    assert.equal((await ok(a, "{ unreadNotificationCount }")).unreadNotificationCount, 4);
    // Marking again is idempotent; all: true clears the rest.
    assert.equal(
      (await ok(a, "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }", { ids: [likes.id] }))
        .markNotificationsRead,
      4,
    );
    assert.equal((await ok(a, "mutation { markNotificationsRead(all: true) }")).markNotificationsRead, 0);
    assert.ok((await nodes(a)).every((n) => n.read));
    // Another user's id changes nothing for them.
    const other = await ok(b, "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }", { ids: [mention.id] });
    assert.equal(typeof other.markNotificationsRead, "number");
  });

  test("the list pages with a stable cursor, newest first", async () => {
    const [a, b] = [await register(url), await register(url)];
    const posts: string[] = [];
    for (let i = 0; i < 5; i++) posts.push(await post(a, `post ${i}`));
    for (const p of posts) await like(b, p);
    await eventually("five likes", async () => byType(await nodes(a), "LIKE").length === 5);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = (await list(a, 2, cursor)).notifications;
      seen.push(...page.edges.map((e) => e.node.post?.id as string));
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor;
      // Activity while paging moves a group to the top; the pages after the cursor never repeat it.
      if (seen.length === 2) await like(a, posts[0] as string);
    }
    assert.deepEqual(seen, [...posts].reverse());
  });

  test("the list sorts by position as a number, not as text: 10^17 - 1 comes after 10^17", async () => {
    const [a, b] = [await register(url), await register(url)];
    // Two notifications at positions far above the sequence (it never gets there), straddling a power of ten.
    const r = BigInt(Math.floor(Math.random() * 1_000_000));
    const rows = [
      { id: randomUUID(), seq: 10n ** 17n - 1n - r },
      { id: randomUUID(), seq: 10n ** 17n + r },
    ];
    for (const [i, n] of rows.entries()) {
      await pool.query(
        `INSERT INTO notifications.notifications (id, user_id, type, group_key, actor_ids, actor_count, seq)
          VALUES ($1, $2, 'FOLLOW', $3, ARRAY[$4::uuid], 1, $5)`,
        [n.id, a.user.id, `FOLLOW:order-${i}`, b.user.id, String(n.seq)],
      );
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 5; pages++) {
      const page = (await list(a, 1, cursor)).notifications;
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      cursor = page.pageInfo.endCursor;
    }
    assert.deepEqual(seen, [rows[1]?.id, rows[0]?.id], "newest first, both listed");
  });

  test("bad input names the field", async () => {
    const a = await register(url);
    const cases: [string, Record<string, unknown>, string][] = [
      ["mutation { markNotificationsRead }", {}, "ids"],
      ["mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }", { ids: ["nope"] }, "notificationIds[0]"],
      ["mutation($ids: [ID!]) { markNotificationsRead(ids: $ids, all: true) }", { ids: [randomUUID()] }, "ids"],
      ["query { notifications(first: 0) { edges { cursor } } }", {}, "first"],
      ['query { notifications(after: "zzz") { edges { cursor } } }', {}, "after"],
    ];
    for (const [q, variables, field] of cases) {
      assert.deepEqual(
        errorOf(await gql(url, q, { token: a.accessToken, variables })),
        { code: "BAD_USER_INPUT", field },
        q,
      );
    }
    const anon = await gql(url, "{ unreadNotificationCount }");
    assert.equal(errorOf(anon).code, "UNAUTHENTICATED");
  });

  test("a block stops notifications both ways and takes back earlier ones; a mute stops new ones", async () => {
    const [a, b, c, m] = [await register(url), await register(url), await register(url), await register(url)];
    await follow(b, a);
    await follow(c, a);
    await eventually("two follows", async () => byType(await nodes(a), "FOLLOW")[0]?.actorCount === 2);
    await follow(a, b, "block");
    await eventually("b's follow taken back", async () => {
      const f = byType(await nodes(a), "FOLLOW")[0];
      return f?.actorCount === 1 && f.actors[0]?.id === c.user.id;
    });
    // A mention across the block is refused at once, either way (a block stops every write that reaches
    // the other), so neither is notified.
    for (const [from, to] of [
      [b, a],
      [a, b],
    ] as const) {
      const r = await gql(url, "mutation($t: String!) { createPost(input: { text: $t }) { id } }", {
        token: from.accessToken,
        variables: { t: `psst @${to.user.username}` },
      });
      assert.equal(r.body.errors?.[0]?.extensions?.code, "FORBIDDEN", JSON.stringify(r.body));
      assert.equal(r.body.errors?.[0]?.extensions?.field, "text");
    }
    // Mute: m's follow and like reach a's inbox no more.
    await follow(a, m, "mute");
    const p = await post(a, "liked by the muted");
    await follow(m, a);
    await like(m, p);
    await settle(a);
    await settle(b);
    const ns = await nodes(a);
    assert.equal(byType(ns, "MENTION").length, 0, "no mention across the block");
    assert.equal(byType(ns, "LIKE").length, 0, "no like from a muted user");
    assert.ok(!ns.some((n) => n.actors.some((x) => x.id === m.user.id || x.id === b.user.id)));
    assert.equal(byType(await nodes(b), "MENTION").length, 0, "the blocked user is not notified either");
  });

  test("preferences turn a type off at creation time and back on", async () => {
    const [a, b, c] = [await register(url), await register(url), await register(url)];
    const defaults = await ok(a, "{ notificationPreferences { follow like comment mention message } }");
    assert.deepEqual(defaults.notificationPreferences, {
      follow: true,
      like: true,
      comment: true,
      mention: true,
      message: true,
    });
    const upd = await ok(
      a,
      "mutation($i: NotificationPreferencesInput!) { updateNotificationPreferences(input: $i) { follow like comment mention message } }",
      { i: { like: false, mention: false } },
    );
    assert.deepEqual(upd.updateNotificationPreferences, {
      follow: true,
      like: false,
      comment: true,
      mention: false,
      message: true,
    });
    const p = await post(a, "no like notifications");
    await like(b, p);
    await post(b, `@${a.user.username} hi`);
    await comment(b, p, "comments still notify");
    await eventually("the comment", async () => byType(await nodes(a), "COMMENT").length === 1);
    await settle(a);
    let ns = await nodes(a);
    assert.equal(byType(ns, "LIKE").length, 0);
    assert.equal(byType(ns, "MENTION").length, 0);
    // Only the given fields change; turning like back on affects later likes only.
    const back = await ok(
      a,
      "mutation($i: NotificationPreferencesInput!) { updateNotificationPreferences(input: $i) { like mention } }",
      { i: { like: true } },
    );
    assert.deepEqual(back.updateNotificationPreferences, { like: true, mention: false });
    await like(c, p);
    await eventually("the like after re-enabling", async () => byType(await nodes(a), "LIKE").length === 1);
    ns = await nodes(a);
    assert.deepEqual(
      byType(ns, "LIKE")[0]?.actors.map((x) => x.id),
      [c.user.id],
      "b's like while off is not added later",
    );
  });

  test("push tokens: validated, idempotent, one per device, moved between users, unregistered; a push per notification", async () => {
    const [a, b, z] = [await register(url), await register(url), await register(url)];
    const REG = `mutation($i: RegisterPushTokenInput!) { registerPushToken(input: $i) { deviceId platform createdAt updatedAt } }`;
    const apns = "ab".repeat(32);
    const fcm = `fcm:${randomBytes(60).toString("base64url")}`;
    const d1 = await ok(a, REG, { i: { platform: "APNS", token: apns, deviceId: "iphone-1" } });
    assert.equal(d1.registerPushToken.platform, "APNS");
    const again = await ok(a, REG, { i: { platform: "APNS", token: apns, deviceId: "iphone-1" } });
    assert.equal(again.registerPushToken.createdAt, d1.registerPushToken.createdAt, "idempotent");
    await ok(a, REG, { i: { platform: "FCM", token: fcm, deviceId: "pixel-1" } });
    const rows = async (user: U) =>
      (
        await pool.query(
          "SELECT device_id, token FROM notifications.push_tokens WHERE user_id = $1 ORDER BY device_id",
          [user.user.id],
        )
      ).rows;
    assert.deepEqual(
      (await rows(a)).map((r) => r.device_id),
      ["iphone-1", "pixel-1"],
    );
    // A new token for a device replaces the old one.
    const apns2 = "cd".repeat(32);
    await ok(a, REG, { i: { platform: "APNS", token: apns2, deviceId: "iphone-1" } });
    assert.deepEqual(
      (await rows(a)).map((r) => r.token),
      [apns2, fcm],
    );
    // The phone is signed in as b now: the token leaves a's registration.
    await ok(b, REG, { i: { platform: "APNS", token: apns2, deviceId: "iphone-1" } });
    assert.deepEqual(
      (await rows(a)).map((r) => r.device_id),
      ["pixel-1"],
    );
    for (const [i, field] of [
      [{ platform: "APNS", token: "not-hex", deviceId: "x" }, "token"],
      [{ platform: "FCM", token: "short", deviceId: "x" }, "token"],
      [{ platform: "FCM", token: fcm, deviceId: "bad id with spaces" }, "deviceId"],
      [{ platform: "FCM", token: fcm, deviceId: "" }, "deviceId"],
    ] as const) {
      const r = await gql(url, REG, { token: a.accessToken, variables: { i } });
      assert.deepEqual(errorOf(r), { code: "BAD_USER_INPUT", field }, JSON.stringify(i));
    }
    const bad = await gql(url, REG, {
      token: a.accessToken,
      variables: { i: { platform: "WNS", token: fcm, deviceId: "x" } },
    });
    assert.ok(bad.body.errors, "an unknown platform is refused by the schema");

    // Each notification is pushed (after its commit) to every device of the recipient.
    const attempts = async () =>
      (await pushAttempts.get()).values.find((v) => v.labels.platform === "FCM" && v.labels.result === "sent")?.value ??
      0;
    const before = await attempts();
    await follow(z, a);
    await eventually("a push attempt", async () => (await attempts()) >= before + 1);

    const UNREG = "mutation($d: String!) { unregisterPushToken(deviceId: $d) }";
    assert.equal((await ok(a, UNREG, { d: "pixel-1" })).unregisterPushToken, true);
    assert.equal((await ok(a, UNREG, { d: "pixel-1" })).unregisterPushToken, false);
    assert.deepEqual(await rows(a), []);
  });
});

describe("the logging push sender", () => {
  test("writes one line per push without the token", async () => {
    const lines: string[] = [];
    const dest = new Writable({
      write(chunk, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const token = "ef".repeat(32);
    const sender = new LoggingPushSender(pino({ level: "info" }, dest));
    const result = await sender.send({
      platform: "APNS",
      token,
      deviceId: "d",
      userId: randomUUID(),
      notificationId: randomUUID(),
      type: "LIKE",
      actorCount: 2,
      collapseKey: "k",
      badge: 3,
    });
    assert.equal(result, "sent");
    assert.equal(lines.length, 1);
    assert.ok(!(lines[0] as string).includes(token), "the token is not logged in full");
    assert.match(lines[0] as string, /"collapseKey":"k"/);
  });
});

describe("the inbox handler on real transactions", () => {
  const outbox = createOutbox({ service: "notifications", schema: "notifications" });
  const inbox = createInbox({ outbox, options: { groupWindowMs: 24 * 3_600_000 } });
  const h = inbox.handler;

  const liked = (postId: string, author: string, liker: string) =>
    eventEnvelope("PostLiked", "post", postId, { postId, userId: liker, authorId: author });
  const message = (conversationId: string, sender: string, recipients: string[]) =>
    eventEnvelope("MessageSent", "conversation", conversationId, {
      conversationId,
      messageId: uuidv7(),
      senderId: sender,
      recipientIds: recipients,
      text: "hi",
      encrypted: false,
      clientMessageId: randomUUID(),
      createdAt: new Date().toISOString(),
    });
  const rowsOf = async (user: string) =>
    (
      await pool.query(
        `SELECT id, type, subject_id, actor_count, activity_count, actor_ids::text[] AS actor_ids, read_at
           FROM notifications.notifications WHERE user_id = $1 ORDER BY seq DESC`,
        [user],
      )
    ).rows;
  const events = async (user: string) =>
    (
      await pool.query(
        `SELECT envelope FROM notifications.outbox WHERE key = $1 AND topic = 'nova.notifications.notification' ORDER BY seq`,
        [user],
      )
    ).rows.map((r) => r.envelope as Envelope);

  test("concurrent likes of one post make one group with every actor, exactly; redelivery changes nothing", async () => {
    const [author, postId] = [randomUUID(), randomUUID()];
    const likers = Array.from({ length: 25 }, () => randomUUID());
    const evs = likers.map((l) => liked(postId, author, l));
    const outcomes = await Promise.all(evs.map((e) => applyOnce(k, h, e)));
    assert.ok(outcomes.every((o) => o === "applied"));
    let rows = await rowsOf(author);
    assert.equal(rows.length, 1, "one group");
    assert.equal(rows[0].actor_count, 25);
    assert.equal(rows[0].actor_ids.length, 3);
    const emitted = await events(author);
    assert.equal(emitted.length, 25, "one NotificationCreated per actor gained");
    assert.equal(emitted.filter((e) => e.payload.grouped === false).length, 1);
    assert.deepEqual(
      [...emitted.map((e) => e.payload.actorCount as number)].sort((x, y) => x - y),
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
    const last = emitted[emitted.length - 1] as Envelope;
    assert.equal(last.aggregate_type, "notification");
    assert.equal(last.aggregate_id, author);
    for (const f of [
      "userId",
      "notificationId",
      "type",
      "actorIds",
      "actorCount",
      "subjectId",
      "grouped",
      "createdAt",
    ]) {
      assert.ok(f in last.payload, f);
    }
    assert.equal(last.payload.type, "LIKE");
    assert.equal(last.payload.subjectId, postId);
    // Redelivery of every event: processed_events makes each a no-op.
    const again = await Promise.all(evs.map((e) => applyOnce(k, h, e)));
    assert.ok(again.every((o) => o === "duplicate"));
    rows = await rowsOf(author);
    assert.equal(rows[0].actor_count, 25);
    assert.equal((await events(author)).length, 25);
    // The same liker again (unlike + like): no second actor, no event.
    await applyOnce(k, h, liked(postId, author, likers[0] as string));
    assert.equal((await rowsOf(author))[0].actor_count, 25);
    assert.equal((await events(author)).length, 25);
  });

  test("MessageSent: one group per conversation per recipient, none for the sender, repeated messages count", async () => {
    const [alice, bob, carol, conv] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await applyOnce(k, h, message(conv, alice, [alice, bob, carol]));
    await applyOnce(k, h, message(conv, alice, [alice, bob, carol]));
    await applyOnce(k, h, message(conv, carol, [alice, bob, carol]));
    assert.equal((await rowsOf(alice)).length, 1, "alice: carol's message only");
    const bobs = await rowsOf(bob);
    assert.equal(bobs.length, 1);
    assert.equal(bobs[0].type, "MESSAGE");
    assert.equal(bobs[0].subject_id, conv);
    assert.equal(bobs[0].actor_count, 2);
    assert.equal(bobs[0].activity_count, 3);
    assert.deepEqual(bobs[0].actor_ids, [carol, alice]);
    assert.equal((await events(bob)).length, 3, "each message is announced (and pushed)");
    // Another conversation is another group.
    await applyOnce(k, h, message(randomUUID(), alice, [bob]));
    assert.equal((await rowsOf(bob)).length, 2);
    // A bad payload fails loudly (to the DLQ after its attempts), never half-applies.
    await assert.rejects(
      applyOnce(
        k,
        h,
        eventEnvelope("MessageSent", "conversation", conv, {
          conversationId: conv,
          senderId: alice,
          recipientIds: ["x"],
        }),
      ),
      /^PayloadError: MessageSent \S+: payload\.recipientIds\[0\]: must be an id \(UUID\)$/,
    );
  });

  test("blocks, mutes, self and preferences at creation time; the window and reading close a group", async () => {
    const [me, blocked, muted, friend, postId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const rel = (type: string, user: string, target: string) =>
      eventEnvelope(type, "relationship", user, { userId: user, targetId: target });
    await applyOnce(k, h, liked(postId, me, blocked));
    assert.equal((await rowsOf(me))[0].actor_count, 1);
    // The block (by either side) takes the contribution back and stops new ones.
    await applyOnce(k, h, rel("Blocked", blocked, me));
    assert.equal((await rowsOf(me)).length, 0, "a group left without actors is deleted");
    await applyOnce(k, h, liked(postId, me, blocked));
    await applyOnce(k, h, rel("Followed", blocked, me));
    await applyOnce(k, h, rel("Muted", me, muted));
    await applyOnce(k, h, liked(postId, me, muted));
    await applyOnce(k, h, liked(postId, me, me));
    assert.equal((await rowsOf(me)).length, 0);
    // Unblock / unmute: later activity notifies again.
    await applyOnce(k, h, rel("Unblocked", blocked, me));
    await applyOnce(k, h, rel("Unmuted", me, muted));
    await applyOnce(k, h, liked(postId, me, muted));
    assert.equal((await rowsOf(me))[0].actor_count, 1);
    // Preferences: follow off -> no row, no event.
    await pool.query(`INSERT INTO notifications.preferences (user_id, follow) VALUES ($1, false)`, [me]);
    const before = (await events(me)).length;
    await applyOnce(k, h, rel("Followed", friend, me));
    assert.equal((await rowsOf(me)).filter((r) => r.type === "FOLLOW").length, 0);
    assert.equal((await events(me)).length, before);
    // A group older than the window does not grow: a new one starts.
    await pool.query(
      `UPDATE notifications.notifications SET created_at = now() - interval '25 hours' WHERE user_id = $1`,
      [me],
    );
    await applyOnce(k, h, liked(postId, me, friend));
    assert.equal((await rowsOf(me)).filter((r) => r.type === "LIKE").length, 2);
    // A read group does not grow either.
    await pool.query(`UPDATE notifications.notifications SET read_at = now() WHERE user_id = $1`, [me]);
    await applyOnce(k, h, liked(postId, me, randomUUID()));
    assert.equal((await rowsOf(me)).filter((r) => r.type === "LIKE").length, 3);
    // A deleted post takes its notifications along.
    await applyOnce(k, h, eventEnvelope("PostDeleted", "post", postId, { postId, authorId: me, deletedBy: me }));
    assert.equal((await rowsOf(me)).length, 0);
  });
});

describe("a consumer of a topic whose producer is not deployed yet", () => {
  async function newSchema(): Promise<string> {
    const schema = `evt_${randomBytes(4).toString("hex")}`;
    await migrate(kdb.writerPool, [eventTables(schema)]);
    return schema;
  }
  const send = async (schema: string, conv: string, sender: string, recipient: string) => {
    const out = createOutbox({ service: schema, schema });
    await k.transaction().execute((trx) =>
      out.emit(trx, {
        type: "MessageSent",
        aggregateType: "conversation",
        aggregateId: conv,
        payload: {
          conversationId: conv,
          messageId: uuidv7(),
          senderId: sender,
          recipientIds: [recipient],
          text: "",
          encrypted: true,
          clientMessageId: "c",
          createdAt: new Date().toISOString(),
        },
      }),
    );
  };
  const count = async (user: string) =>
    (await pool.query("SELECT count(*)::int AS n FROM notifications.notifications WHERE user_id = $1", [user])).rows[0]
      .n as number;
  const inboxFor = (name: string, topics: string[]): EventHandler => {
    const inbox = createInbox({
      outbox: createOutbox({ service: "notifications", schema: "notifications" }),
      options: { groupWindowMs: 3_600_000 },
    });
    return { ...inbox.handler, name, topics };
  };

  test("embedded log: it reads what exists, then the new producer's events from the first one", async () => {
    const present = await newSchema();
    const missing = `evt_${randomBytes(4).toString("hex")}`;
    const handler = inboxFor(`notifications.test-${missing}`, [
      `nova.${present}.conversation`,
      `nova.${missing}.conversation`,
    ]);
    const [bob, conv] = [randomUUID(), randomUUID()];
    const source = await startLogSource({ pool: kdb.writerPool, db: k, handler, deliver: { log: quiet }, pollMs: 100 });
    const relay1 = new Relay({ pool: kdb.writerPool, schemas: [present], publisher: logPublisher(), log: quiet });
    relay1.start();
    try {
      await send(present, conv, randomUUID(), bob);
      await eventually("the existing producer's event", async () => (await count(bob)) === 1);
      // The producer is deployed: its outbox appears and its events arrive.
      await migrate(kdb.writerPool, [eventTables(missing)]);
      const relay2 = new Relay({ pool: kdb.writerPool, schemas: [missing], publisher: logPublisher(), log: quiet });
      relay2.start();
      await send(missing, randomUUID(), randomUUID(), bob);
      await send(present, randomUUID(), randomUUID(), bob);
      await eventually("both producers' events", async () => (await count(bob)) === 3);
      await relay2.stop();
    } finally {
      await relay1.stop();
      await source.stop();
    }
  });

  test("Kafka: the consumer group joins before the topic exists and reads its first events", async () => {
    const s = await services();
    const brokers = s.kafka.split(",");
    const schema = await newSchema();
    const topic = `nova.${schema}.conversation`;
    const handler = inboxFor(`notifications.test-${schema}`, [topic]);
    const source = await startKafkaSource({ brokers, clientId: "notif-test", db: k, handler, deliver: { log: quiet } });
    const relay = new Relay({
      pool: kdb.writerPool,
      schemas: [schema],
      publisher: kafkaPublisher({ brokers, clientId: "notif-test-relay" }),
      log: quiet,
    });
    const bob = randomUUID();
    try {
      await send(schema, randomUUID(), randomUUID(), bob);
      relay.start();
      await eventually("the first event on a new topic", async () => (await count(bob)) === 1, 90_000);
    } finally {
      await relay.stop();
      await source.stop();
    }
  });
});
