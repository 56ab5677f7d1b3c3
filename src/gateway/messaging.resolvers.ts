/**
 * GraphQL resolvers of the messaging service: conversations and messages are
 * skeletons (ids + cursors) from the service, hydrated through the
 * per-request DataLoaders (GetConversations, GetMessages, BatchGetUsers), so
 * a page costs a constant number of backend calls (ARCHITECTURE §6).
 * `Message` is also what the real-time `messageReceived` subscription returns
 * (hydrated through the same `messages` loader, i.e. GetMessages as the
 * subscriber).
 */
import type { IResolvers } from "mercurius";
import {
  ConversationKind,
  type Conversation as ConversationMsg,
  type Message as MessageMsg,
  type PublicKey as PublicKeyMsg,
} from "../gen/nova/messaging/v1/messaging_pb.ts";
import { NovaError } from "../platform/errors.ts";
import { uuid } from "../platform/validate.ts";
import { type GatewayContext, requireViewer } from "./context.ts";
import { toGraphQLError } from "./errors.ts";
import { call, connection, loadAll, type Page, pageArgs, userView } from "./views.ts";

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
}

interface PublicKeyView {
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
  };
}

function keyView(k: PublicKeyMsg | undefined): PublicKeyView | null {
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

/** NOT_FOUND from the service as null (the field is nullable), other errors as coded errors. */
async function orNull<T>(ctx: GatewayContext, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await ctx.call(fn);
  } catch (err) {
    const e = toGraphQLError(err) as Error & { extensions?: { code?: string } };
    if (e.extensions?.code === "NOT_FOUND") return null;
    throw e;
  }
}

function idArg(value: string, field: string): string {
  try {
    return uuid(field, value);
  } catch (err) {
    throw toGraphQLError(err);
  }
}

/** Answers a write with the conversation the service returned (read on the primary in the write's transaction). */
function primed(ctx: GatewayContext, c: ConversationMsg | undefined): ConversationView {
  const view = conversationView(c);
  if (!c || !view) throw toGraphQLError(new NovaError("NOT_FOUND", "conversation not found"));
  ctx.loaders.conversations.clear(c.id).prime(c.id, c);
  return view;
}

const loadUser = async (ctx: GatewayContext, id: string) => userView(await call(ctx, () => ctx.loaders.users.load(id)));

export const messagingResolvers = {
  Query: {
    conversations: async (_root: unknown, args: Page, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.messaging.listConversations(pageArgs(args, 50)));
      const found = await loadAll(ctx, ctx.loaders.conversations, res.conversationIds);
      return connection(
        found.map((c) => conversationView(c)),
        res.cursors,
        res.nextCursor,
      );
    },
    conversation: async (_root: unknown, args: { id: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const id = idArg(args.id, "id");
      return conversationView(await call(ctx, () => ctx.loaders.conversations.load(id)));
    },
    publicKey: async (_root: unknown, args: { userId: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await orNull(ctx, () => ctx.deps.messaging.getPublicKey({ userId: args.userId }));
      return keyView(res?.key);
    },
    publicKeyById: async (_root: unknown, args: { keyId: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const keyId = idArg(args.keyId, "keyId");
      const res = await call(ctx, () => ctx.deps.messaging.getPublicKeys({ keyIds: [keyId] }));
      return keyView(res.keys[0]);
    },
  },
  Mutation: {
    createConversation: async (
      _root: unknown,
      args: { memberIds: string[]; group?: boolean | null },
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.messaging.createConversation({ memberIds: args.memberIds, group: args.group ?? false }),
      );
      return primed(ctx, res.conversation);
    },
    sendMessage: async (
      _root: unknown,
      args: {
        conversationId: string;
        text: string;
        clientMessageId: string;
        ciphertext?: string | null;
        keyId?: string | null;
      },
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      let ciphertext = new Uint8Array();
      if (args.ciphertext != null) {
        const b64 = args.ciphertext.trim();
        if (b64 === "" || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
          throw toGraphQLError(
            new NovaError("VALIDATION_FAILED", "ciphertext: must be standard base64", { field: "ciphertext" }),
          );
        }
        ciphertext = new Uint8Array(Buffer.from(b64, "base64"));
      }
      const res = await call(ctx, () =>
        ctx.deps.messaging.sendMessage({
          conversationId: args.conversationId,
          text: args.text,
          clientMessageId: args.clientMessageId,
          ciphertext,
          keyId: args.keyId ?? "",
        }),
      );
      if (res.message) ctx.loaders.messages.clear(res.message.id).prime(res.message.id, res.message);
      return messageView(res.message);
    },
    markConversationRead: async (
      _root: unknown,
      args: { conversationId: string; messageId?: string | null },
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.messaging.markRead({ conversationId: args.conversationId, messageId: args.messageId ?? "" }),
      );
      return primed(ctx, res.conversation);
    },
    addMember: async (_root: unknown, args: { conversationId: string; userId: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.messaging.addMember(args));
      return primed(ctx, res.conversation);
    },
    removeMember: async (_root: unknown, args: { conversationId: string; userId: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.messaging.removeMember(args));
      return primed(ctx, res.conversation);
    },
    leaveConversation: async (_root: unknown, args: { conversationId: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      await call(ctx, () => ctx.deps.messaging.leaveConversation(args));
      return true;
    },
    uploadPublicKey: async (_root: unknown, args: { publicKey: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.messaging.uploadPublicKey(args));
      return keyView(res.key);
    },
  },
  Conversation: {
    members: async (c: ConversationView, _args: unknown, ctx: GatewayContext) => {
      const users = await loadAll(ctx, ctx.loaders.users, c.memberIds);
      return users.flatMap((u) => {
        const v = userView(u);
        return v ? [v] : [];
      });
    },
    creator: (c: ConversationView, _args: unknown, ctx: GatewayContext) => loadUser(ctx, c.creatorId),
    lastMessage: async (c: ConversationView, _args: unknown, ctx: GatewayContext) =>
      c.lastMessageId ? messageView(await call(ctx, () => ctx.loaders.messages.load(c.lastMessageId as string))) : null,
    messages: async (c: ConversationView, args: Page, ctx: GatewayContext) => {
      const res = await call(ctx, () =>
        ctx.deps.messaging.listMessages({ conversationId: c.id, ...pageArgs(args, 100) }),
      );
      const found = await loadAll(ctx, ctx.loaders.messages, res.messageIds);
      return connection(
        found.map((m) => messageView(m)),
        res.cursors,
        res.nextCursor,
      );
    },
  },
  ReadReceipt: {
    user: (r: { userId: string }, _args: unknown, ctx: GatewayContext) => loadUser(ctx, r.userId),
  },
  Message: {
    sender: (m: MessageView, _args: unknown, ctx: GatewayContext) => loadUser(ctx, m.senderId),
  },
  PublicKey: {
    user: (k: PublicKeyView, _args: unknown, ctx: GatewayContext) => loadUser(ctx, k.userId),
  },
} satisfies IResolvers;
