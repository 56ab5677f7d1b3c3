/**
 * The notifications part of the gateway: the inbox as a Relay connection
 * (skeleton from ListNotifications -> hydrate through DataLoaders -> rules ->
 * present, ARCHITECTURE §6), the unread count, mark read, preferences and
 * push tokens. `hydrateNotifications` is also what a subscription resolver
 * uses to present a NotificationCreated event for the viewer.
 */
import type { IResolvers } from "mercurius";
import type { Post as PostMsg } from "../gen/nova/content/v1/content_pb.ts";
import type { User } from "../gen/nova/identity/v1/identity_pb.ts";
import type { Notification as NotificationMsg } from "../gen/nova/notifications/v1/notifications_pb.ts";
import { NovaError } from "../platform/errors.ts";
import { type GatewayContext, requireViewer } from "./context.ts";
import { toGraphQLError } from "./errors.ts";
import { connection, loadAll, pageArgs } from "./views.ts";

/** The presenters of resolvers.ts (passed in, so this file does not import it back). */
export interface Presenters {
  user(u: User | undefined): { id: string } | null;
  post(p: PostMsg | undefined): { id: string } | null;
}

export interface NotificationView {
  id: string;
  type: string;
  actorIds: string[];
  actorCount: number;
  postId: string | null;
  conversationId: string | null;
  read: boolean;
  createdAt: string;
  updatedAt: string;
}

const POST_TYPES = new Set(["LIKE", "COMMENT", "MENTION"]);

async function call<T>(ctx: GatewayContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await ctx.call(fn);
  } catch (err) {
    throw toGraphQLError(err);
  }
}

const bad = (field: string, problem: string) =>
  toGraphQLError(new NovaError("VALIDATION_FAILED", `${field}: ${problem}`, { field }));

/**
 * Hydrates notification ids for the viewer: the notifications in one batch,
 * their posts and the viewer's relationships to their actors in one batch
 * each; the rules drop a notification whose post is gone or hidden and the
 * actors the viewer blocks, is blocked by or mutes (a notification left
 * without a visible actor is dropped). Returns one entry per id (null: dropped).
 */
export async function hydrateNotifications(ctx: GatewayContext, ids: string[]): Promise<(NotificationView | null)[]> {
  const found = await loadAll(ctx, ctx.loaders.notifications, ids);
  const postIds = [...new Set(found.flatMap((n) => (n && POST_TYPES.has(n.type) && n.postId ? [n.postId] : [])))];
  const actorIds = [...new Set(found.flatMap((n) => n?.actorIds ?? []))];
  const [posts, rels] = await Promise.all([
    loadAll(ctx, ctx.loaders.posts, postIds),
    loadAll(ctx, ctx.loaders.relationships, actorIds),
  ]);
  const livePosts = new Set(postIds.filter((_, i) => posts[i]));
  const hidden = new Set(rels.flatMap((r) => (r && (r.blocking || r.blockedBy || r.muting) ? [r.userId] : [])));
  return found.map((n: NotificationMsg | undefined) => {
    if (!n) return null;
    if (POST_TYPES.has(n.type) && !livePosts.has(n.postId)) return null;
    const visible = n.actorIds.filter((a) => !hidden.has(a));
    if (visible.length === 0) return null;
    return {
      id: n.id,
      type: n.type,
      actorIds: visible,
      actorCount: Math.max(visible.length, n.actorCount - (n.actorIds.length - visible.length)),
      postId: n.postId || null,
      conversationId: n.type === "MESSAGE" ? n.subjectId : null,
      read: n.read,
      createdAt: n.createdAt,
      updatedAt: n.updatedAt,
    };
  });
}

type Prefs = {
  follow?: boolean | null;
  like?: boolean | null;
  comment?: boolean | null;
  mention?: boolean | null;
  message?: boolean | null;
};

function prefsOf(
  p: { follow: boolean; like: boolean; comment: boolean; mention: boolean; message: boolean } | undefined,
) {
  return {
    follow: p?.follow ?? true,
    like: p?.like ?? true,
    comment: p?.comment ?? true,
    mention: p?.mention ?? true,
    message: p?.message ?? true,
  };
}

export function notificationResolvers(present: Presenters) {
  return {
    Notification: {
      actors: async (n: NotificationView, _args: unknown, ctx: GatewayContext) => {
        const users = await loadAll(ctx, ctx.loaders.users, n.actorIds);
        return users.flatMap((u) => {
          const v = present.user(u);
          return v ? [v] : [];
        });
      },
      post: async (n: NotificationView, _args: unknown, ctx: GatewayContext) =>
        n.postId ? present.post(await call(ctx, () => ctx.loaders.posts.load(n.postId as string))) : null,
    },
    Query: {
      notifications: async (
        _root: unknown,
        args: { first?: number | null; after?: string | null },
        ctx: GatewayContext,
      ) => {
        requireViewer(ctx);
        const page = pageArgs(args);
        const res = await call(ctx, () => ctx.deps.notifications.listNotifications(page));
        return connection(await hydrateNotifications(ctx, res.notificationIds), res.cursors, res.nextCursor);
      },
      unreadNotificationCount: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
        requireViewer(ctx);
        return (await call(ctx, () => ctx.deps.notifications.getUnreadCount({}))).unreadCount;
      },
      notificationPreferences: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
        requireViewer(ctx);
        return prefsOf((await call(ctx, () => ctx.deps.notifications.getPreferences({}))).preferences);
      },
    },
    Mutation: {
      markNotificationsRead: async (
        _root: unknown,
        args: { ids?: string[] | null; all?: boolean | null },
        ctx: GatewayContext,
      ) => {
        requireViewer(ctx);
        const ids = args.ids ?? [];
        if (args.all === true) {
          if (ids.length > 0) throw bad("ids", "must be left out with all: true");
          return (await call(ctx, () => ctx.deps.notifications.markAllRead({}))).unreadCount;
        }
        if (ids.length === 0) throw bad("ids", "give at least one id, or all: true");
        const res = await call(ctx, () => ctx.deps.notifications.markRead({ notificationIds: ids }));
        for (const id of ids) ctx.loaders.notifications.clear(id);
        return res.unreadCount;
      },
      updateNotificationPreferences: async (_root: unknown, { input }: { input: Prefs }, ctx: GatewayContext) => {
        requireViewer(ctx);
        const res = await call(ctx, () =>
          ctx.deps.notifications.updatePreferences({
            follow: input.follow ?? undefined,
            like: input.like ?? undefined,
            comment: input.comment ?? undefined,
            mention: input.mention ?? undefined,
            message: input.message ?? undefined,
          }),
        );
        return prefsOf(res.preferences);
      },
      registerPushToken: async (
        _root: unknown,
        { input }: { input: { platform: string; token: string; deviceId: string } },
        ctx: GatewayContext,
      ) => {
        requireViewer(ctx);
        const res = await call(ctx, () => ctx.deps.notifications.registerPushToken(input));
        return res.device;
      },
      unregisterPushToken: async (_root: unknown, args: { deviceId: string }, ctx: GatewayContext) => {
        requireViewer(ctx);
        return (await call(ctx, () => ctx.deps.notifications.unregisterPushToken({ deviceId: args.deviceId }))).removed;
      },
    },
  } satisfies IResolvers;
}
