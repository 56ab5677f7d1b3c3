/** The messaging domain's presenters (also what the `messageReceived` subscription's values look like). */
import {
  ConversationKind,
  type Conversation as ConversationMsg,
  type Message as MessageMsg,
  type PublicKey as PublicKeyMsg,
} from "../../gen/nova/messaging/v1/messaging_pb.ts";

export interface ConversationView {
  id: string;
  kind: "DIRECT" | "GROUP";
  creatorId: string;
  memberIds: string[];
  lastMessageId: string | null;
  unreadCount: number;
  createdAt: string;
  lastActivityAt: string;
  readReceipts: { userId: string; lastReadMessageId: string | null; readAt: string | null }[];
}

export interface MessageView {
  id: string;
  conversationId: string;
  senderId: string;
  text: string;
  encrypted: boolean;
  ciphertext: string | null;
  keyId: string | null;
  clientMessageId: string;
  createdAt: string;
  /** Uploaded media (Message.media hydrates them). */
  attachments: { mediaId: string; alt: string }[];
  /** The sender's account was erased. */
  deleted: boolean;
}

export interface PublicKeyView {
  id: string;
  userId: string;
  algorithm: string;
  publicKey: string;
  createdAt: string;
  current: boolean;
}

export function conversationView(c: ConversationMsg | undefined): ConversationView | null {
  if (!c) return null;
  return {
    id: c.id,
    kind: c.kind === ConversationKind.DIRECT ? "DIRECT" : "GROUP",
    creatorId: c.creatorId,
    memberIds: c.memberIds,
    lastMessageId: c.lastMessageId || null,
    unreadCount: c.unreadCount,
    createdAt: c.createdAt,
    lastActivityAt: c.lastActivityAt,
    readReceipts: c.readReceipts.map((r) => ({
      userId: r.userId,
      lastReadMessageId: r.lastReadMessageId || null,
      readAt: r.readAt || null,
    })),
  };
}

export function messageView(m: MessageMsg | undefined): MessageView | null {
  if (!m) return null;
  return {
    id: m.id,
    conversationId: m.conversationId,
    senderId: m.senderId,
    text: m.text,
    encrypted: m.encrypted,
    ciphertext: m.encrypted ? Buffer.from(m.ciphertext).toString("base64") : null,
    keyId: m.keyId || null,
    clientMessageId: m.clientMessageId,
    createdAt: m.createdAt,
    attachments: m.attachments.map((a) => ({ mediaId: a.mediaId, alt: a.alt })),
    deleted: m.deleted,
  };
}

export function keyView(k: PublicKeyMsg | undefined): PublicKeyView | null {
  if (!k) return null;
  return {
    id: k.keyId,
    userId: k.userId,
    algorithm: k.algorithm,
    publicKey: k.publicKey,
    createdAt: k.createdAt,
    current: k.current,
  };
}
