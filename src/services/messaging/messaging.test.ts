/**
 * The messaging service on real PostgreSQL (the harness's shared database, migrated here), its
 * handlers called directly as a signed-in user: no gateway, no RPC server, no other module. The
 * peers (who exists, who blocks whom) are small in-memory fakes. Every test makes its own users
 * (random ids), so tests and other suites on the same database never see each other's rows.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { create, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { services } from "../../../test/helpers.ts";
import { type Conversation, ConversationKind, MessagingService } from "../../gen/nova/messaging/v1/messaging_pb.ts";
import { migrate } from "../../platform/db/migrator.ts";
import { NovaError } from "../../platform/errors.ts";
import type { Envelope } from "../../platform/events/envelope.ts";
import { createOutbox } from "../../platform/events/outbox.ts";
import { eventTables } from "../../platform/events/sets.ts";
import { runWithCall } from "../../platform/rpc/context.ts";
import { CONVERSATION_TOPIC, MESSAGING_EVENTS, type MessagingEventType, parseMessagingPayload } from "./events.ts";
import type { MessagingTables } from "./queries.ts";
import { createMessagingService } from "./service.ts";

const pool = new pg.Pool({ connectionString: (await services()).postgres, max: 4 });
const db = new Kysely<MessagingTables>({ dialect: new PostgresDialect({ pool }) });

// The peers: users that exist, and blocks as "blocker>blocked" pairs; the acting user is the caller.
const users = new Set<string>();
const blocks = new Set<string>();
let acting = "";
const svc = createMessagingService({
  db: { writer: db, reader: db },
  outbox: createOutbox({ service: "messaging", schema: "messaging" }),
  peers: {
    async blockedWith(ids) {
      return new Set(ids.filter((id) => blocks.has(`${acting}>${id}`) || blocks.has(`${id}>${acting}`)));
    },
    async existing(ids) {
      return new Set(ids.filter((id) => users.has(id)));
    },
    async attachMedia(ids, conversationId) {
      attached.push(...ids.map((id) => `${conversationId}:${id}`));
    },
  },
});
/** What messaging asked the media service to attach, as "conversation:media". */
const attached: string[] = [];

before(async () => {
  await migrate(pool, [
    { schema: "messaging", dir: new URL("./migrations/", import.meta.url) },
    eventTables("messaging"),
  ]);
});
after(() => db.destroy());

// Factories

function user(): string {
  const id = randomUUID();
  users.add(id);
  return id;
}

type Methods = (typeof MessagingService)["method"];
/** The service as one user calls it: each RPC takes its request's fields and answers its response. */
type As = {
  [M in keyof Methods]: (init: MessageInitShape<Methods[M]["input"]>) => Promise<MessageShape<Methods[M]["output"]>>;
};

/** The handlers, called as `userId` signed in (as the RPC server's interceptor would set it). */
function as(userId: string): As {
  const ctx = {} as HandlerContext;
  const call = (name: keyof Methods) => (init: never) => {
    acting = userId;
    const method = MessagingService.method[name];
    const handler = svc[name] as (req: unknown, ctx: HandlerContext) => unknown;
    return runWithCall({ user: { userId, sessionId: randomUUID() } }, async () =>
      handler(create(method.input, init), ctx),
    );
  };
  return Object.fromEntries(Object.keys(MessagingService.method).map((m) => [m, call(m as keyof Methods)])) as As;
}

async function conversation(creator: string, others: string[], group = false): Promise<Conversation> {
  const r = await as(creator).createConversation({ memberIds: others, group });
  assert.ok(r.conversation);
  return r.conversation;
}

function send(sender: string, conversationId: string, text: string, clientMessageId: string = randomUUID()) {
  return as(sender).sendMessage({ conversationId, clientMessageId, text });
}

/** The conversation's events in the outbox, in the order written. */
async function eventsOf(conversationId: string): Promise<{ topic: string; envelope: Envelope }[]> {
  const r = await sql<{ topic: string; envelope: Envelope }>`SELECT topic, envelope FROM messaging.outbox
    WHERE key = ${conversationId} ORDER BY seq`.execute(db);
  return r.rows;
}

async function lastEvent<T extends MessagingEventType>(conversationId: string, type: T) {
  const all = await eventsOf(conversationId);
  const e = all.at(-1);
  assert.ok(e, "an event was written");
  assert.equal(e.topic, CONVERSATION_TOPIC);
  assert.equal(e.envelope.type, type);
  assert.equal(e.envelope.aggregate_type, "conversation");
  assert.equal(e.envelope.aggregate_id, conversationId);
  return { envelope: e.envelope, payload: parseMessagingPayload(type, e.envelope) };
}

/** Asserts `p` rejects with a NovaError of `code` naming `field`. */
async function refused(p: Promise<unknown>, code: string, field: string, message?: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof NovaError, `a NovaError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.field, field);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe("direct conversations", () => {
  test("created once per pair, with both members and a ConversationCreated event", async () => {
    const [a, b] = [user(), user()];
    const c = await conversation(a, [b]);
    assert.equal(c.kind, ConversationKind.DIRECT);
    assert.deepEqual(c.memberIds, [a, b]);
    assert.equal(c.creatorId, a);
    const { envelope, payload } = await lastEvent(c.id, "ConversationCreated");
    assert.equal(envelope.actor_id, a);
    assert.deepEqual(envelope.payload, { conversationId: c.id, creatorId: a, memberIds: [a, b], kind: "direct" });
    assert.deepEqual(payload.memberIds, [a, b]);
    // The other user asking for the pair's conversation gets the same one; nothing new is written.
    const again = await as(b).createConversation({ memberIds: [a] });
    assert.equal(again.created, false);
    assert.equal(again.conversation?.id, c.id);
    assert.equal((await eventsOf(c.id)).length, 1);
  });

  test("a message: its row, the inbox positions, and MessageSent with its recipients", async () => {
    const [a, b] = [user(), user()];
    const c = await conversation(a, [b]);
    const clientMessageId = `m-${randomUUID()}`;
    const sent = await send(a, c.id, "  hello  ", clientMessageId);
    assert.equal(sent.created, true);
    const m = sent.message;
    assert.ok(m);
    assert.equal(m.text, "hello", "trimmed");
    const row = await db
      .selectFrom("messaging.messages")
      .select(["seq", "sender_id", "text", "client_message_id", "ciphertext"])
      .where("id", "=", m.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, {
      seq: "1",
      sender_id: a,
      text: "hello",
      client_message_id: clientMessageId,
      ciphertext: null,
    });
    const conv = await db
      .selectFrom("messaging.conversations")
      .select(["last_seq", "last_message_id"])
      .where("id", "=", c.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(conv, { last_seq: "1", last_message_id: m.id });
    const { envelope } = await lastEvent(c.id, "MessageSent");
    assert.equal(envelope.actor_id, a);
    // The payload exactly, keys and value types: consumers in other services read it.
    assert.deepEqual(envelope.payload, {
      conversationId: c.id,
      messageId: m.id,
      senderId: a,
      recipientIds: [b],
      text: "hello",
      encrypted: false,
      clientMessageId,
      createdAt: m.createdAt,
    });
    // A resend with the same key answers the first message and writes nothing.
    const resent = await send(a, c.id, "hello", clientMessageId);
    assert.equal(resent.created, false);
    assert.equal(resent.message?.id, m.id);
    assert.equal((await eventsOf(c.id)).length, 2);
    await refused(send(a, c.id, "something else", clientMessageId), "IDEMPOTENCY_KEY_REUSED", "clientMessageId");
    // The recipient sees it, unread.
    const view = await as(b).getConversations({ conversationIds: [c.id] });
    assert.equal(view.conversations[0]?.unreadCount, 1);
    assert.equal(view.conversations[0]?.lastMessageId, m.id);
  });

  test("a non-member is refused as if the conversation did not exist", async () => {
    const [a, b, outsider] = [user(), user(), user()];
    const c = await conversation(a, [b]);
    await refused(send(outsider, c.id, "hi"), "NOT_FOUND", "conversationId", /conversation not found/);
    await refused(as(outsider).listMessages({ conversationId: c.id }), "NOT_FOUND", "conversationId");
    const view = await as(outsider).getConversations({ conversationIds: [c.id] });
    assert.deepEqual(view.conversations, []);
    assert.equal(
      await db.selectFrom("messaging.messages").select("id").where("conversation_id", "=", c.id).executeTakeFirst(),
      undefined,
    );
  });

  test("a block in either direction stops a new conversation and the next message", async () => {
    const [a, b, d] = [user(), user(), user()];
    blocks.add(`${b}>${a}`);
    await refused(conversation(a, [b]), "FORBIDDEN", "memberIds[0]", /across a block/);
    const c = await conversation(a, [d]);
    blocks.add(`${a}>${d}`);
    await refused(send(a, c.id, "hi"), "FORBIDDEN", "conversationId");
  });
});

describe("groups", () => {
  test("the creator adds a member, who joins at the current position; MemberAdded is written", async () => {
    const [a, b, d] = [user(), user(), user()];
    const g = await conversation(a, [b], true);
    assert.equal(g.kind, ConversationKind.GROUP);
    await send(a, g.id, "before d joined");
    const added = await as(a).addMember({ conversationId: g.id, userId: d });
    assert.equal(added.changed, true);
    assert.deepEqual(added.conversation?.memberIds, [a, b, d]);
    const { envelope } = await lastEvent(g.id, "MemberAdded");
    assert.deepEqual(envelope.payload, { conversationId: g.id, userId: d, addedBy: a });
    const member = await db
      .selectFrom("messaging.members")
      .select(["joined_seq", "last_read_seq", "left_at"])
      .where("conversation_id", "=", g.id)
      .where("user_id", "=", d)
      .executeTakeFirstOrThrow();
    assert.deepEqual(member, { joined_seq: "1", last_read_seq: "1", left_at: null });
    const page = await as(d).listMessages({ conversationId: g.id });
    assert.deepEqual(page.messageIds, [], "earlier messages are not theirs to read");
    // Adding a current member again changes nothing.
    const again = await as(a).addMember({ conversationId: g.id, userId: d });
    assert.equal(again.changed, false);
  });

  test("only the creator adds or removes; a direct conversation's members cannot change", async () => {
    const [a, b, d] = [user(), user(), user()];
    const g = await conversation(a, [b], true);
    await refused(
      as(b).addMember({ conversationId: g.id, userId: d }),
      "FORBIDDEN",
      "conversationId",
      /only the group's creator can add members/,
    );
    await refused(
      as(b).removeMember({ conversationId: g.id, userId: a }),
      "FORBIDDEN",
      "conversationId",
      /only the group's creator can remove members/,
    );
    const c = await conversation(a, [d]);
    await refused(
      as(a).addMember({ conversationId: c.id, userId: b }),
      "FORBIDDEN",
      "conversationId",
      /direct conversation cannot change/,
    );
    await refused(
      as(a).addMember({ conversationId: g.id, userId: randomUUID() }),
      "NOT_FOUND",
      "userId",
      /user not found/,
    );
  });

  test("the creator removes a member (MemberRemoved, left: false); removing oneself is refused", async () => {
    const [a, b, d] = [user(), user(), user()];
    const g = await conversation(a, [b, d]);
    assert.equal(g.kind, ConversationKind.GROUP, "more than one other user makes a group");
    const removed = await as(a).removeMember({ conversationId: g.id, userId: b });
    assert.equal(removed.changed, true);
    assert.deepEqual(removed.conversation?.memberIds, [a, d]);
    const { envelope } = await lastEvent(g.id, "MemberRemoved");
    assert.deepEqual(envelope.payload, { conversationId: g.id, userId: b, removedBy: a, left: false });
    const row = await db
      .selectFrom("messaging.members")
      .select(["removed_by"])
      .where("conversation_id", "=", g.id)
      .where("user_id", "=", b)
      .where("left_at", "is not", null)
      .executeTakeFirstOrThrow();
    assert.equal(row.removed_by, a);
    // The removed member is an outsider now.
    await refused(send(b, g.id, "still here?"), "NOT_FOUND", "conversationId");
    const twice = await as(a).removeMember({ conversationId: g.id, userId: b });
    assert.equal(twice.changed, false);
    await refused(
      as(a).removeMember({ conversationId: g.id, userId: a }),
      "VALIDATION_FAILED",
      "userId",
      /use leaveConversation to leave/,
    );
  });

  test("when the creator leaves, the group passes to the earliest member", async () => {
    const [a, b, d] = [user(), user(), user()];
    const g = await conversation(a, [b, d]);
    await as(a).leaveConversation({ conversationId: g.id });
    const { envelope } = await lastEvent(g.id, "MemberRemoved");
    assert.deepEqual(envelope.payload, { conversationId: g.id, userId: a, removedBy: a, left: true, newCreatorId: b });
    const view = await as(b).getConversations({ conversationIds: [g.id] });
    assert.equal(view.conversations[0]?.creatorId, b);
  });
});

describe("validation", () => {
  test("errors name their field", async () => {
    const [a, b] = [user(), user()];
    const c = await conversation(a, [b]);
    await refused(send(a, c.id, ""), "VALIDATION_FAILED", "text");
    await refused(send(a, c.id, "x".repeat(4_001)), "VALIDATION_FAILED", "text");
    await refused(send(a, c.id, "hi", "has space"), "VALIDATION_FAILED", "clientMessageId");
    await refused(send(a, "not-a-uuid", "hi"), "VALIDATION_FAILED", "conversationId", /conversationId: must be/);
    await refused(conversation(a, [b, "nope"]), "VALIDATION_FAILED", "memberIds[1]");
    await refused(conversation(a, [a]), "VALIDATION_FAILED", "memberIds", /at least one other user/);
    assert.equal((await eventsOf(c.id)).length, 1, "nothing but ConversationCreated was written");
  });
});

test("the README lists the events events.ts declares, on their topic", () => {
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  const line = new RegExp(`Events on \`${CONVERSATION_TOPIC.replaceAll(".", "\\.")}\`[^:]*:([^]*?)\\.\\n`).exec(readme);
  assert.ok(line?.[1], "README names the messaging events");
  const listed = [...line[1].matchAll(/\b[A-Z][A-Za-z]+\b/g)].map((m) => m[0]).sort();
  assert.deepEqual(listed, Object.keys(MESSAGING_EVENTS).sort());
});
