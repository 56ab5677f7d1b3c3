/**
 * The messaging service's SQL, over its tables' types (columns as node-postgres reads them: uuid
 * and bigint as text, timestamptz as Date, bytea as Buffer). Functions that take a Transaction
 * must run inside the caller's transaction (a lock, or a change and its event); the others take
 * whichever pool the caller chose. No rule lives here: a missing row is `undefined`, and the caller
 * decides what that means.
 */
import { type Kysely, sql, type Transaction } from "kysely";
import type { PreparedEvent } from "../../platform/events/outbox.ts";
import { keysetPage, type Page } from "../../platform/paging.ts";

export type Kind = "direct" | "group";

export interface ConversationsTable {
  id: string;
  kind: Kind;
  /** The group's creator (handed to the earliest member when the creator leaves); either user of a direct one. */
  creator_id: string;
  direct_low: string | null;
  direct_high: string | null;
  last_seq: string;
  last_message_id: string | null;
  last_activity_at: Date;
  created_at: Date;
}

export interface MembersTable {
  conversation_id: string;
  user_id: string;
  joined_seq: string;
  join_order: string;
  joined_at: Date;
  left_at: Date | null;
  removed_by: string | null;
  last_read_seq: string;
  last_read_message_id: string | null;
  read_at: Date | null;
  activity_seq: string;
}

export interface MessagesTable {
  id: string;
  conversation_id: string;
  seq: string;
  sender_id: string;
  client_message_id: string;
  text: string;
  ciphertext: Buffer | null;
  key_id: string | null;
  created_at: Date;
  /** Uploaded media of a plaintext message (migration 0003). */
  attachments: MessageAttachment[];
  /** Set when its sender's account was erased: a "deleted message" (migration 0004). */
  erased_at: Date | null;
}

/** An uploaded media item of a message: the media service's id and its text alternative. */
export interface MessageAttachment {
  mediaId: string;
  alt: string;
}

export interface PublicKeysTable {
  id: string;
  user_id: string;
  algorithm: string;
  public_key: Buffer;
  created_at: Date;
  retired_at: Date | null;
}

export interface MessagingTables {
  "messaging.conversations": ConversationsTable;
  "messaging.members": MembersTable;
  "messaging.messages": MessagesTable;
  "messaging.public_keys": PublicKeysTable;
}

export type Db = Kysely<MessagingTables> | Transaction<MessagingTables>;
type Trx = Transaction<MessagingTables>;

export type MessageRow = MessagesTable;
export type KeyRow = PublicKeysTable;

const MESSAGE_COLUMNS = sql`msg.id::text AS id, msg.conversation_id::text AS conversation_id, msg.seq::text AS seq,
  msg.sender_id::text AS sender_id, msg.client_message_id, msg.text, msg.ciphertext, msg.key_id::text AS key_id,
  msg.created_at, msg.attachments`;
/** A stored message's columns: send_message's answer (a new message) has no erased_at. */
const STORED_MESSAGE_COLUMNS = sql`${MESSAGE_COLUMNS}, msg.erased_at`;

const KEY_COLUMNS = sql`k.id::text AS id, k.user_id::text AS user_id, k.algorithm, k.public_key, k.created_at, k.retired_at`;

// Conversations and their members

export type ConversationRow = Pick<
  ConversationsTable,
  "id" | "kind" | "creator_id" | "created_at" | "last_activity_at" | "last_message_id"
> & { unread: string };

/**
 * The conversations of `ids` the viewer is a current member of, in the order of `ids`: the last
 * message only when it came after the viewer joined, and the count of others' messages after
 * the viewer's read position.
 */
export async function conversationRows(db: Db, viewer: string, ids: string[]): Promise<ConversationRow[]> {
  const r = await sql<ConversationRow>`SELECT c.id::text AS id, c.kind, c.creator_id::text AS creator_id,
        c.created_at, c.last_activity_at,
        CASE WHEN c.last_seq > m.joined_seq THEN c.last_message_id::text END AS last_message_id,
        (SELECT count(*) FROM messaging.messages x
          WHERE x.conversation_id = c.id AND x.seq > m.last_read_seq AND x.sender_id <> m.user_id) AS unread
      FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS q(id, o)
      JOIN messaging.members m ON m.conversation_id = q.id AND m.user_id = ${viewer}::uuid AND m.left_at IS NULL
      JOIN messaging.conversations c ON c.id = q.id
     ORDER BY q.o`.execute(db);
  return r.rows;
}

export type MemberRow = Pick<MembersTable, "conversation_id" | "user_id" | "last_read_message_id" | "read_at">;

/** The current members of the conversations, in the order they joined. */
export async function currentMembers(db: Db, conversationIds: string[]): Promise<MemberRow[]> {
  const r = await sql<MemberRow>`SELECT conversation_id::text AS conversation_id, user_id::text AS user_id,
        last_read_message_id::text AS last_read_message_id, read_at
      FROM messaging.members WHERE conversation_id = ANY(${conversationIds}::uuid[]) AND left_at IS NULL
     ORDER BY join_order`.execute(db);
  return r.rows;
}

export type LockedConversation = Pick<ConversationsTable, "kind" | "creator_id" | "last_seq"> &
  Pick<MembersTable, "joined_seq">;

/** Locks the conversation row (serialising its changes) when `me` is a current member of it. */
export async function lockConversationOf(trx: Trx, id: string, me: string): Promise<LockedConversation | undefined> {
  const r = await sql<LockedConversation>`SELECT c.kind, c.creator_id::text AS creator_id,
      c.last_seq::text AS last_seq, m.joined_seq::text AS joined_seq
      FROM messaging.conversations c
      JOIN messaging.members m ON m.conversation_id = c.id AND m.user_id = ${me}::uuid AND m.left_at IS NULL
     WHERE c.id = ${id}::uuid FOR UPDATE OF c`.execute(trx);
  return r.rows[0];
}

/**
 * Gives the conversation (and every current member's inbox) a new activity position, and the
 * group a new creator when one is given. Returns the current members.
 */
export async function touch(trx: Trx, id: string, newCreatorId?: string): Promise<string[]> {
  const extra = newCreatorId ? sql`, creator_id = ${newCreatorId}::uuid` : sql``;
  // One statement: the new position, the conversation row, and every current member's position.
  const r = await sql<{ user_id: string }>`WITH next AS (SELECT nextval('messaging.activity_seq') AS act),
      conv AS (UPDATE messaging.conversations SET last_activity_at = now() ${extra} WHERE id = ${id}::uuid)
    UPDATE messaging.members m SET activity_seq = next.act FROM next
     WHERE m.conversation_id = ${id}::uuid AND m.left_at IS NULL RETURNING m.user_id::text AS user_id`.execute(trx);
  return r.rows.map((m) => m.user_id);
}

/** The pair's direct conversation, created; `undefined` when it exists already. */
export async function insertDirect(trx: Trx, creator: string, low: string, high: string): Promise<string | undefined> {
  const r = await sql<{ id: string }>`INSERT INTO messaging.conversations (kind, creator_id, direct_low, direct_high)
      VALUES ('direct', ${creator}::uuid, ${low}::uuid, ${high}::uuid)
      ON CONFLICT (direct_low, direct_high) WHERE kind = 'direct' DO NOTHING RETURNING id::text AS id`.execute(trx);
  return r.rows[0]?.id;
}

export async function directBetween(trx: Trx, low: string, high: string): Promise<string | undefined> {
  const r = await sql<{ id: string }>`SELECT id::text AS id FROM messaging.conversations
      WHERE kind = 'direct' AND direct_low = ${low}::uuid AND direct_high = ${high}::uuid`.execute(trx);
  return r.rows[0]?.id;
}

export async function insertGroup(trx: Trx, creator: string): Promise<string> {
  const r = await sql<{ id: string }>`INSERT INTO messaging.conversations (kind, creator_id)
      VALUES ('group', ${creator}::uuid) RETURNING id::text AS id`.execute(trx);
  return r.rows[0]?.id as string;
}

/** The first members of a new conversation, joining in the order given. */
export async function insertMembers(trx: Trx, conversationId: string, userIds: string[]): Promise<void> {
  await sql`INSERT INTO messaging.members (conversation_id, user_id, joined_seq, last_read_seq, activity_seq)
      SELECT ${conversationId}::uuid, u, 0, 0, 0 FROM unnest(${userIds}::uuid[]) WITH ORDINALITY AS x(u, o)
       ORDER BY o`.execute(trx);
}

export async function isCurrentMember(trx: Trx, conversationId: string, userId: string): Promise<boolean> {
  const r = await sql<{ active: boolean }>`SELECT left_at IS NULL AS active FROM messaging.members
      WHERE conversation_id = ${conversationId}::uuid AND user_id = ${userId}::uuid`.execute(trx);
  return r.rows[0]?.active === true;
}

export async function currentMemberCount(trx: Trx, conversationId: string): Promise<number> {
  const r = await sql<{ n: string }>`SELECT count(*) AS n FROM messaging.members
      WHERE conversation_id = ${conversationId}::uuid AND left_at IS NULL`.execute(trx);
  return Number(r.rows[0]?.n);
}

/** Adds the user (again) at position `seq`: earlier messages are not theirs to read. */
export async function joinAt(trx: Trx, conversationId: string, userId: string, seq: string): Promise<void> {
  await sql`INSERT INTO messaging.members AS m (conversation_id, user_id, joined_seq, last_read_seq, activity_seq)
      VALUES (${conversationId}::uuid, ${userId}::uuid, ${seq}::bigint, ${seq}::bigint, 0)
      ON CONFLICT (conversation_id, user_id) DO UPDATE SET
        joined_seq = EXCLUDED.joined_seq, last_read_seq = EXCLUDED.last_read_seq, last_read_message_id = NULL,
        read_at = NULL, left_at = NULL, removed_by = NULL, joined_at = now(),
        join_order = nextval('messaging.join_seq')`.execute(trx);
}

/** The user leaves (removedBy themself) or is removed. */
export async function markLeft(trx: Trx, conversationId: string, userId: string, removedBy: string): Promise<void> {
  await sql`UPDATE messaging.members SET left_at = now(), removed_by = ${removedBy}::uuid
      WHERE conversation_id = ${conversationId}::uuid AND user_id = ${userId}::uuid`.execute(trx);
}

/** The current member who joined earliest, if any. */
export async function earliestMember(trx: Trx, conversationId: string): Promise<string | undefined> {
  const r = await sql<{ user_id: string }>`SELECT user_id::text AS user_id FROM messaging.members
      WHERE conversation_id = ${conversationId}::uuid AND left_at IS NULL ORDER BY join_order LIMIT 1`.execute(trx);
  return r.rows[0]?.user_id;
}

// Inbox and message pages

export function conversationPage(
  db: Kysely<MessagingTables>,
  userId: string,
  limit: number,
  before: string | undefined,
): Promise<Page<{ conversation_id: string; activity_seq: string }>> {
  return keysetPage(
    db
      .selectFrom("messaging.members as m")
      .select(["m.conversation_id", "m.activity_seq"])
      .where("m.user_id", "=", userId)
      .where("m.left_at", "is", null),
    { key: "m.activity_seq", after: before, limit, position: (c) => c.activity_seq },
  );
}

/** The position the user joined the conversation at, when a current member. */
export async function joinedSeqOf(db: Db, conversationId: string, userId: string): Promise<string | undefined> {
  const r = await sql<{ joined_seq: string }>`SELECT joined_seq::text AS joined_seq FROM messaging.members
      WHERE conversation_id = ${conversationId}::uuid AND user_id = ${userId}::uuid AND left_at IS NULL`.execute(db);
  return r.rows[0]?.joined_seq;
}

/** The conversation's messages after position `joined`, newest first. */
export function messagePage(
  db: Kysely<MessagingTables>,
  conversationId: string,
  joined: string,
  limit: number,
  before: string | undefined,
): Promise<Page<{ id: string; seq: string }>> {
  return keysetPage(
    db
      .selectFrom("messaging.messages as msg")
      .select(["msg.id", "msg.seq"])
      .where("msg.conversation_id", "=", conversationId)
      .where("msg.seq", ">", joined),
    { key: "msg.seq", after: before, limit, position: (x) => x.seq },
  );
}

/** Of `ids`, in their order, the messages the viewer may read (a current member, sent after they joined). */
export async function readableMessages(db: Db, viewer: string, ids: string[]): Promise<MessageRow[]> {
  const r = await sql<MessageRow>`SELECT ${STORED_MESSAGE_COLUMNS}
      FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS q(id, o)
      JOIN messaging.messages msg ON msg.id = q.id
      JOIN messaging.members m ON m.conversation_id = msg.conversation_id AND m.user_id = ${viewer}::uuid
        AND m.left_at IS NULL AND msg.seq > m.joined_seq
     ORDER BY q.o`.execute(db);
  return r.rows;
}

// Sending

/** A conversation's kind for one of its current members, the other member of a direct one, and the
 *  member's earlier message with this client message id (all null when none). */
export type SendTarget = { kind: Kind; other: string | null } & (MessageRow | { [K in keyof MessageRow]: null });

export async function sendTargetOf(
  db: Db,
  conversationId: string,
  sender: string,
  clientMessageId: string,
): Promise<SendTarget | undefined> {
  const r = await sql<SendTarget>`SELECT c.kind, (SELECT o.user_id::text FROM messaging.members o
          WHERE c.kind = 'direct' AND o.conversation_id = c.id AND o.user_id <> ${sender}::uuid) AS other,
        ${STORED_MESSAGE_COLUMNS}
        FROM messaging.conversations c
        JOIN messaging.members m ON m.conversation_id = c.id AND m.user_id = ${sender}::uuid AND m.left_at IS NULL
        LEFT JOIN messaging.messages msg ON msg.conversation_id = c.id AND msg.sender_id = ${sender}::uuid
          AND msg.client_message_id = ${clientMessageId}
       WHERE c.id = ${conversationId}::uuid`.execute(db);
  return r.rows[0];
}

/** True when the key is in the registry and belongs to a current member of the conversation. */
export async function isMemberKey(db: Db, conversationId: string, keyId: string): Promise<boolean> {
  const r = await sql`SELECT 1 FROM messaging.public_keys k
      JOIN messaging.members m ON m.user_id = k.user_id AND m.conversation_id = ${conversationId}::uuid
        AND m.left_at IS NULL WHERE k.id = ${keyId}::uuid`.execute(db);
  return r.rows.length > 0;
}

export interface NewMessage {
  conversationId: string;
  senderId: string;
  clientMessageId: string;
  text: string;
  ciphertext: Buffer | null;
  keyId: string | null;
  attachments: MessageAttachment[];
  messageId: string;
  createdAt: Date;
}

export type SendOutcome = MessageRow & { outcome: "not_member" | "created" | "exists" };

/**
 * The lock, the message, the activity positions and the MessageSent outbox row in one round trip
 * (messaging.send_message, migrations 0002 and 0003), which sets the event's recipientIds.
 */
export async function sendMessageRow(db: Db, m: NewMessage, ev: PreparedEvent): Promise<SendOutcome | undefined> {
  const r = await sql<SendOutcome>`SELECT outcome, ${MESSAGE_COLUMNS}
      FROM messaging.send_message(${m.conversationId}::uuid, ${m.senderId}::uuid, ${m.clientMessageId}, ${m.text},
        ${m.ciphertext}, ${m.keyId}::uuid, ${m.messageId}::uuid, ${m.createdAt}::timestamptz, ${ev.id}::uuid,
        ${ev.topic}, ${JSON.stringify(ev.envelope)}::jsonb, ${JSON.stringify(m.attachments)}::jsonb) AS msg`.execute(
    db,
  );
  return r.rows[0];
}

// Read positions

export type ReadPosition = Pick<MembersTable, "joined_seq" | "last_read_seq"> & {
  last_seq: string;
  last_message_id: string;
};

/** Locks the member's row (when a current member) with the conversation's last message. */
export async function lockReadPosition(
  trx: Trx,
  conversationId: string,
  userId: string,
): Promise<ReadPosition | undefined> {
  const r = await sql<ReadPosition>`SELECT m.joined_seq::text AS joined_seq, m.last_read_seq::text AS last_read_seq,
        c.last_seq::text AS last_seq, c.last_message_id::text AS last_message_id
      FROM messaging.members m JOIN messaging.conversations c ON c.id = m.conversation_id
     WHERE m.conversation_id = ${conversationId}::uuid AND m.user_id = ${userId}::uuid AND m.left_at IS NULL
       FOR UPDATE OF m`.execute(trx);
  return r.rows[0];
}

/** The message's position, when it is in the conversation after position `joined`. */
export async function seqAfter(
  trx: Trx,
  conversationId: string,
  messageId: string,
  joined: string,
): Promise<string | undefined> {
  const r = await sql<{ seq: string }>`SELECT seq::text AS seq FROM messaging.messages
      WHERE id = ${messageId}::uuid AND conversation_id = ${conversationId}::uuid AND seq > ${joined}::bigint`.execute(
    trx,
  );
  return r.rows[0]?.seq;
}

/** Moves the member's read position to the message at `seq`; returns when it was read. */
export async function moveReadPosition(
  trx: Trx,
  conversationId: string,
  userId: string,
  target: { seq: string; id: string },
): Promise<Date> {
  const r = await sql<{ read_at: Date }>`UPDATE messaging.members
      SET last_read_seq = ${target.seq}::bigint, last_read_message_id = ${target.id}::uuid, read_at = now()
      WHERE conversation_id = ${conversationId}::uuid AND user_id = ${userId}::uuid RETURNING read_at`.execute(trx);
  return (r.rows[0] as { read_at: Date }).read_at;
}

// Public keys

/** Serialises key changes of one user (there is no row to lock before their first key). */
export async function lockKeysOf(trx: Trx, userId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`messaging:keys:${userId}`}, 0))`.execute(trx);
}

export async function keyByValue(trx: Trx, userId: string, raw: Buffer): Promise<KeyRow | undefined> {
  const r = await sql<KeyRow>`SELECT ${KEY_COLUMNS} FROM messaging.public_keys k
      WHERE k.user_id = ${userId}::uuid AND k.public_key = ${raw}`.execute(trx);
  return r.rows[0];
}

export async function retireKeys(trx: Trx, userId: string): Promise<void> {
  await sql`UPDATE messaging.public_keys SET retired_at = now()
      WHERE user_id = ${userId}::uuid AND retired_at IS NULL`.execute(trx);
}

export async function insertKey(trx: Trx, userId: string, raw: Buffer): Promise<KeyRow> {
  const r = await sql<KeyRow>`INSERT INTO messaging.public_keys AS k (user_id, algorithm, public_key)
      VALUES (${userId}::uuid, 'x25519', ${raw}) RETURNING ${KEY_COLUMNS}`.execute(trx);
  return r.rows[0] as KeyRow;
}

export async function currentKey(db: Db, userId: string): Promise<KeyRow | undefined> {
  const r = await sql<KeyRow>`SELECT ${KEY_COLUMNS} FROM messaging.public_keys k
      WHERE k.user_id = ${userId}::uuid AND k.retired_at IS NULL`.execute(db);
  return r.rows[0];
}

/** The keys of `ids` that exist, in their order. */
export async function keysById(db: Db, ids: string[]): Promise<KeyRow[]> {
  const r = await sql<KeyRow>`SELECT ${KEY_COLUMNS} FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS q(id, o)
      JOIN messaging.public_keys k ON k.id = q.id ORDER BY q.o`.execute(db);
  return r.rows;
}

// Account erasure (identity's AccountErased)

/**
 * Forgets an erased user: their messages become "deleted message" (content cleared, sender the
 * opaque `marker`), as do others' messages encrypted to their keys (no one can read those now); their
 * keys and memberships go, and where a conversation named them (creator, direct pair, a removal) the
 * marker names them instead. Idempotent: a second run finds nothing of the user.
 */
export async function eraseMember(trx: Trx, userId: string, marker: string): Promise<string[]> {
  const keys = sql`(SELECT id FROM messaging.public_keys WHERE user_id = ${userId}::uuid)`;
  await sql`UPDATE messaging.messages SET text = '', ciphertext = NULL, key_id = NULL, attachments = '[]'::jsonb,
      client_message_id = id::text, erased_at = coalesce(erased_at, now()),
      sender_id = CASE WHEN sender_id = ${userId}::uuid THEN ${marker}::uuid ELSE sender_id END
    WHERE sender_id = ${userId}::uuid OR key_id IN ${keys}`.execute(trx);
  await sql`DELETE FROM messaging.public_keys WHERE user_id = ${userId}::uuid`.execute(trx);
  const convs = await sql<{ id: string }>`DELETE FROM messaging.members WHERE user_id = ${userId}::uuid
    RETURNING conversation_id::text AS id`.execute(trx);
  await sql`UPDATE messaging.members SET removed_by = ${marker}::uuid WHERE removed_by = ${userId}::uuid`.execute(trx);
  await sql`UPDATE messaging.conversations SET creator_id = ${marker}::uuid WHERE creator_id = ${userId}::uuid`.execute(
    trx,
  );
  await sql`UPDATE messaging.conversations SET
      direct_low = LEAST(${marker}::uuid, CASE WHEN direct_low = ${userId}::uuid THEN direct_high ELSE direct_low END),
      direct_high = GREATEST(${marker}::uuid, CASE WHEN direct_low = ${userId}::uuid THEN direct_high ELSE direct_low END)
    WHERE direct_low = ${userId}::uuid OR direct_high = ${userId}::uuid`.execute(trx);
  return convs.rows.map((r) => r.id);
}
