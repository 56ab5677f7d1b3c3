/**
 * GraphQL resolvers of the messaging service: conversations and messages are
 * skeletons (ids + cursors) from the service, hydrated through the
 * per-request DataLoaders (GetConversations, GetMessages, BatchGetUsers), so
 * a page costs a constant number of backend calls (ARCHITECTURE §6).
 * `Message` is also what the real-time `messageReceived` subscription returns
 * (presented from the push itself, realtime/resolvers.ts).
 */
import type { IResolvers } from "mercurius";
import type {
  Conversation as ConversationMsg,
  Message as MessageMsg,
} from "../../gen/nova/messaging/v1/messaging_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import { uuid } from "../../platform/validate.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import {
  call,
  keepAll,
  listField,
  loadAll,
  loadUserViews,
  orNull,
  type Page,
  pageArgs,
  type Skeleton,
  userView,
} from "../views.ts";
import {
  type ConversationView,
  conversationView,
  keyView,
  type MessageView,
  messageView,
  type PublicKeyView,
} from "./views.ts";

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

/** Skeleton: one page of the viewer's conversations (ids and cursors). */
async function conversationsSkeleton(ctx: GatewayContext, args: Page): Promise<Skeleton> {
  requireViewer(ctx);
  const res = await call(ctx, () => ctx.deps.messaging.listConversations(pageArgs(args, 50)));
  return { items: res.conversationIds, cursors: res.cursors, next: res.nextCursor };
}

/** Skeleton: one page of a conversation's messages (ids and cursors). */
async function messagesSkeleton(ctx: GatewayContext, args: Page, c: ConversationView): Promise<Skeleton> {
  const res = await call(ctx, () => ctx.deps.messaging.listMessages({ conversationId: c.id, ...pageArgs(args, 100) }));
  return { items: res.messageIds, cursors: res.cursors, next: res.nextCursor };
}

// Hydrate in one batch each (GetConversations, GetMessages); messaging answers only what the viewer may read,
// so there is no rule of the gateway's.
const conversations = listField({
  skeleton: conversationsSkeleton,
  hydrate: (ctx, page) => loadAll(ctx, ctx.loaders.conversations, page.items),
  rules: keepAll,
  present: (found: (ConversationMsg | undefined)[]) => found.map((c) => conversationView(c)),
});

const messages = listField({
  skeleton: messagesSkeleton,
  hydrate: (ctx, page) => loadAll(ctx, ctx.loaders.messages, page.items),
  rules: keepAll,
  present: (found: (MessageMsg | undefined)[]) => found.map((m) => messageView(m)),
});

const loadUser = async (ctx: GatewayContext, id: string) => userView(await call(ctx, () => ctx.loaders.users.load(id)));

export const messagingResolvers = {
  Query: {
    conversations,
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
        attachments?: { mediaId: string; alt?: string | null }[] | null;
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
          attachments: (args.attachments ?? []).map((a) => ({ mediaId: a.mediaId, alt: a.alt ?? "" })),
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
    members: (c: ConversationView, _args: unknown, ctx: GatewayContext) => loadUserViews(ctx, c.memberIds),
    creator: (c: ConversationView, _args: unknown, ctx: GatewayContext) => loadUser(ctx, c.creatorId),
    lastMessage: async (c: ConversationView, _args: unknown, ctx: GatewayContext) =>
      c.lastMessageId ? messageView(await call(ctx, () => ctx.loaders.messages.load(c.lastMessageId as string))) : null,
    messages,
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
