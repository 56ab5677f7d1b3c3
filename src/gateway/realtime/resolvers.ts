/**
 * The Subscription fields. Each one listens on bus channels (services/realtime/channels.ts) and
 * presents a push through the same loaders and rules as the matching read, so
 * a subscriber never sees what a query would hide from them.
 */
import type { GraphQLSchema } from "graphql";
import { NovaError } from "../../platform/errors.ts";
import { authorChannel, userChannel } from "../../services/realtime/channels.ts";
import { requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import { hydrateNotifications } from "../notifications/resolvers.ts";
import { hydratePostViews } from "../views.ts";
import { pushStream, type RealtimeContext } from "./subscriptions.ts";

/** The accounts a feed subscription listens to: the newest follows first, up to the limit. */
async function followingOf(ctx: RealtimeContext, viewer: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "";
  const max = ctx.realtime.limits.feedMaxFollowing;
  while (out.length < max) {
    const res = await ctx.call(() =>
      ctx.deps.graph.listFollowing({ userId: viewer, cursor, limit: Math.min(100, max - out.length) }),
    );
    out.push(...res.userIds);
    if (!res.nextCursor || res.userIds.length === 0) break;
    cursor = res.nextCursor;
  }
  return out;
}

type SubscriptionField = {
  subscribe(root: unknown, args: Record<string, unknown>, ctx: RealtimeContext): Promise<AsyncIterable<unknown>>;
};

export const subscriptionResolvers: Record<string, SubscriptionField> = {
  // Presented from the push itself: the members it reaches were fixed when the message committed
  // (MessageSent.recipientIds), so there is nothing to load but the sender (through the users loader).
  messageReceived: {
    async subscribe(_root, args, ctx) {
      const viewer = requireViewer(ctx).userId;
      const only = typeof args.conversationId === "string" ? args.conversationId : undefined;
      return pushStream(ctx, [userChannel(viewer)], async (push) =>
        push.kind === "message" && (!only || push.conversationId === only)
          ? {
              id: push.messageId,
              conversationId: push.conversationId,
              senderId: push.senderId,
              text: push.text,
              encrypted: push.encrypted,
              ciphertext: push.encrypted ? push.ciphertext : null,
              keyId: push.keyId || null,
              clientMessageId: push.clientMessageId,
              createdAt: push.createdAt,
              attachments: push.attachments ?? [],
              // A pushed message was just sent: its sender exists.
              deleted: false,
            }
          : undefined,
      );
    },
  },
  // Hydrated like the notifications list (GetNotifications reads the primary, so a just-committed one is found).
  notificationReceived: {
    async subscribe(_root, _args, ctx) {
      const viewer = requireViewer(ctx).userId;
      return pushStream(ctx, [userChannel(viewer)], async (push) =>
        push.kind === "notification"
          ? ((await hydrateNotifications(ctx, [push.notificationId]))[0] ?? undefined)
          : undefined,
      );
    },
  },
  feedUpdated: {
    async subscribe(_root, _args, ctx) {
      const viewer = requireViewer(ctx).userId;
      let following: string[];
      try {
        following = await followingOf(ctx, viewer);
      } catch (err) {
        throw toGraphQLError(err);
      }
      return pushStream(
        ctx,
        [userChannel(viewer), authorChannel(viewer), ...following.map(authorChannel)],
        async (push) =>
          push.kind === "post" ? ((await hydratePostViews(ctx, [push.postId]))[0] ?? undefined) : undefined,
        // Follows made after subscribing take effect at once.
        (push, stream) => {
          if (push.kind !== "follow") return;
          if (push.following) stream.add(authorChannel(push.targetId));
          else stream.remove(authorChannel(push.targetId));
        },
      );
    },
  },
};

/**
 * Installs the Subscription fields on the executable schema (Mercurius's own
 * subscription transport is not used: graphql-ws serves them, see subscriptions.ts).
 * Each yielded value is the field's value.
 */
export function installSubscriptions(schema: GraphQLSchema): void {
  const type = schema.getSubscriptionType();
  if (!type) return;
  const fields = type.getFields();
  for (const [name, field] of Object.entries(fields)) {
    const r = subscriptionResolvers[name];
    if (!r) throw new Error(`Subscription.${name} has no resolver`);
    field.subscribe = r.subscribe as never;
    field.resolve = (value: unknown) => value;
  }
  for (const name of Object.keys(subscriptionResolvers)) {
    if (!fields[name]) throw new NovaError("INTERNAL", `resolver for unknown field Subscription.${name}`);
  }
}
