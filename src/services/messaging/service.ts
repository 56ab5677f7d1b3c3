/**
 * The messaging service: direct and group conversations, idempotent sends,
 * read positions with exact unread counts, and the public-key registry of
 * end-to-end encrypted messages.
 *
 * Concurrency: every change of a conversation (a message, a membership
 * change) runs under the conversation row's lock, so message positions
 * (`seq`) are handed out 1, 2, 3, ... and commit in that order. A member's
 * read position is a `seq` that only moves forward, and their unread count
 * is the number of others' messages after it: exact at any moment, whatever
 * runs concurrently (no counters to drift). Every write and its events
 * commit in one transaction (outbox); a caller who is not a current member
 * of a conversation gets NOT_FOUND from every RPC.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type Kysely, sql, type Transaction } from "kysely";
import {
  type Conversation,
  ConversationKind,
  ConversationSchema,
  type Message,
  MessageSchema,
  type MessagingService,
  type PublicKey,
  PublicKeySchema,
  ReadReceiptSchema,
} from "../../gen/nova/messaging/v1/messaging_pb.ts";
import { invalid, NovaError } from "../../platform/errors.ts";
import type { NewEvent, Outbox } from "../../platform/events/outbox.ts";
import { decodeCursor, keysetPage, LIST, pageSize, SEQ } from "../../platform/paging.ts";
import { requireUser } from "../../platform/rpc/context.ts";
import { uuid, uuids, uuidv7 } from "../../platform/validate.ts";
import { LIMITS, validateCiphertext, validateClientMessageId, validatePublicKey, validateText } from "./validation.ts";

/** The columns the paged queries name (as node-postgres reads them: bigint as text). */
type MessagingTables = {
  "messaging.members": { conversation_id: string; user_id: string; activity_seq: string; left_at: Date | null };
  "messaging.messages": { id: string; conversation_id: string; seq: string };
};

/** What messaging needs from other services (RPC-backed in the module). */
export interface MessagingPeers {
  /** Of `userIds`, those the calling user blocks or is blocked by (asked fresh: a block applies at once). */
  blockedWith(userIds: string[]): Promise<Set<string>>;
  /** Of `userIds`, those that exist. */
  existing(userIds: string[]): Promise<Set<string>>;
}

export interface MessagingDeps {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  outbox: Outbox;
  peers: MessagingPeers;
}

type Db = Kysely<unknown> | Transaction<unknown>;
type Kind = "direct" | "group";

const AGGREGATE = "conversation";

function event(type: string, conversationId: string, actorId: string, payload: Record<string, unknown>): NewEvent {
  return {
    type,
    aggregateType: AGGREGATE,
    aggregateId: conversationId,
    actorId,
    payload: { conversationId, ...payload },
  };
}

const notFound = (field = "conversationId") => new NovaError("NOT_FOUND", "conversation not found", { field });

interface MessageRow {
  id: string;
  conversation_id: string;
  seq: string;
  sender_id: string;
  client_message_id: string;
  text: string;
  ciphertext: Buffer | null;
  key_id: string | null;
  created_at: Date;
}

const MESSAGE_COLUMNS = sql`msg.id::text AS id, msg.conversation_id::text AS conversation_id, msg.seq::text AS seq,
  msg.sender_id::text AS sender_id, msg.client_message_id, msg.text, msg.ciphertext, msg.key_id::text AS key_id,
  msg.created_at`;

function toMessage(r: MessageRow): Message {
  return create(MessageSchema, {
    id: r.id,
    conversationId: r.conversation_id,
    senderId: r.sender_id,
    text: r.text,
    encrypted: r.ciphertext !== null,
    ciphertext: r.ciphertext ? new Uint8Array(r.ciphertext) : new Uint8Array(),
    keyId: r.key_id ?? "",
    clientMessageId: r.client_message_id,
    createdAt: r.created_at.toISOString(),
  });
}

interface KeyRow {
  id: string;
  user_id: string;
  algorithm: string;
  public_key: Buffer;
  created_at: Date;
  retired_at: Date | null;
}

const KEY_COLUMNS = sql`k.id::text AS id, k.user_id::text AS user_id, k.algorithm, k.public_key, k.created_at, k.retired_at`;

function toKey(r: KeyRow): PublicKey {
  return create(PublicKeySchema, {
    keyId: r.id,
    userId: r.user_id,
    algorithm: r.algorithm,
    publicKey: r.public_key.toString("base64"),
    createdAt: r.created_at.toISOString(),
    current: r.retired_at === null,
  });
}

/**
 * The viewer's view of conversations they are a current member of, in the
 * order of `ids` (others left out): members, last message, unread count and
 * every member's read receipt.
 */
export async function conversationViews(db: Db, viewer: string, ids: string[]): Promise<Conversation[]> {
  if (ids.length === 0) return [];
  const r = await sql<{
    id: string;
    kind: Kind;
    creator_id: string;
    created_at: Date;
    last_activity_at: Date;
    last_message_id: string | null;
    unread: string;
  }>`SELECT c.id::text AS id, c.kind, c.creator_id::text AS creator_id, c.created_at, c.last_activity_at,
        CASE WHEN c.last_seq > m.joined_seq THEN c.last_message_id::text END AS last_message_id,
        (SELECT count(*) FROM messaging.messages x
          WHERE x.conversation_id = c.id AND x.seq > m.last_read_seq AND x.sender_id <> m.user_id) AS unread
      FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS q(id, o)
      JOIN messaging.members m ON m.conversation_id = q.id AND m.user_id = ${viewer}::uuid AND m.left_at IS NULL
      JOIN messaging.conversations c ON c.id = q.id
     ORDER BY q.o`.execute(db);
  if (r.rows.length === 0) return [];
  const found = [...new Set(r.rows.map((c) => c.id))];
  const members = await sql<{
    conversation_id: string;
    user_id: string;
    last_read_message_id: string | null;
    read_at: Date | null;
  }>`SELECT conversation_id::text AS conversation_id, user_id::text AS user_id,
        last_read_message_id::text AS last_read_message_id, read_at
      FROM messaging.members WHERE conversation_id = ANY(${found}::uuid[]) AND left_at IS NULL
     ORDER BY join_order`.execute(db);
  const byConversation = new Map<string, typeof members.rows>();
  for (const m of members.rows) {
    const list = byConversation.get(m.conversation_id) ?? [];
    list.push(m);
    byConversation.set(m.conversation_id, list);
  }
  return r.rows.map((c) => {
    const list = byConversation.get(c.id) ?? [];
    return create(ConversationSchema, {
      id: c.id,
      kind: c.kind === "direct" ? ConversationKind.DIRECT : ConversationKind.GROUP,
      creatorId: c.creator_id,
      memberIds: list.map((m) => m.user_id),
      lastMessageId: c.last_message_id ?? "",
      unreadCount: Number(c.unread),
      createdAt: c.created_at.toISOString(),
      lastActivityAt: c.last_activity_at.toISOString(),
      readReceipts: list.map((m) =>
        create(ReadReceiptSchema, {
          userId: m.user_id,
          lastReadMessageId: m.last_read_message_id ?? "",
          readAt: m.read_at?.toISOString() ?? "",
        }),
      ),
    });
  });
}

async function viewOf(db: Db, viewer: string, id: string): Promise<Conversation> {
  const [c] = await conversationViews(db, viewer, [id]);
  if (!c) throw notFound();
  return c;
}

interface Locked {
  kind: Kind;
  creator_id: string;
  last_seq: string;
  joined_seq: string;
}

/** Locks the conversation row (serialising its changes) and checks the caller is a current member. */
async function lockAsMember(trx: Transaction<unknown>, id: string, me: string): Promise<Locked> {
  const r = await sql<Locked>`SELECT c.kind, c.creator_id::text AS creator_id, c.last_seq::text AS last_seq,
      m.joined_seq::text AS joined_seq
      FROM messaging.conversations c
      JOIN messaging.members m ON m.conversation_id = c.id AND m.user_id = ${me}::uuid AND m.left_at IS NULL
     WHERE c.id = ${id}::uuid FOR UPDATE OF c`.execute(trx);
  const row = r.rows[0];
  if (!row) throw notFound();
  return row;
}

/** Gives the conversation (and every current member's inbox) a new activity position. */
async function touch(trx: Transaction<unknown>, id: string, extra = sql``): Promise<string[]> {
  // One statement: the new position, the conversation row, and every current member's position.
  const r = await sql<{ user_id: string }>`WITH next AS (SELECT nextval('messaging.activity_seq') AS act),
      conv AS (UPDATE messaging.conversations SET last_activity_at = now() ${extra} WHERE id = ${id}::uuid)
    UPDATE messaging.members m SET activity_seq = next.act FROM next
     WHERE m.conversation_id = ${id}::uuid AND m.left_at IS NULL RETURNING m.user_id::text AS user_id`.execute(trx);
  return r.rows.map((m) => m.user_id);
}

export function createMessagingService(deps: MessagingDeps): ServiceImpl<typeof MessagingService> {
  const { writer, reader } = deps.db;
  const typedReader = reader.withTables<MessagingTables>();
  const emit = (trx: Transaction<unknown>, ...events: NewEvent[]) => deps.outbox.emit(trx, ...events);

  /** Refuses a contact across a block (either direction) between the caller and any of `ids`. */
  async function refuseBlocked(ids: string[], fieldOf: (id: string) => string): Promise<void> {
    if (ids.length === 0) return;
    const blocked = await deps.peers.blockedWith(ids);
    const first = ids.find((id) => blocked.has(id));
    if (first) throw new NovaError("FORBIDDEN", "cannot message across a block", { field: fieldOf(first) });
  }

  async function refuseMissing(ids: string[], fieldOf: (id: string) => string): Promise<void> {
    const found = await deps.peers.existing(ids);
    const missing = ids.find((id) => !found.has(id));
    if (missing) throw new NovaError("NOT_FOUND", "user not found", { field: fieldOf(missing) });
  }

  /** A resend must carry the same message: the same key for different content is a client bug. */
  function sameMessage(row: MessageRow, text: string, ciphertext: Buffer | null, keyId: string | null): boolean {
    if (ciphertext) return row.ciphertext?.equals(ciphertext) === true && row.key_id === keyId;
    return row.ciphertext === null && row.text === text;
  }

  async function membershipChange(
    rawConversation: string,
    rawUser: string,
    change: "add" | "remove",
  ): Promise<{ conversation: Conversation; changed: boolean }> {
    const me = requireUser().userId;
    const conversationId = uuid("conversationId", rawConversation);
    const userId = uuid("userId", rawUser);
    if (change === "remove" && userId === me) throw invalid("userId", "use leaveConversation to leave");
    if (change === "add" && userId !== me) {
      await refuseMissing([userId], () => "userId");
      await refuseBlocked([userId], () => "userId");
    }
    return writer.transaction().execute(async (trx) => {
      const c = await lockAsMember(trx, conversationId, me);
      if (c.kind === "direct") {
        throw new NovaError("FORBIDDEN", "the members of a direct conversation cannot change", {
          field: "conversationId",
        });
      }
      if (c.creator_id !== me) {
        throw new NovaError("FORBIDDEN", `only the group's creator can ${change} members`, { field: "conversationId" });
      }
      const cur = await sql<{ active: boolean }>`SELECT left_at IS NULL AS active FROM messaging.members
        WHERE conversation_id = ${conversationId}::uuid AND user_id = ${userId}::uuid`.execute(trx);
      const active = cur.rows[0]?.active === true;
      if (change === "add") {
        if (active) return { conversation: await viewOf(trx, me, conversationId), changed: false };
        const n = await sql<{ n: string }>`SELECT count(*) AS n FROM messaging.members
          WHERE conversation_id = ${conversationId}::uuid AND left_at IS NULL`.execute(trx);
        if (Number(n.rows[0]?.n) >= LIMITS.groupMembersMax) {
          throw new NovaError("LIMIT_REACHED", `a group has at most ${LIMITS.groupMembersMax} members`, {
            field: "userId",
          });
        }
        // A member (re)joins at the current position: earlier messages are not theirs to read.
        await sql`INSERT INTO messaging.members AS m (conversation_id, user_id, joined_seq, last_read_seq, activity_seq)
          VALUES (${conversationId}::uuid, ${userId}::uuid, ${c.last_seq}::bigint, ${c.last_seq}::bigint, 0)
          ON CONFLICT (conversation_id, user_id) DO UPDATE SET
            joined_seq = EXCLUDED.joined_seq, last_read_seq = EXCLUDED.last_read_seq, last_read_message_id = NULL,
            read_at = NULL, left_at = NULL, removed_by = NULL, joined_at = now(),
            join_order = nextval('messaging.join_seq')`.execute(trx);
        await touch(trx, conversationId);
        await emit(trx, event("MemberAdded", conversationId, me, { userId, addedBy: me }));
      } else {
        if (!active) return { conversation: await viewOf(trx, me, conversationId), changed: false };
        await sql`UPDATE messaging.members SET left_at = now(), removed_by = ${me}::uuid
          WHERE conversation_id = ${conversationId}::uuid AND user_id = ${userId}::uuid`.execute(trx);
        await touch(trx, conversationId);
        await emit(trx, event("MemberRemoved", conversationId, me, { userId, removedBy: me, left: false }));
      }
      return { conversation: await viewOf(trx, me, conversationId), changed: true };
    });
  }

  return {
    async createConversation(req) {
      const me = requireUser().userId;
      const ids = uuids("memberIds", req.memberIds, LIMITS.batchMax);
      const fieldOf = (id: string) => `memberIds[${ids.indexOf(id)}]`;
      const others = [...new Set(ids)].filter((id) => id !== me);
      if (others.length === 0) throw invalid("memberIds", "must name at least one other user");
      if (others.length > LIMITS.groupMembersMax - 1) {
        throw invalid("memberIds", `a group has at most ${LIMITS.groupMembersMax} members, you included`);
      }
      await refuseMissing(others, fieldOf);
      await refuseBlocked(others, fieldOf);
      const kind: Kind = others.length === 1 && !req.group ? "direct" : "group";
      const members = [me, ...others];
      return writer.transaction().execute(async (trx) => {
        let id: string | undefined;
        if (kind === "direct") {
          const [low, high] = me < (others[0] as string) ? [me, others[0]] : [others[0], me];
          const r = await sql<{
            id: string;
          }>`INSERT INTO messaging.conversations (kind, creator_id, direct_low, direct_high)
            VALUES ('direct', ${me}::uuid, ${low}::uuid, ${high}::uuid)
            ON CONFLICT (direct_low, direct_high) WHERE kind = 'direct' DO NOTHING RETURNING id::text AS id`.execute(
            trx,
          );
          id = r.rows[0]?.id;
          if (!id) {
            // The pair's conversation exists (maybe created a moment ago by the other user).
            const e = await sql<{ id: string }>`SELECT id::text AS id FROM messaging.conversations
              WHERE kind = 'direct' AND direct_low = ${low}::uuid AND direct_high = ${high}::uuid`.execute(trx);
            return { conversation: await viewOf(trx, me, e.rows[0]?.id as string), created: false };
          }
        } else {
          const r = await sql<{ id: string }>`INSERT INTO messaging.conversations (kind, creator_id)
            VALUES ('group', ${me}::uuid) RETURNING id::text AS id`.execute(trx);
          id = r.rows[0]?.id as string;
        }
        await sql`INSERT INTO messaging.members (conversation_id, user_id, joined_seq, last_read_seq, activity_seq)
          SELECT ${id}::uuid, u, 0, 0, 0 FROM unnest(${members}::uuid[]) WITH ORDINALITY AS x(u, o) ORDER BY o`.execute(
          trx,
        );
        await touch(trx, id);
        await emit(trx, event("ConversationCreated", id, me, { creatorId: me, memberIds: members, kind }));
        return { conversation: await viewOf(trx, me, id), created: true };
      });
    },

    addMember: (req) => membershipChange(req.conversationId, req.userId, "add"),
    removeMember: (req) => membershipChange(req.conversationId, req.userId, "remove"),

    async leaveConversation(req) {
      const me = requireUser().userId;
      const conversationId = uuid("conversationId", req.conversationId);
      await writer.transaction().execute(async (trx) => {
        const c = await lockAsMember(trx, conversationId, me);
        if (c.kind === "direct") {
          throw new NovaError("FORBIDDEN", "a direct conversation cannot be left", { field: "conversationId" });
        }
        await sql`UPDATE messaging.members SET left_at = now(), removed_by = ${me}::uuid
          WHERE conversation_id = ${conversationId}::uuid AND user_id = ${me}::uuid`.execute(trx);
        let newCreatorId: string | null = null;
        if (c.creator_id === me) {
          // The group passes to the member who joined earliest (none left: it stays with the leaver).
          const next = await sql<{ user_id: string }>`SELECT user_id::text AS user_id FROM messaging.members
            WHERE conversation_id = ${conversationId}::uuid AND left_at IS NULL ORDER BY join_order LIMIT 1`.execute(
            trx,
          );
          newCreatorId = next.rows[0]?.user_id ?? null;
        }
        await touch(trx, conversationId, newCreatorId ? sql`, creator_id = ${newCreatorId}::uuid` : sql``);
        await emit(
          trx,
          event("MemberRemoved", conversationId, me, {
            userId: me,
            removedBy: me,
            left: true,
            ...(newCreatorId ? { newCreatorId } : {}),
          }),
        );
      });
      return {};
    },

    async sendMessage(req) {
      const me = requireUser().userId;
      const conversationId = uuid("conversationId", req.conversationId);
      const clientMessageId = validateClientMessageId(req.clientMessageId);
      const encrypted = req.ciphertext.length > 0 || req.keyId !== "";
      let text = "";
      let ciphertext: Buffer | null = null;
      let keyId: string | null = null;
      if (encrypted) {
        if (req.text !== "") throw invalid("text", "must be empty when the message is encrypted");
        ciphertext = Buffer.from(validateCiphertext(req.ciphertext));
        keyId = uuid("keyId", req.keyId);
      } else {
        text = validateText(req.text);
      }
      const answer = (row: MessageRow, created: boolean) => {
        if (!sameMessage(row, text, ciphertext, keyId)) {
          throw new NovaError("IDEMPOTENCY_KEY_REUSED", "clientMessageId: was used for a different message", {
            field: "clientMessageId",
          });
        }
        return { message: toMessage(row), created };
      };
      // Membership (NOT_FOUND for outsiders) and an earlier send with this key, in one statement: a resend is
      // answered without any further check or lock.
      const member = await sql<
        { kind: Kind; other: string | null } & (MessageRow | { [K in keyof MessageRow]: null })
      >`SELECT c.kind, (SELECT o.user_id::text FROM messaging.members o
            WHERE c.kind = 'direct' AND o.conversation_id = c.id AND o.user_id <> ${me}::uuid) AS other,
          ${MESSAGE_COLUMNS}
          FROM messaging.conversations c
          JOIN messaging.members m ON m.conversation_id = c.id AND m.user_id = ${me}::uuid AND m.left_at IS NULL
          LEFT JOIN messaging.messages msg ON msg.conversation_id = c.id AND msg.sender_id = ${me}::uuid
            AND msg.client_message_id = ${clientMessageId}
         WHERE c.id = ${conversationId}::uuid`.execute(writer);
      const conv = member.rows[0];
      if (!conv) throw notFound();
      if (conv.id !== null) return answer(conv, false);
      // Blocks are asked fresh (no cache) so a block stops the next message. In a group, blocks were
      // applied when members joined; a group message is not refused for a block between two members.
      if (conv.kind === "direct" && conv.other) await refuseBlocked([conv.other], () => "conversationId");
      if (keyId) {
        // The key must be in the registry and belong to a current member (the sender's or a recipient's).
        const k = await sql`SELECT 1 FROM messaging.public_keys k
          JOIN messaging.members m ON m.user_id = k.user_id AND m.conversation_id = ${conversationId}::uuid
            AND m.left_at IS NULL WHERE k.id = ${keyId}::uuid`.execute(writer);
        if (k.rows.length === 0) throw invalid("keyId", "is not the public key of a member of this conversation");
      }
      // The lock, the message, the activity positions and MessageSent in one round trip (migration 0002).
      const createdAt = new Date();
      const messageId = uuidv7(createdAt.getTime());
      const ev = deps.outbox.prepare(
        event("MessageSent", conversationId, me, {
          messageId,
          senderId: me,
          recipientIds: [], // set by the function: the members the message reached
          text,
          encrypted: ciphertext !== null,
          ...(ciphertext ? { ciphertext: ciphertext.toString("base64"), keyId } : {}),
          clientMessageId,
          createdAt: createdAt.toISOString(),
        }),
      );
      const r = await sql<MessageRow & { outcome: "not_member" | "created" | "exists" }>`SELECT outcome,
          ${MESSAGE_COLUMNS}
          FROM messaging.send_message(${conversationId}::uuid, ${me}::uuid, ${clientMessageId}, ${text},
            ${ciphertext}, ${keyId}::uuid, ${messageId}::uuid, ${createdAt}::timestamptz, ${ev.id}::uuid,
            ${ev.topic}, ${JSON.stringify(ev.envelope)}::jsonb) AS msg`.execute(writer);
      const row = r.rows[0];
      if (!row || row.outcome === "not_member") throw notFound();
      if (row.outcome === "exists") return answer(row, false);
      deps.outbox.written();
      return { message: toMessage(row), created: true };
    },

    async markRead(req) {
      const me = requireUser().userId;
      const conversationId = uuid("conversationId", req.conversationId);
      const messageId = req.messageId === "" ? null : uuid("messageId", req.messageId);
      return writer.transaction().execute(async (trx) => {
        const r = await sql<{ joined_seq: string; last_read_seq: string; last_seq: string; last_message_id: string }>`
          SELECT m.joined_seq::text AS joined_seq, m.last_read_seq::text AS last_read_seq, c.last_seq::text AS last_seq,
                 c.last_message_id::text AS last_message_id
            FROM messaging.members m JOIN messaging.conversations c ON c.id = m.conversation_id
           WHERE m.conversation_id = ${conversationId}::uuid AND m.user_id = ${me}::uuid AND m.left_at IS NULL
             FOR UPDATE OF m`.execute(trx);
        const m = r.rows[0];
        if (!m) throw notFound();
        let target = { seq: m.last_seq, id: m.last_message_id };
        if (messageId) {
          const x = await sql<{ seq: string }>`SELECT seq::text AS seq FROM messaging.messages
            WHERE id = ${messageId}::uuid AND conversation_id = ${conversationId}::uuid
              AND seq > ${m.joined_seq}::bigint`.execute(trx);
          const found = x.rows[0];
          if (!found) throw new NovaError("NOT_FOUND", "message not found", { field: "messageId" });
          target = { seq: found.seq, id: messageId };
        }
        // Forward only: a late MarkRead of an older message changes nothing.
        if (BigInt(target.seq) <= BigInt(m.last_read_seq)) {
          return { conversation: await viewOf(trx, me, conversationId), changed: false };
        }
        const u = await sql<{ read_at: Date }>`UPDATE messaging.members
          SET last_read_seq = ${target.seq}::bigint, last_read_message_id = ${target.id}::uuid, read_at = now()
          WHERE conversation_id = ${conversationId}::uuid AND user_id = ${me}::uuid RETURNING read_at`.execute(trx);
        await emit(
          trx,
          event("MessagesRead", conversationId, me, {
            userId: me,
            lastReadMessageId: target.id,
            readAt: (u.rows[0] as { read_at: Date }).read_at.toISOString(),
          }),
        );
        return { conversation: await viewOf(trx, me, conversationId), changed: true };
      });
    },

    async listConversations(req) {
      const me = requireUser().userId;
      const limit = pageSize(req.limit, LIST);
      const before = decodeCursor(req.cursor, SEQ);
      const page = await keysetPage(
        typedReader
          .selectFrom("messaging.members as m")
          .select(["m.conversation_id", "m.activity_seq"])
          .where("m.user_id", "=", me)
          .where("m.left_at", "is", null),
        { key: "m.activity_seq", after: before, limit, position: (c) => c.activity_seq },
      );
      return {
        conversationIds: page.rows.map((c) => c.conversation_id),
        nextCursor: page.nextCursor,
        cursors: page.cursors,
      };
    },

    async getConversations(req) {
      const me = requireUser().userId;
      const ids = uuids("conversationIds", req.conversationIds, LIMITS.batchMax);
      return { conversations: await conversationViews(reader, me, ids) };
    },

    async listMessages(req) {
      const me = requireUser().userId;
      const conversationId = uuid("conversationId", req.conversationId);
      const limit = pageSize(req.limit, LIST);
      const before = decodeCursor(req.cursor, SEQ);
      const m = await sql<{ joined_seq: string }>`SELECT joined_seq::text AS joined_seq FROM messaging.members
        WHERE conversation_id = ${conversationId}::uuid AND user_id = ${me}::uuid AND left_at IS NULL`.execute(reader);
      const joined = m.rows[0]?.joined_seq;
      if (joined === undefined) throw notFound();
      const page = await keysetPage(
        typedReader
          .selectFrom("messaging.messages as msg")
          .select(["msg.id", "msg.seq"])
          .where("msg.conversation_id", "=", conversationId)
          .where("msg.seq", ">", joined),
        { key: "msg.seq", after: before, limit, position: (x) => x.seq },
      );
      return { messageIds: page.rows.map((x) => x.id), nextCursor: page.nextCursor, cursors: page.cursors };
    },

    // From the primary: the real-time layer hydrates a MessageSent event through this at once, before a
    // replica may have the row (lookups by primary key, cheap on the primary).
    async getMessages(req) {
      const me = requireUser().userId;
      const ids = uuids("messageIds", req.messageIds, LIMITS.batchMax);
      if (ids.length === 0) return { messages: [] };
      const r = await sql<MessageRow>`SELECT ${MESSAGE_COLUMNS}
        FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS q(id, o)
        JOIN messaging.messages msg ON msg.id = q.id
        JOIN messaging.members m ON m.conversation_id = msg.conversation_id AND m.user_id = ${me}::uuid
          AND m.left_at IS NULL AND msg.seq > m.joined_seq
       ORDER BY q.o`.execute(writer);
      return { messages: r.rows.map(toMessage) };
    },

    async uploadPublicKey(req) {
      const me = requireUser().userId;
      const raw = validatePublicKey(req.publicKey);
      return writer.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`messaging:keys:${me}`}, 0))`.execute(trx);
        const same = await sql<KeyRow>`SELECT ${KEY_COLUMNS} FROM messaging.public_keys k
          WHERE k.user_id = ${me}::uuid AND k.public_key = ${raw}`.execute(trx);
        const prior = same.rows[0];
        if (prior && prior.retired_at === null) return { key: toKey(prior), changed: false };
        if (prior) throw invalid("publicKey", "was replaced before; a rotation needs a new key");
        await sql`UPDATE messaging.public_keys SET retired_at = now()
          WHERE user_id = ${me}::uuid AND retired_at IS NULL`.execute(trx);
        const r = await sql<KeyRow>`INSERT INTO messaging.public_keys AS k (user_id, algorithm, public_key)
          VALUES (${me}::uuid, 'x25519', ${raw}) RETURNING ${KEY_COLUMNS}`.execute(trx);
        return { key: toKey(r.rows[0] as KeyRow), changed: true };
      });
    },

    async getPublicKey(req) {
      requireUser();
      const userId = uuid("userId", req.userId);
      const r = await sql<KeyRow>`SELECT ${KEY_COLUMNS} FROM messaging.public_keys k
        WHERE k.user_id = ${userId}::uuid AND k.retired_at IS NULL`.execute(reader);
      const row = r.rows[0];
      if (!row) throw new NovaError("NOT_FOUND", "the user has no public key", { field: "userId" });
      return { key: toKey(row) };
    },

    async getPublicKeys(req) {
      requireUser();
      const ids = uuids("keyIds", req.keyIds, LIMITS.batchMax);
      if (ids.length === 0) return { keys: [] };
      const r = await sql<KeyRow>`SELECT ${KEY_COLUMNS} FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS q(id, o)
        JOIN messaging.public_keys k ON k.id = q.id ORDER BY q.o`.execute(reader);
      return { keys: r.rows.map(toKey) };
    },
  };
}
