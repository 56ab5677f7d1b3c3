/** The messages the service answers with, built from its rows. */
import { create } from "@bufbuild/protobuf";
import {
  type Conversation,
  ConversationKind,
  ConversationSchema,
  type Message,
  MessageSchema,
  type PublicKey,
  PublicKeySchema,
  ReadReceiptSchema,
} from "../../gen/nova/messaging/v1/messaging_pb.ts";
import {
  type ConversationRow,
  conversationRows,
  currentMembers,
  type Db,
  type KeyRow,
  type MemberRow,
  type MessageRow,
} from "./queries.ts";
import { notFound } from "./rules.ts";

export function toMessage(r: MessageRow): Message {
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
    attachments: r.attachments ?? [],
    deleted: r.erased_at != null,
  });
}

export function toKey(r: KeyRow): PublicKey {
  return create(PublicKeySchema, {
    keyId: r.id,
    userId: r.user_id,
    algorithm: r.algorithm,
    publicKey: r.public_key.toString("base64"),
    createdAt: r.created_at.toISOString(),
    current: r.retired_at === null,
  });
}

function toConversation(c: ConversationRow, members: MemberRow[]): Conversation {
  return create(ConversationSchema, {
    id: c.id,
    kind: c.kind === "direct" ? ConversationKind.DIRECT : ConversationKind.GROUP,
    creatorId: c.creator_id,
    memberIds: members.map((m) => m.user_id),
    lastMessageId: c.last_message_id ?? "",
    unreadCount: Number(c.unread),
    createdAt: c.created_at.toISOString(),
    lastActivityAt: c.last_activity_at.toISOString(),
    readReceipts: members.map((m) =>
      create(ReadReceiptSchema, {
        userId: m.user_id,
        lastReadMessageId: m.last_read_message_id ?? "",
        readAt: m.read_at?.toISOString() ?? "",
      }),
    ),
  });
}

/**
 * The viewer's view of conversations they are a current member of, in the
 * order of `ids` (others left out): members, last message, unread count and
 * every member's read receipt.
 */
export async function conversationViews(db: Db, viewer: string, ids: string[]): Promise<Conversation[]> {
  if (ids.length === 0) return [];
  const rows = await conversationRows(db, viewer, ids);
  if (rows.length === 0) return [];
  const members = await currentMembers(db, [...new Set(rows.map((c) => c.id))]);
  const byConversation = new Map<string, MemberRow[]>();
  for (const m of members) {
    const list = byConversation.get(m.conversation_id) ?? [];
    list.push(m);
    byConversation.set(m.conversation_id, list);
  }
  return rows.map((c) => toConversation(c, byConversation.get(c.id) ?? []));
}

/** One conversation as its member sees it; NOT_FOUND for anyone else. */
export async function viewOf(db: Db, viewer: string, id: string): Promise<Conversation> {
  const [c] = await conversationViews(db, viewer, [id]);
  if (!c) throw notFound();
  return c;
}
