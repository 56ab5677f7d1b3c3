/**
 * The notifications part of the gateway: the inbox as a Relay connection
 * (skeleton from ListNotifications -> hydrate through DataLoaders -> rules ->
 * present, ARCHITECTURE §6), the unread count, mark read, preferences and
 * push tokens. `hydrateNotifications` is also what a subscription resolver
 * uses to present a NotificationCreated event for the viewer.
 */
import type { IResolvers } from "mercurius";
import type { Comment as CommentMsg } from "../../gen/nova/content/v1/content_pb.ts";
import type { Relationship } from "../../gen/nova/graph/v1/graph_pb.ts";
import type { Action } from "../../gen/nova/moderation/v1/moderation_pb.ts";
import type { Notification as NotificationMsg, Preferences } from "../../gen/nova/notifications/v1/notifications_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import { type CommentView, commentView } from "../content/views.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import { actionView } from "../moderation/resolvers.ts";
import {
  call,
  hiddenBy,
  listField,
  loadAll,
  loadUserViews,
  type Page,
  pageArgs,
  postView,
  privateUsers,
  type Skeleton,
  viewerMutedText,
} from "../views.ts";

export interface NotificationView {
  id: string;
  type: string;
  actorIds: string[];
  actorCount: number;
  postId: string | null;
  /** REPLY, COMMENT_LIKE and a MENTION in a comment: the comment (the notification's subject). */
  comment: CommentView | null;
  /** MODERATION: the action on the viewer's account or content (no moderator named). */
  moderationAction: ReturnType<typeof actionView> | null;
  conversationId: string | null;
  read: boolean;
  createdAt: string;
  updatedAt: string;
}

const POST_TYPES = new Set(["LIKE", "COMMENT", "MENTION", "REPLY", "COMMENT_LIKE"]);
/** Told by moderation, whose notices name no person: no actors to show or hide. */
const MODERATION_TYPES = new Set(["MODERATION", "REPORT_ACTIONED", "REPORT_DISMISSED"]);

/** The comment a notification is about, when its subject is one rather than the post. */
const commentOf = (n: NotificationMsg): string | null =>
  POST_TYPES.has(n.type) && n.postId !== "" && n.subjectId !== n.postId ? n.subjectId : null;

const bad = (field: string, problem: string) =>
  toGraphQLError(new NovaError("VALIDATION_FAILED", `${field}: ${problem}`, { field }));

/** Skeleton: one page of the viewer's inbox (notification ids and cursors). */
async function inboxSkeleton(ctx: GatewayContext, args: Page): Promise<Skeleton> {
  requireViewer(ctx);
  const page = pageArgs(args);
  const res = await call(ctx, () => ctx.deps.notifications.listNotifications(page));
  return { items: res.notificationIds, cursors: res.cursors, next: res.nextCursor };
}

interface HydratedNotifications {
  notifications: (NotificationMsg | undefined)[];
  /** The posts of post notifications still there and shown (content drops deleted ones; muted words hide). */
  livePosts: Set<string>;
  /** The comments of comment notifications still there, by id. */
  liveComments: Map<string, CommentMsg>;
  /** The actions of MODERATION notifications, by id. */
  actions: Map<string, Action>;
  /** The viewer's relationships to the notifications' actors. */
  relationships: (Relationship | undefined)[];
}

/**
 * Hydrate: the notifications in one batch, then their posts and the viewer's
 * relationships to their actors in one batch each.
 */
async function hydrateInbox(ctx: GatewayContext, ids: string[]): Promise<HydratedNotifications> {
  const notifications = await loadAll(ctx, ctx.loaders.notifications, ids);
  const postIds = [
    ...new Set(notifications.flatMap((n) => (n && POST_TYPES.has(n.type) && n.postId ? [n.postId] : []))),
  ];
  const people = notifications.filter((n) => n && !MODERATION_TYPES.has(n.type));
  const actorIds = [...new Set(people.flatMap((n) => n?.actorIds ?? []))];
  const commentIds = [...new Set(notifications.flatMap((n) => (n && commentOf(n)) || []))];
  const actionIds = [...new Set(notifications.flatMap((n) => (n?.type === "MODERATION" ? [n.subjectId] : [])))];
  const [posts, relationships, muted, comments, actions] = await Promise.all([
    loadAll(ctx, ctx.loaders.posts, postIds),
    loadAll(ctx, ctx.loaders.relationships, actorIds),
    viewerMutedText(ctx),
    commentIds.length === 0
      ? []
      : call(ctx, () => ctx.deps.content.getComments({ commentIds })).then((r) => r.comments),
    actionIds.length === 0
      ? []
      : call(ctx, () => ctx.deps.moderation.getOwnActions({ actionIds })).then((r) => r.actions),
  ]);
  // A post carrying a word the viewer muted counts as hidden: its notifications go too; so does a post
  // of a private account the viewer does not follow (a mention by it, say).
  const { closed } = await privateUsers(
    ctx,
    posts.flatMap((p) => (p ? [p.authorId] : [])),
  );
  const shown = (p: (typeof posts)[number]) => p !== undefined && !muted?.(p.text) && !closed.has(p.authorId);
  return {
    notifications,
    livePosts: new Set(postIds.filter((_, i) => shown(posts[i]))),
    liveComments: new Map(comments.map((c) => [c.id, c])),
    actions: new Map(actions.map((a) => [a.id, a])),
    relationships,
  };
}

type Kept = {
  n: NotificationMsg;
  visible: string[];
  comment: CommentMsg | undefined;
  action: Action | undefined;
} | null;

/**
 * Rules: a notification whose post (or comment) is gone or hidden is dropped; so are the
 * actors the viewer blocks, is blocked by or mutes, and a notification left
 * without a visible actor.
 */
function inboxRules({ notifications, livePosts, liveComments, actions, relationships }: HydratedNotifications): Kept[] {
  const hidden = hiddenBy(relationships);
  return notifications.map((n) => {
    if (!n) return null;
    if (MODERATION_TYPES.has(n.type)) {
      const action = n.type === "MODERATION" ? actions.get(n.subjectId) : undefined;
      return n.type === "MODERATION" && !action ? null : { n, visible: [], comment: undefined, action };
    }
    if (POST_TYPES.has(n.type) && !livePosts.has(n.postId)) return null;
    const commentId = commentOf(n);
    const comment = commentId ? liveComments.get(commentId) : undefined;
    if (commentId && !comment) return null;
    const visible = n.actorIds.filter((a) => !hidden.has(a));
    return visible.length === 0 ? null : { n, visible, comment, action: undefined };
  });
}

/** Present: the actor count leaves out the hidden actors too. */
function presentInbox(kept: Kept[]): (NotificationView | null)[] {
  return kept.map((k) => {
    if (!k) return null;
    const { n, visible, comment, action } = k;
    return {
      id: n.id,
      type: n.type,
      actorIds: visible,
      actorCount: Math.max(visible.length, n.actorCount - (n.actorIds.length - visible.length)),
      postId: n.postId || null,
      comment: commentView(comment),
      moderationAction: action ? actionView(action) : null,
      conversationId: n.type === "MESSAGE" ? n.subjectId : null,
      read: n.read,
      createdAt: n.createdAt,
      updatedAt: n.updatedAt,
    };
  });
}

/** Notification ids for the viewer through hydrate, rules and present: one entry per id (null: dropped). */
export async function hydrateNotifications(ctx: GatewayContext, ids: string[]): Promise<(NotificationView | null)[]> {
  return presentInbox(inboxRules(await hydrateInbox(ctx, ids)));
}

const inbox = listField({
  skeleton: inboxSkeleton,
  hydrate: (ctx, page) => hydrateInbox(ctx, page.items),
  rules: inboxRules,
  present: presentInbox,
});

type Prefs = {
  follow?: boolean | null;
  like?: boolean | null;
  comment?: boolean | null;
  mention?: boolean | null;
  message?: boolean | null;
  reply?: boolean | null;
  commentLike?: boolean | null;
  followRequest?: boolean | null;
  followRequestApproved?: boolean | null;
};

function prefsOf(p: Preferences | undefined) {
  return {
    follow: p?.follow ?? true,
    like: p?.like ?? true,
    comment: p?.comment ?? true,
    mention: p?.mention ?? true,
    message: p?.message ?? true,
    reply: p?.reply ?? true,
    commentLike: p?.commentLike ?? true,
    followRequest: p?.followRequest ?? true,
    followRequestApproved: p?.followRequestApproved ?? true,
  };
}

/** APNS/FCM give `token`; WEB gives the PushSubscription's endpoint and keys. */
type PushTokenInput = {
  platform: string;
  deviceId: string;
  token?: string | null;
  endpoint?: string | null;
  p256dh?: string | null;
  auth?: string | null;
};

export const notificationResolvers = {
  Notification: {
    actors: (n: NotificationView, _args: unknown, ctx: GatewayContext) => loadUserViews(ctx, n.actorIds),
    post: async (n: NotificationView, _args: unknown, ctx: GatewayContext) =>
      n.postId ? postView(await call(ctx, () => ctx.loaders.posts.load(n.postId as string))) : null,
  },
  Query: {
    notifications: inbox,
    unreadNotificationCount: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
      requireViewer(ctx);
      return (await call(ctx, () => ctx.deps.notifications.getUnreadCount({}))).unreadCount;
    },
    notificationPreferences: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
      requireViewer(ctx);
      return prefsOf((await call(ctx, () => ctx.deps.notifications.getPreferences({}))).preferences);
    },
    pushSettings: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.notifications.getPushSettings({}));
      return { webPushPublicKey: res.webPushPublicKey || null };
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
          reply: input.reply ?? undefined,
          commentLike: input.commentLike ?? undefined,
          followRequest: input.followRequest ?? undefined,
          followRequestApproved: input.followRequestApproved ?? undefined,
        }),
      );
      return prefsOf(res.preferences);
    },
    registerPushToken: async (_root: unknown, { input }: { input: PushTokenInput }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.notifications.registerPushToken({
          platform: input.platform,
          deviceId: input.deviceId,
          token: input.token ?? "",
          endpoint: input.endpoint ?? "",
          p256dh: input.p256dh ?? "",
          auth: input.auth ?? "",
        }),
      );
      return res.device;
    },
    unregisterPushToken: async (_root: unknown, args: { deviceId: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      return (await call(ctx, () => ctx.deps.notifications.unregisterPushToken({ deviceId: args.deviceId }))).removed;
    },
  },
} satisfies IResolvers;
