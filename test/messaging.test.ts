/**
 * The messaging service through the GraphQL gateway (and its RPCs directly
 * where the API has no field), in the embedded topology on real PostgreSQL:
 * direct and group conversations, idempotent sends, exact unread counts under
 * concurrent sends and reads, blocks, group limits and membership rules,
 * public keys and encrypted messages, and the event contract.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { MessagingService } from "../src/gen/nova/messaging/v1/messaging_pb.ts";
import { fromError } from "../src/platform/errors.ts";
import type { Nova } from "../src/runtime/app.ts";
import { clientAs, gql, register, services, startInProcess } from "./helpers.ts";

let nova: Nova;
let url: string;
let db: pg.Pool;

before(async () => {
  ({ nova, url } = await startInProcess());
  db = new pg.Pool({ connectionString: (await services()).postgres, max: 4 });
});
after(async () => {
  await db.end();
  await nova.stop();
});

type U = Awaited<ReturnType<typeof register>>;

function errorOf(r: { body: { errors?: { extensions?: { code?: string; field?: string } }[] } }) {
  const e = r.body.errors?.[0]?.extensions;
  return { code: e?.code, field: e?.field };
}

function ok<T = Record<string, unknown>>(r: { body: { data?: unknown; errors?: unknown } }): T {
  assert.equal(r.body.errors, undefined, JSON.stringify(r.body));
  return r.body.data as T;
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T, R>(items: T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
    }),
  );
  return out;
}

/** Registers `n` users, 4 at a time (argon2id is expensive on this 2-core machine). */
const registerMany = (n: number) => pool(Array.from({ length: n }), 4, () => register(url));

const CONV = `id kind unreadCount creator { id } members { id } lastMessage { id text sender { id } }
  readReceipts { user { id } lastReadMessageId readAt } createdAt lastActivityAt`;
const MSG = `id conversationId text encrypted ciphertext keyId clientMessageId sender { id } createdAt`;

const create = (u: U, memberIds: string[], group?: boolean) =>
  gql(url, `mutation($m: [ID!]!, $g: Boolean) { createConversation(memberIds: $m, group: $g) { ${CONV} } }`, {
    token: u.accessToken,
    variables: { m: memberIds, g: group },
  });

async function createOk(u: U, memberIds: string[], group?: boolean) {
  return ok<{ createConversation: { id: string; kind: string; members: { id: string }[] } }>(
    await create(u, memberIds, group),
  ).createConversation;
}

let seq = 0;
const send = (u: U, conversationId: string, text: string, clientMessageId = `c-${++seq}-${Date.now()}`) =>
  gql(
    url,
    `mutation($c: ID!, $t: String!, $k: String!) { sendMessage(conversationId: $c, text: $t, clientMessageId: $k) { ${MSG} } }`,
    {
      token: u.accessToken,
      variables: { c: conversationId, t: text, k: clientMessageId },
    },
  );

async function sendOk(u: U, conversationId: string, text: string, clientMessageId?: string) {
  return ok<{ sendMessage: { id: string; text: string } }>(await send(u, conversationId, text, clientMessageId))
    .sendMessage;
}

const markRead = (u: U, conversationId: string, messageId?: string) =>
  gql(url, `mutation($c: ID!, $m: ID) { markConversationRead(conversationId: $c, messageId: $m) { ${CONV} } }`, {
    token: u.accessToken,
    variables: { c: conversationId, m: messageId },
  });

const conversation = (u: U, id: string, first = 100) =>
  gql(
    url,
    `query($id: ID!, $first: Int) { conversation(id: $id) { ${CONV}
      messages(first: $first) { edges { cursor node { ${MSG} } } pageInfo { hasNextPage endCursor } } } }`,
    { token: u.accessToken, variables: { id, first } },
  );

// biome-ignore lint/suspicious/noExplicitAny: test convenience
async function conversationOk(u: U, id: string): Promise<any> {
  const c = ok<{ conversation: unknown }>(await conversation(u, id)).conversation;
  assert.ok(c, "the member sees the conversation");
  return c;
}

const membership = (name: "addMember" | "removeMember", u: U, conversationId: string, userId: string) =>
  gql(url, `mutation($c: ID!, $u: ID!) { ${name}(conversationId: $c, userId: $u) { id members { id } } }`, {
    token: u.accessToken,
    variables: { c: conversationId, u: userId },
  });

const leave = (u: U, conversationId: string) =>
  gql(url, `mutation($c: ID!) { leaveConversation(conversationId: $c) }`, {
    token: u.accessToken,
    variables: { c: conversationId },
  });

const graphWrite = (name: "block" | "unblock", u: U, userId: string) =>
  gql(url, `mutation($id: ID!) { ${name}(userId: $id) { id } }`, { token: u.accessToken, variables: { id: userId } });

async function events(conversationId: string): Promise<{ type: string; payload: Record<string, unknown> }[]> {
  const r = await db.query(`SELECT topic, key, envelope FROM messaging.outbox WHERE key = $1 ORDER BY seq`, [
    conversationId,
  ]);
  for (const row of r.rows) {
    assert.equal(row.topic, "nova.messaging.conversation");
    assert.equal(row.envelope.aggregate_type, "conversation");
    assert.equal(row.envelope.aggregate_id, conversationId);
  }
  return r.rows.map((x) => ({ type: x.envelope.type, payload: x.envelope.payload }));
}

/** A client of the messaging service in this process, calling as `userId` (or as nobody). */
const messagingAs = (userId?: string) => clientAs(nova, MessagingService, userId);

async function rejectsWith(p: Promise<unknown>, code: string, field?: string) {
  await assert.rejects(p, (err) => {
    const e = fromError(err);
    assert.equal(e.code, code, String(err));
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

describe("conversations", () => {
  test("a direct conversation is unique: created again (either side, concurrently) it is the same one, with one event", async () => {
    const [a, b] = (await registerMany(2)) as [U, U];
    const results = await Promise.all([
      create(a, [b.user.id]),
      create(b, [a.user.id]),
      create(a, [b.user.id, a.user.id]),
      create(b, [a.user.id]),
    ]);
    const ids = new Set(results.map((r) => ok<{ createConversation: { id: string } }>(r).createConversation.id));
    assert.equal(ids.size, 1, "one conversation for the pair");
    const id = [...ids][0] as string;
    const c = await conversationOk(a, id);
    assert.equal(c.kind, "DIRECT");
    assert.deepEqual(c.members.map((m: { id: string }) => m.id).sort(), [a.user.id, b.user.id].sort());
    assert.equal(c.unreadCount, 0);
    assert.equal(c.lastMessage, null);
    const ev = await events(id);
    assert.equal(ev.length, 1);
    assert.equal(ev[0]?.type, "ConversationCreated");
    const p = ev[0]?.payload as { creatorId: string; memberIds: string[]; kind: string };
    assert.deepEqual(
      { ...p, memberIds: [...p.memberIds].sort() },
      {
        conversationId: id,
        creatorId: p.creatorId,
        memberIds: [a.user.id, b.user.id].sort(),
        kind: "direct",
      },
    );
    assert.ok([a.user.id, b.user.id].includes(p.creatorId));
    // A group of the same two is another conversation.
    const g = await createOk(a, [b.user.id], true);
    assert.equal(g.kind, "GROUP");
    assert.notEqual(g.id, id);
  });

  test("bad input is a coded error naming the field; signed out is UNAUTHENTICATED", async () => {
    const [a] = (await registerMany(1)) as [U];
    assert.deepEqual(errorOf(await create(a, [])), { code: "BAD_USER_INPUT", field: "memberIds" });
    assert.deepEqual(errorOf(await create(a, [a.user.id])), { code: "BAD_USER_INPUT", field: "memberIds" });
    assert.deepEqual(errorOf(await create(a, ["nope"])), { code: "BAD_USER_INPUT", field: "memberIds[0]" });
    assert.deepEqual(errorOf(await create(a, [a.user.id, "0190c7a4-0000-7000-8000-000000000000"])), {
      code: "NOT_FOUND",
      field: "memberIds[1]",
    });
    const anon = await gql(url, `query { conversations { edges { cursor } } }`);
    assert.equal(errorOf(anon).code, "UNAUTHENTICATED");
  });
});

describe("sending", () => {
  test("a resend with the same clientMessageId returns the same message, stores and emits nothing new", async () => {
    const [a, b] = (await registerMany(2)) as [U, U];
    const c = await createOk(a, [b.user.id]);
    const first = await sendOk(a, c.id, "  hello\r\nthere  ", "msg-1");
    assert.equal(first.text, "hello\nthere", "normalised");
    const again = await sendOk(a, c.id, "hello\nthere", "msg-1");
    assert.deepEqual(again, first);
    // Ten identical sends at once: one row, one event, every answer the same message.
    const racing = await Promise.all(Array.from({ length: 10 }, () => send(a, c.id, "raced", "msg-2")));
    const ids = new Set(racing.map((r) => ok<{ sendMessage: { id: string } }>(r).sendMessage.id));
    assert.equal(ids.size, 1);
    // The same key for different content is a client bug, not a resend.
    assert.deepEqual(errorOf(await send(a, c.id, "something else", "msg-1")), {
      code: "IDEMPOTENCY_KEY_REUSED",
      field: "clientMessageId",
    });
    // Keys are per sender: b may use the same one.
    const bs = await sendOk(b, c.id, "from b", "msg-1");
    assert.notEqual(bs.id, first.id);
    const rows = await db.query(
      `SELECT sender_id::text, client_message_id, seq FROM messaging.messages WHERE conversation_id = $1 ORDER BY seq`,
      [c.id],
    );
    assert.deepEqual(
      rows.rows.map((r) => [r.sender_id, r.client_message_id, Number(r.seq)]),
      [
        [a.user.id, "msg-1", 1],
        [a.user.id, "msg-2", 2],
        [b.user.id, "msg-1", 3],
      ],
    );
    const sent = (await events(c.id)).filter((e) => e.type === "MessageSent");
    assert.equal(sent.length, 3);
    const p = sent[0]?.payload as Record<string, unknown>;
    assert.deepEqual(p, {
      conversationId: c.id,
      messageId: first.id,
      senderId: a.user.id,
      recipientIds: [b.user.id],
      text: "hello\nthere",
      encrypted: false,
      clientMessageId: "msg-1",
      createdAt: p.createdAt,
    });
    assert.ok(!Number.isNaN(Date.parse(p.createdAt as string)));
  });

  test("text and clientMessageId are validated, naming the field; outsiders get NOT_FOUND", async () => {
    const [a, b, x] = (await registerMany(3)) as [U, U, U];
    const c = await createOk(a, [b.user.id]);
    assert.deepEqual(errorOf(await send(a, c.id, "   ")), { code: "BAD_USER_INPUT", field: "text" });
    assert.deepEqual(errorOf(await send(a, c.id, "x".repeat(4001))), { code: "BAD_USER_INPUT", field: "text" });
    assert.equal((await sendOk(a, c.id, "é".repeat(4000))).text.length, 4000, "4,000 characters are fine");
    for (const k of ["", "has space", "x".repeat(65), "tab\there", "ünï"]) {
      assert.deepEqual(errorOf(await send(a, c.id, "hi", k)), { code: "BAD_USER_INPUT", field: "clientMessageId" }, k);
    }
    assert.deepEqual(errorOf(await send(a, "nope", "hi")), { code: "BAD_USER_INPUT", field: "conversationId" });
    assert.deepEqual(errorOf(await send(x, c.id, "hi")), { code: "NOT_FOUND", field: "conversationId" });
    assert.deepEqual(errorOf(await send(a, "0190c7a4-0000-7000-8000-000000000000", "hi")), {
      code: "NOT_FOUND",
      field: "conversationId",
    });
    assert.equal(ok<{ conversation: unknown }>(await conversation(x, c.id)).conversation, null);
    assert.deepEqual(errorOf(await markRead(x, c.id)), { code: "NOT_FOUND", field: "conversationId" });
  });

  test("a block stops messages both ways and new conversations; an unblock restores them", async () => {
    const [a, b, c] = (await registerMany(3)) as [U, U, U];
    const direct = await createOk(a, [b.user.id]);
    await sendOk(a, direct.id, "before");
    ok(await graphWrite("block", b, a.user.id));
    assert.deepEqual(errorOf(await send(a, direct.id, "after")), { code: "FORBIDDEN", field: "conversationId" });
    assert.deepEqual(errorOf(await send(b, direct.id, "after")), { code: "FORBIDDEN", field: "conversationId" });
    // A resend of a message stored before the block is still answered (nothing new is sent).
    assert.deepEqual(errorOf(await create(a, [b.user.id])), { code: "FORBIDDEN", field: "memberIds[0]" });
    assert.deepEqual(errorOf(await create(b, [c.user.id, a.user.id])), { code: "FORBIDDEN", field: "memberIds[1]" });
    const g = await createOk(a, [c.user.id]);
    const group = await createOk(a, [c.user.id], true);
    assert.notEqual(g.id, group.id);
    assert.deepEqual(errorOf(await membership("addMember", a, group.id, b.user.id)), {
      code: "FORBIDDEN",
      field: "userId",
    });
    const rows = await db.query(`SELECT text FROM messaging.messages WHERE conversation_id = $1`, [direct.id]);
    assert.deepEqual(
      rows.rows.map((r) => r.text),
      ["before"],
    );
    ok(await graphWrite("unblock", b, a.user.id));
    await sendOk(a, direct.id, "after the unblock");
    ok(await membership("addMember", a, group.id, b.user.id));
  });
});

describe("a send and a membership change at once", () => {
  test("a send waiting for the conversation's lock reaches a member who joined while it waited", async () => {
    const [a, b, c] = (await registerMany(3)) as [U, U, U];
    const g = await createOk(a, [b.user.id], true);
    // Another writer holds the conversation's lock and adds c before it lets go.
    const holder = await db.connect();
    try {
      await holder.query("BEGIN");
      const locked = await holder.query("SELECT last_seq FROM messaging.conversations WHERE id = $1 FOR UPDATE", [
        g.id,
      ]);
      const sending = sendOk(a, g.id, "for everyone here");
      // The send is queued behind the lock (its function waits in its first statement).
      for (let i = 0; ; i++) {
        const w = await db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%send_message%'`,
        );
        if (w.rows[0].n > 0) break;
        assert.ok(i < 200, "the send never waited for the lock");
        await new Promise((r) => setTimeout(r, 25));
      }
      const last = locked.rows[0].last_seq;
      await holder.query(
        `INSERT INTO messaging.members (conversation_id, user_id, joined_seq, last_read_seq, activity_seq)
         VALUES ($1, $2, $3, $3, 0)`,
        [g.id, c.user.id, last],
      );
      await holder.query("COMMIT");
      const sent = await sending;
      const ev = (await events(g.id)).find((e) => e.type === "MessageSent" && e.payload.messageId === sent.id);
      assert.deepEqual(
        [...((ev?.payload.recipientIds as string[]) ?? [])].sort(),
        [b.user.id, c.user.id].sort(),
        "the recipients are the members when the message was written",
      );
      const pos = await db.query(
        "SELECT activity_seq::text AS a FROM messaging.members WHERE conversation_id = $1 AND user_id = $2",
        [g.id, c.user.id],
      );
      assert.notEqual(pos.rows[0].a, "0", "the new member's inbox moved");
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      holder.release();
    }
  });
});

describe("unread counts and read receipts", () => {
  test("exact after concurrent sends and reads", async () => {
    const [a, b, c] = (await registerMany(3)) as [U, U, U];
    const g = await createOk(a, [b.user.id, c.user.id]);
    const N = 24;
    const work: (() => Promise<unknown>)[] = [];
    for (let i = 0; i < N; i++) {
      work.push(() => sendOk(a, g.id, `a${i}`));
      work.push(() => sendOk(c, g.id, `c${i}`));
      // b reads while the messages arrive: up to the latest, or up to a message it has seen.
      if (i % 3 === 0) work.push(async () => ok(await markRead(b, g.id)));
      if (i % 5 === 0) work.push(() => sendOk(b, g.id, `b${i}`));
    }
    // Interleaved, 8 at a time.
    await pool(work, 8, (fn) => fn());
    const all = (await conversationOk(a, g.id)).messages.edges.map(
      (e: { node: { id: string; sender: { id: string } } }) => e.node,
    );
    assert.equal(all.length, 2 * N + Math.ceil(N / 5));
    const unreadFor = async (u: U) => {
      const view = await conversationOk(u, g.id);
      const receipt = view.readReceipts.find((r: { user: { id: string } }) => r.user.id === u.user.id);
      const readIdx = receipt.lastReadMessageId
        ? all.findIndex((m: { id: string }) => m.id === receipt.lastReadMessageId)
        : all.length;
      assert.ok(readIdx >= 0, "the read position is a message of the conversation");
      // Newest first: the unread are the messages before the read position, by others.
      const expected = all.slice(0, readIdx).filter((m: { sender: { id: string } }) => m.sender.id !== u.user.id);
      return { actual: view.unreadCount, expected: expected.length };
    };
    const [ua, ub, uc] = [await unreadFor(a), await unreadFor(b), await unreadFor(c)];
    assert.deepEqual(ua, { actual: N + Math.ceil(N / 5), expected: N + Math.ceil(N / 5) }, "a read nothing");
    assert.deepEqual(uc, { actual: N + Math.ceil(N / 5), expected: N + Math.ceil(N / 5) }, "c read nothing");
    assert.equal(ub.actual, ub.expected, "b's count is exact at its read position");
    // b reads everything; a late read of an older message does not move the position back.
    const done = ok<{ markConversationRead: { unreadCount: number } }>(await markRead(b, g.id));
    assert.equal(done.markConversationRead.unreadCount, 0);
    const oldest = all[all.length - 1] as { id: string };
    const stale = ok<{
      markConversationRead: {
        unreadCount: number;
        readReceipts: { user: { id: string }; lastReadMessageId: string }[];
      };
    }>(await markRead(b, g.id, oldest.id)).markConversationRead;
    assert.equal(stale.unreadCount, 0);
    assert.equal(
      stale.readReceipts.find((r) => r.user.id === b.user.id)?.lastReadMessageId,
      (all[0] as { id: string }).id,
    );
    // a reads half-way: the unread are exactly the newer messages of others.
    const mid = all[10] as { id: string };
    const half = ok<{ markConversationRead: { unreadCount: number } }>(await markRead(a, g.id, mid.id));
    assert.equal(
      half.markConversationRead.unreadCount,
      all.slice(0, 10).filter((m: { sender: { id: string } }) => m.sender.id !== a.user.id).length,
    );
    // Every MessagesRead event moved a position forward: b's last one names the newest message.
    const reads = (await events(g.id)).filter((e) => e.type === "MessagesRead");
    const bReads = reads.filter((e) => e.payload.userId === b.user.id);
    assert.equal(bReads.at(-1)?.payload.lastReadMessageId, (all[0] as { id: string }).id);
    assert.deepEqual(Object.keys(bReads.at(-1)?.payload ?? {}).sort(), [
      "conversationId",
      "lastReadMessageId",
      "readAt",
      "userId",
    ]);
    const positions = bReads.map((e) => all.findIndex((m: { id: string }) => m.id === e.payload.lastReadMessageId));
    for (let i = 1; i < positions.length; i++) {
      assert.ok(
        (positions[i] as number) < (positions[i - 1] as number),
        "each read moved forward (newer = lower index)",
      );
    }
  });

  test("a read of a message of another conversation is NOT_FOUND naming messageId", async () => {
    const [a, b] = (await registerMany(2)) as [U, U];
    const one = await createOk(a, [b.user.id]);
    const other = await createOk(a, [b.user.id], true);
    const m = await sendOk(b, other.id, "elsewhere");
    assert.deepEqual(errorOf(await markRead(a, one.id, m.id)), { code: "NOT_FOUND", field: "messageId" });
  });
});

describe("groups", () => {
  test("at most 50 members: creation and concurrent adds stop at the limit", async () => {
    const users = await registerMany(56);
    const [owner, ...rest] = users as [U, ...U[]];
    const fifty = rest.slice(0, 50).map((u) => u.user.id);
    assert.deepEqual(errorOf(await create(owner, fifty)), { code: "BAD_USER_INPUT", field: "memberIds" });
    const g = await createOk(
      owner,
      rest.slice(0, 44).map((u) => u.user.id),
    );
    assert.equal(g.members.length, 45);
    // Ten adds race for the last five places.
    const adds = await Promise.all(rest.slice(44, 54).map((u) => membership("addMember", owner, g.id, u.user.id)));
    const codes = adds.map((r) => (r.body.errors ? errorOf(r).code : "OK"));
    assert.equal(codes.filter((c) => c === "OK").length, 5, JSON.stringify(codes));
    assert.equal(codes.filter((c) => c === "LIMIT_REACHED").length, 5);
    assert.deepEqual(
      adds.filter((r) => r.body.errors).map((r) => errorOf(r).field),
      Array(5).fill("userId"),
    );
    const view = await conversationOk(owner, g.id);
    assert.equal(view.members.length, 50);
    const n = await db.query(
      `SELECT count(*)::int AS n FROM messaging.members WHERE conversation_id = $1 AND left_at IS NULL`,
      [g.id],
    );
    assert.equal(n.rows[0].n, 50);
    // A place freed by a leave can be taken again.
    const leaver = rest.find((u) => view.members.some((m: { id: string }) => m.id === u.user.id && u !== owner)) as U;
    assert.equal(ok<{ leaveConversation: boolean }>(await leave(leaver, g.id)).leaveConversation, true);
    ok(await membership("addMember", owner, g.id, (rest[54] as U).user.id));
  });

  test("the creator adds and removes; removed and left members can neither read nor send; the creator's leave hands the group on", async () => {
    const [owner, m1, m2, m3, outsider] = (await registerMany(5)) as [U, U, U, U, U];
    const g = await createOk(owner, [m1.user.id, m2.user.id]);
    const early = await sendOk(m1, g.id, "before m3 joined");
    // Only the creator changes members; outsiders do not even see the group.
    assert.deepEqual(errorOf(await membership("addMember", m1, g.id, m3.user.id)), {
      code: "FORBIDDEN",
      field: "conversationId",
    });
    assert.deepEqual(errorOf(await membership("addMember", outsider, g.id, m3.user.id)), {
      code: "NOT_FOUND",
      field: "conversationId",
    });
    assert.deepEqual(errorOf(await membership("removeMember", owner, g.id, owner.user.id)), {
      code: "BAD_USER_INPUT",
      field: "userId",
    });
    ok(await membership("addMember", owner, g.id, m3.user.id));
    // Adding again changes nothing.
    ok(await membership("addMember", owner, g.id, m3.user.id));
    // m3 joined after `early`: it sees only what came later.
    const later = await sendOk(m2, g.id, "after m3 joined");
    const seen3 = await conversationOk(m3, g.id);
    assert.deepEqual(
      seen3.messages.edges.map((e: { node: { id: string } }) => e.node.id),
      [later.id],
    );
    assert.equal(seen3.unreadCount, 1);
    const m3c = messagingAs(m3.user.id);
    assert.deepEqual(
      (await m3c.getMessages({ messageIds: [early.id, later.id] })).messages.map((x) => x.id),
      [later.id],
    );
    // Removed: no reading, no sending, gone from the list.
    ok(await membership("removeMember", owner, g.id, m1.user.id));
    assert.equal(ok<{ conversation: unknown }>(await conversation(m1, g.id)).conversation, null);
    assert.deepEqual(errorOf(await send(m1, g.id, "still here?")), { code: "NOT_FOUND", field: "conversationId" });
    const m1c = messagingAs(m1.user.id);
    assert.deepEqual((await m1c.getMessages({ messageIds: [early.id, later.id] })).messages, []);
    await rejectsWith(m1c.listMessages({ conversationId: g.id, cursor: "", limit: 10 }), "NOT_FOUND", "conversationId");
    const list1 = ok<{ conversations: { edges: { node: { id: string } }[] } }>(
      await gql(url, `query { conversations(first: 50) { edges { node { id } } } }`, { token: m1.accessToken }),
    );
    assert.ok(!list1.conversations.edges.some((e) => e.node.id === g.id));
    // The creator leaves: the earliest remaining member (m2) becomes the creator and can add.
    ok(await leave(owner, g.id));
    const after = await conversationOk(m2, g.id);
    assert.equal(after.creator.id, m2.user.id);
    assert.deepEqual(
      after.members.map((m: { id: string }) => m.id),
      [m2.user.id, m3.user.id],
    );
    assert.deepEqual(errorOf(await send(owner, g.id, "hi")), { code: "NOT_FOUND", field: "conversationId" });
    ok(await membership("addMember", m2, g.id, m1.user.id));
    const ev = (await events(g.id)).map((e) => [e.type, e.payload]);
    assert.deepEqual(
      ev.filter(([t]) => t === "MemberAdded" || t === "MemberRemoved"),
      [
        ["MemberAdded", { conversationId: g.id, userId: m3.user.id, addedBy: owner.user.id }],
        ["MemberRemoved", { conversationId: g.id, userId: m1.user.id, removedBy: owner.user.id, left: false }],
        [
          "MemberRemoved",
          {
            conversationId: g.id,
            userId: owner.user.id,
            removedBy: owner.user.id,
            left: true,
            newCreatorId: m2.user.id,
          },
        ],
        ["MemberAdded", { conversationId: g.id, userId: m1.user.id, addedBy: m2.user.id }],
      ],
    );
    // A MessageSent names the members of that moment other than the sender.
    const sent = (await events(g.id)).filter((e) => e.type === "MessageSent");
    assert.deepEqual(
      [...((sent.at(-1)?.payload.recipientIds ?? []) as string[])].sort(),
      [owner.user.id, m1.user.id, m3.user.id].sort(),
    );
  });

  test("a direct conversation's members cannot change and it cannot be left", async () => {
    const [a, b, c] = (await registerMany(3)) as [U, U, U];
    const d = await createOk(a, [b.user.id]);
    for (const r of [
      await membership("addMember", a, d.id, c.user.id),
      await membership("removeMember", a, d.id, b.user.id),
      await leave(a, d.id),
    ]) {
      assert.deepEqual(errorOf(r), { code: "FORBIDDEN", field: "conversationId" });
    }
  });
});

describe("the inbox", () => {
  test("latest activity first, with last message and unread count; pages have no duplicates while messages arrive", async () => {
    const [me, ...others] = (await registerMany(6)) as [U, ...U[]];
    const convs: string[] = [];
    for (const o of others) convs.push((await createOk(me, [o.user.id])).id);
    // Activity order: the conversation with others[2] last.
    for (const i of [0, 1, 3, 4, 2]) await sendOk(others[i] as U, convs[i] as string, `hi from ${i}`);
    const Q = `query($first: Int, $after: String) { conversations(first: $first, after: $after) {
      edges { cursor node { id unreadCount lastMessage { text } } } pageInfo { hasNextPage endCursor } } }`;
    const page = async (after: string | null) =>
      ok<{
        conversations: {
          edges: { node: { id: string; unreadCount: number; lastMessage: { text: string } } }[];
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      }>(await gql(url, Q, { token: me.accessToken, variables: { first: 2, after } })).conversations;
    const first = await page(null);
    assert.deepEqual(
      first.edges.map((e) => e.node.id),
      [convs[2], convs[4]],
    );
    assert.deepEqual(first.edges[0]?.node.lastMessage, { text: "hi from 2" });
    assert.equal(first.edges[0]?.node.unreadCount, 1);
    // A new message moves a conversation already seen to the top: later pages neither repeat nor skip the rest.
    await sendOk(others[4] as U, convs[4] as string, "again");
    const second = await page(first.pageInfo.endCursor);
    const third = await page(second.pageInfo.endCursor);
    assert.deepEqual(
      [...second.edges, ...third.edges].map((e) => e.node.id),
      [convs[3], convs[1], convs[0]],
    );
    assert.equal(third.pageInfo.hasNextPage, false);
    const top = await page(null);
    assert.equal(top.edges[0]?.node.id, convs[4]);
    assert.equal(top.edges[0]?.node.unreadCount, 2);
    for (const after of ["zz!", Buffer.from("0").toString("base64url")]) {
      const bad = await gql(url, Q, { token: me.accessToken, variables: { first: 2, after } });
      assert.deepEqual(errorOf(bad), { code: "BAD_USER_INPUT", field: "after" });
    }
    assert.deepEqual(errorOf(await gql(url, Q, { token: me.accessToken, variables: { first: 51 } })), {
      code: "BAD_USER_INPUT",
      field: "first",
    });
  });

  test("messages page newest first with stable cursors", async () => {
    const [a, b] = (await registerMany(2)) as [U, U];
    const c = await createOk(a, [b.user.id]);
    const sent: string[] = [];
    // More than 9: positions must sort as numbers (10 after 9), not as text.
    for (let i = 0; i < 12; i++) sent.push((await sendOk(i % 2 ? b : a, c.id, `m${i}`)).id);
    const Q = `query($id: ID!, $after: String) { conversation(id: $id) { messages(first: 5, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 5; i++) {
      type Page = {
        conversation: {
          messages: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
        };
      };
      const r: Page = ok<Page>(await gql(url, Q, { token: b.accessToken, variables: { id: c.id, after } }));
      seen.push(...r.conversation.messages.edges.map((e) => e.node.id));
      // A message sent while paging is newer: it never shows on a later page.
      if (i === 0) await sendOk(a, c.id, "late");
      if (!r.conversation.messages.pageInfo.hasNextPage) break;
      after = r.conversation.messages.pageInfo.endCursor;
    }
    assert.deepEqual(seen, [...sent].reverse());
  });
});

describe("public keys and encrypted messages", () => {
  const x25519 = () =>
    Buffer.from(generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x as string, "base64url").toString(
      "base64",
    );
  const upload = (u: U, publicKey: string) =>
    gql(
      url,
      `mutation($k: String!) { uploadPublicKey(publicKey: $k) { id userId algorithm publicKey current user { id } } }`,
      {
        token: u.accessToken,
        variables: { k: publicKey },
      },
    );

  test("upload validates the key; a rotation keeps the old key fetchable by id", async () => {
    const [a, b] = (await registerMany(2)) as [U, U];
    for (const bad of [
      "",
      "abc",
      Buffer.alloc(31, 1).toString("base64"),
      Buffer.alloc(32).toString("base64"),
      "!".repeat(44),
    ]) {
      assert.deepEqual(errorOf(await upload(a, bad)), { code: "BAD_USER_INPUT", field: "publicKey" }, bad);
    }
    const none = await gql(url, `query($u: ID!) { publicKey(userId: $u) { id } }`, {
      token: b.accessToken,
      variables: { u: a.user.id },
    });
    assert.equal(ok<{ publicKey: unknown }>(none).publicKey, null);
    const k1 = x25519();
    const first = ok<{ uploadPublicKey: { id: string; publicKey: string; current: boolean; algorithm: string } }>(
      await upload(a, k1),
    ).uploadPublicKey;
    assert.deepEqual([first.publicKey, first.current, first.algorithm], [k1, true, "x25519"]);
    // The same key again is the same key.
    assert.equal(ok<{ uploadPublicKey: { id: string } }>(await upload(a, k1)).uploadPublicKey.id, first.id);
    const second = ok<{ uploadPublicKey: { id: string } }>(await upload(a, x25519())).uploadPublicKey;
    assert.notEqual(second.id, first.id);
    // An old key cannot become current again.
    assert.deepEqual(errorOf(await upload(a, k1)), { code: "BAD_USER_INPUT", field: "publicKey" });
    const cur = ok<{ publicKey: { id: string; current: boolean } }>(
      await gql(url, `query($u: ID!) { publicKey(userId: $u) { id current } }`, {
        token: b.accessToken,
        variables: { u: a.user.id },
      }),
    ).publicKey;
    assert.deepEqual(cur, { id: second.id, current: true });
    const old = ok<{ publicKeyById: { id: string; current: boolean; publicKey: string } }>(
      await gql(url, `query($k: ID!) { publicKeyById(keyId: $k) { id current publicKey } }`, {
        token: b.accessToken,
        variables: { k: first.id },
      }),
    ).publicKeyById;
    assert.deepEqual(old, { id: first.id, current: false, publicKey: k1 });
  });

  test("an encrypted message is stored and sent as opaque ciphertext with its key id; no plaintext", async () => {
    const [a, b, x] = (await registerMany(3)) as [U, U, U];
    const c = await createOk(a, [b.user.id]);
    const bKey = ok<{ uploadPublicKey: { id: string } }>(await upload(b, x25519())).uploadPublicKey.id;
    const xKey = ok<{ uploadPublicKey: { id: string } }>(await upload(x, x25519())).uploadPublicKey.id;
    const ciphertext = Buffer.from("opaque bytes \u0000\u00ff from the client").toString("base64");
    const E = `mutation($c: ID!, $t: String!, $k: String!, $ct: String, $key: ID) {
      sendMessage(conversationId: $c, text: $t, clientMessageId: $k, ciphertext: $ct, keyId: $key) { ${MSG} } }`;
    const sendE = (vars: Record<string, unknown>) =>
      gql(url, E, { token: a.accessToken, variables: { c: c.id, t: "", k: `e-${++seq}`, ...vars } });
    const m = ok<{ sendMessage: { id: string; text: string; encrypted: boolean; ciphertext: string; keyId: string } }>(
      await sendE({ ct: ciphertext, key: bKey, k: "enc-1" }),
    ).sendMessage;
    assert.deepEqual([m.text, m.encrypted, m.ciphertext, m.keyId], ["", true, ciphertext, bKey]);
    assert.deepEqual(errorOf(await sendE({ ct: ciphertext, key: bKey, t: "plain too" })), {
      code: "BAD_USER_INPUT",
      field: "text",
    });
    assert.deepEqual(errorOf(await sendE({ ct: ciphertext, key: xKey })), { code: "BAD_USER_INPUT", field: "keyId" });
    assert.deepEqual(errorOf(await sendE({ ct: ciphertext })), { code: "BAD_USER_INPUT", field: "keyId" });
    assert.deepEqual(errorOf(await sendE({ ct: "not base64!", key: bKey })), {
      code: "BAD_USER_INPUT",
      field: "ciphertext",
    });
    assert.deepEqual(errorOf(await sendE({ ct: Buffer.alloc(16385, 7).toString("base64"), key: bKey })), {
      code: "BAD_USER_INPUT",
      field: "ciphertext",
    });
    const read = await conversationOk(b, c.id);
    assert.deepEqual(read.lastMessage, { id: m.id, text: "", sender: { id: a.user.id } });
    const row = await db.query(`SELECT text, ciphertext, key_id::text FROM messaging.messages WHERE id = $1`, [m.id]);
    assert.deepEqual(row.rows[0], { text: "", ciphertext: Buffer.from(ciphertext, "base64"), key_id: bKey });
    const ev = (await events(c.id)).find((e) => e.type === "MessageSent" && e.payload.messageId === m.id);
    assert.deepEqual(
      { ...ev?.payload, createdAt: undefined },
      {
        conversationId: c.id,
        messageId: m.id,
        senderId: a.user.id,
        recipientIds: [b.user.id],
        text: "",
        encrypted: true,
        ciphertext,
        keyId: bKey,
        clientMessageId: "enc-1",
        createdAt: undefined,
      },
    );
  });
});

describe("the RPCs themselves", () => {
  test("every RPC needs an end user and validates its input; batch RPCs take at most 100 ids", async () => {
    const [a, b] = (await registerMany(2)) as [U, U];
    const c = await createOk(a, [b.user.id]);
    const m = await sendOk(a, c.id, "hello");
    const anon = messagingAs();
    const asA = messagingAs(a.user.id);
    await rejectsWith(anon.listConversations({ cursor: "", limit: 10 }), "UNAUTHENTICATED");
    await rejectsWith(anon.getMessages({ messageIds: [m.id] }), "UNAUTHENTICATED");
    await rejectsWith(anon.getConversations({ conversationIds: [c.id] }), "UNAUTHENTICATED");
    await rejectsWith(anon.sendMessage({ conversationId: c.id, text: "x", clientMessageId: "k" }), "UNAUTHENTICATED");
    await rejectsWith(anon.getPublicKey({ userId: a.user.id }), "UNAUTHENTICATED");
    await rejectsWith(asA.getMessages({ messageIds: Array(101).fill(m.id) }), "VALIDATION_FAILED", "messageIds");
    await rejectsWith(asA.getMessages({ messageIds: [m.id, "x"] }), "VALIDATION_FAILED", "messageIds[1]");
    await rejectsWith(
      asA.getConversations({ conversationIds: Array(101).fill(c.id) }),
      "VALIDATION_FAILED",
      "conversationIds",
    );
    await rejectsWith(asA.listConversations({ cursor: "", limit: 101 }), "VALIDATION_FAILED", "limit");
    await rejectsWith(
      asA.listMessages({ conversationId: c.id, cursor: "!!", limit: 10 }),
      "VALIDATION_FAILED",
      "cursor",
    );
    await rejectsWith(asA.getPublicKeys({ keyIds: ["k"] }), "VALIDATION_FAILED", "keyIds[0]");
    // GetMessages and GetConversations answer in request order and leave out what the caller may not read.
    const m2 = await sendOk(b, c.id, "second");
    const got = await asA.getMessages({ messageIds: [m2.id, "0190c7a4-0000-7000-8000-000000000000", m.id] });
    assert.deepEqual(
      got.messages.map((x) => x.id),
      [m2.id, m.id],
    );
    const convs = await messagingAs(b.user.id).getConversations({ conversationIds: [c.id, c.id] });
    assert.deepEqual(
      convs.conversations.map((x) => [x.id, x.unreadCount]),
      [
        [c.id, 1],
        [c.id, 1],
      ],
    );
  });
});
