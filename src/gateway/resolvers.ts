import type { IResolvers } from "mercurius";
import type { Comment as CommentMsg } from "../gen/nova/content/v1/content_pb.ts";
import type { Counts, Relationship } from "../gen/nova/graph/v1/graph_pb.ts";
import type { Tokens } from "../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../platform/errors.ts";
import { encodeCursor } from "../platform/paging.ts";
import { type GatewayContext, requireViewer } from "./context.ts";
import { toGraphQLError } from "./errors.ts";
import { messagingResolvers } from "./messaging.resolvers.ts";
import { notificationResolvers } from "./notifications.resolvers.ts";
import { searchResolvers } from "./search.resolvers.ts";
import {
  call,
  connection,
  hydratePostViews,
  loadAll,
  type Page,
  type PostView,
  pageArgs,
  postView,
  userView,
} from "./views.ts";

function comment(c: CommentMsg | undefined) {
  if (!c) return null;
  return {
    id: c.id,
    text: c.text,
    authorId: c.authorId,
    postId: c.postId,
    parentId: c.parentId === "" ? null : c.parentId,
    createdAt: c.createdAt,
    likeCount: c.likeCount,
  };
}

/**
 * Hydrates a skeleton of post ids (ARCHITECTURE §6): posts in one batch (the
 * content service already drops deleted posts and authors who block the
 * viewer), then the rules drop authors the viewer mutes or blocks.
 */
async function hydratePosts(ctx: GatewayContext, ids: string[], cursors: string[], next: string) {
  return connection(await hydratePostViews(ctx, ids), cursors, next);
}

/** Loads the target user after a relationship change; a vanished user is NOT_FOUND. */
async function userAfter(ctx: GatewayContext, id: string) {
  const u = userView(await call(ctx, () => ctx.loaders.users.load(id)));
  if (!u) throw toGraphQLError(new NovaError("NOT_FOUND", "user not found", { field: "userId" }));
  return u;
}

async function postAfter(ctx: GatewayContext, id: string) {
  const p = postView(await call(ctx, () => ctx.loaders.posts.load(id)));
  if (!p) throw toGraphQLError(new NovaError("NOT_FOUND", "post not found", { field: "postId" }));
  return p;
}

function relationshipMutation(rpc: "follow" | "unfollow" | "block" | "unblock" | "mute" | "unmute") {
  return async (_root: unknown, args: { userId: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    const graph = ctx.deps.graph as unknown as Record<
      typeof rpc,
      (req: { userId: string }) => Promise<{ relationship?: Relationship; counts: Counts[] }>
    >;
    const res = await call(ctx, () => graph[rpc]({ userId: args.userId }));
    // The answer shows the state the change left on the primary (a replica may not have it yet).
    if (res.relationship)
      ctx.loaders.relationships.clear(res.relationship.userId).prime(res.relationship.userId, res.relationship);
    for (const c of res.counts) ctx.loaders.userCounts.clear(c.userId).prime(c.userId, c);
    return userAfter(ctx, res.relationship?.userId ?? args.userId.trim().toLowerCase());
  };
}

function postMutation(rpc: "likePost" | "unlikePost" | "bookmarkPost" | "unbookmarkPost") {
  return async (_root: unknown, args: { postId: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    const content = ctx.deps.content as unknown as Record<typeof rpc, (req: { postId: string }) => Promise<unknown>>;
    await call(ctx, () => content[rpc]({ postId: args.postId }));
    return postAfter(ctx, args.postId.toLowerCase());
  };
}

function commentMutation(rpc: "likeComment" | "unlikeComment") {
  return async (_root: unknown, args: { commentId: string }, ctx: GatewayContext) => {
    requireViewer(ctx);
    const content = ctx.deps.content as unknown as Record<
      typeof rpc,
      (req: { commentId: string }) => Promise<{ comment?: CommentMsg }>
    >;
    const res = await call(ctx, () => content[rpc]({ commentId: args.commentId }));
    return comment(res.comment);
  };
}

function tokens(t: Tokens | undefined) {
  return { accessToken: t?.accessToken ?? "", refreshToken: t?.refreshToken ?? "", expiresIn: t?.expiresIn ?? 0 };
}

type Args<T> = { input: T };

const notifications = notificationResolvers({ user: userView, post: postView });

export const resolvers: IResolvers = {
  ...messagingResolvers,
  User: {
    followerCount: async (u: { id: string }, _args, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.userCounts.load(u.id)))?.followerCount ?? 0,
    followingCount: async (u: { id: string }, _args, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.userCounts.load(u.id)))?.followingCount ?? 0,
    viewerRelationship: async (u: { id: string }, _args, ctx: GatewayContext) => {
      if (!ctx.user || ctx.user.userId === u.id) return null;
      const r = await call(ctx, () => ctx.loaders.relationships.load(u.id));
      return r
        ? {
            following: r.following,
            followedBy: r.followedBy,
            blocking: r.blocking,
            blockedBy: r.blockedBy,
            muting: r.muting,
          }
        : null;
    },
    followers: async (u: { id: string }, args: Page, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.graph.listFollowers({ userId: u.id, ...pageArgs(args) }));
      const users = await loadAll(ctx, ctx.loaders.users, res.userIds);
      return connection(
        users.map((x) => userView(x)),
        res.cursors,
        res.nextCursor,
      );
    },
    following: async (u: { id: string }, args: Page, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.graph.listFollowing({ userId: u.id, ...pageArgs(args) }));
      const users = await loadAll(ctx, ctx.loaders.users, res.userIds);
      return connection(
        users.map((x) => userView(x)),
        res.cursors,
        res.nextCursor,
      );
    },
    posts: async (u: { id: string }, args: Page, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.content.listUserPosts({ userId: u.id, ...pageArgs(args) }));
      const posts = await loadAll(ctx, ctx.loaders.posts, res.postIds);
      return connection(
        posts.map((x) => postView(x)),
        res.postIds.map((id) => encodeCursor(id)),
        res.nextCursor,
      );
    },
    bookmarks: async (u: { id: string }, args: Page, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      if (viewer.userId !== u.id) {
        throw toGraphQLError(new NovaError("FORBIDDEN", "bookmarks are private", { field: "bookmarks" }));
      }
      const res = await call(ctx, () => ctx.deps.content.listBookmarks(pageArgs(args)));
      const posts = await loadAll(ctx, ctx.loaders.posts, res.postIds);
      return connection(
        posts.map((x) => postView(x)),
        res.cursors,
        res.nextCursor,
      );
    },
  },
  Post: {
    author: async (p: PostView, _args, ctx: GatewayContext) =>
      userView(await call(ctx, () => ctx.loaders.users.load(p.authorId))),
    likeCount: async (p: PostView, _args, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.postCounts.load(p.id)))?.likeCount ?? 0,
    commentCount: async (p: PostView, _args, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.postCounts.load(p.id)))?.commentCount ?? 0,
    bookmarkCount: async (p: PostView, _args, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.postCounts.load(p.id)))?.bookmarkCount ?? 0,
    viewerHasLiked: async (p: PostView, _args, ctx: GatewayContext) =>
      ctx.user ? ((await call(ctx, () => ctx.loaders.viewerState.load(p.id)))?.liked ?? false) : false,
    viewerHasBookmarked: async (p: PostView, _args, ctx: GatewayContext) =>
      ctx.user ? ((await call(ctx, () => ctx.loaders.viewerState.load(p.id)))?.bookmarked ?? false) : false,
    comments: async (p: PostView, args: Page, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.content.listComments({ postId: p.id, ...pageArgs(args) }));
      return connection(
        res.comments.map(comment),
        res.comments.map((c) => encodeCursor(c.id)),
        res.nextCursor,
      );
    },
  },
  Notification: notifications.Notification,
  Comment: {
    author: async (c: { authorId: string }, _args, ctx: GatewayContext) =>
      userView(await call(ctx, () => ctx.loaders.users.load(c.authorId))),
  },
  Query: {
    ...messagingResolvers.Query,
    ...notifications.Query,
    ...searchResolvers.Query,
    feed: async (_root, args: Page, ctx: GatewayContext) => {
      requireViewer(ctx);
      const page = pageArgs(args, 50);
      const res = await call(ctx, () => ctx.deps.feed.getTimeline(page));
      // The read writes nothing; when it asks, the viewer's activity is recorded (and a missing or stale
      // stored timeline rebuilt) beside the hydration.
      const [posts] = await Promise.all([
        hydratePosts(ctx, res.postIds, res.cursors, res.nextCursor),
        res.prepare && call(ctx, () => ctx.deps.feed.prepareTimeline({})),
      ]);
      return posts;
    },
    // Signed out too: no viewer state, within the per-IP query budget.
    explore: async (_root, args: Page, ctx: GatewayContext) => {
      const page = pageArgs(args, 50);
      const res = await call(ctx, () => ctx.deps.feed.getExplore(page));
      return hydratePosts(ctx, res.postIds, res.cursors, res.nextCursor);
    },
    post: async (_root, args: { id: string }, ctx: GatewayContext) => {
      try {
        const res = await ctx.call(() => ctx.deps.content.getPost({ postId: args.id }));
        return postView(res.post);
      } catch (err) {
        const e = toGraphQLError(err) as Error & { extensions?: { code?: string } };
        if (e.extensions?.code === "NOT_FOUND") return null;
        throw e;
      }
    },
    me: async (_root, _args, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.identity.getUser({ id: viewer.userId }));
      return userView(res.user);
    },
    user: async (_root, args: { username: string }, ctx: GatewayContext) => {
      try {
        const res = await ctx.call(() => ctx.deps.identity.getUserByUsername({ username: args.username }));
        return userView(res.user);
      } catch (err) {
        const e = toGraphQLError(err) as Error & { extensions?: { code?: string } };
        if (e.extensions?.code === "NOT_FOUND") return null;
        throw e;
      }
    },
  },
  Mutation: {
    ...messagingResolvers.Mutation,
    ...notifications.Mutation,
    follow: relationshipMutation("follow"),
    unfollow: relationshipMutation("unfollow"),
    block: relationshipMutation("block"),
    unblock: relationshipMutation("unblock"),
    mute: relationshipMutation("mute"),
    unmute: relationshipMutation("unmute"),
    createPost: async (
      _root,
      {
        input,
      }: Args<{ text: string; media?: { url: string; mimeType: string; width: number; height: number }[] | null }>,
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.content.createPost({ text: input.text, media: input.media ?? [] }));
      return postView(res.post);
    },
    editPost: async (_root, args: { id: string; text: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.content.editPost({ postId: args.id, text: args.text }));
      return postView(res.post);
    },
    deletePost: async (_root, args: { id: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      await call(ctx, () => ctx.deps.content.deletePost({ postId: args.id }));
      return true;
    },
    createComment: async (
      _root,
      { input }: Args<{ postId: string; text: string; parentId?: string | null }>,
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.content.createComment({ postId: input.postId, text: input.text, parentId: input.parentId ?? "" }),
      );
      return comment(res.comment);
    },
    deleteComment: async (_root, args: { id: string }, ctx: GatewayContext) => {
      requireViewer(ctx);
      await call(ctx, () => ctx.deps.content.deleteComment({ commentId: args.id }));
      return true;
    },
    likePost: postMutation("likePost"),
    unlikePost: postMutation("unlikePost"),
    bookmarkPost: postMutation("bookmarkPost"),
    unbookmarkPost: postMutation("unbookmarkPost"),
    likeComment: commentMutation("likeComment"),
    unlikeComment: commentMutation("unlikeComment"),
    register: async (
      _root,
      { input }: Args<{ email: string; username: string; password: string }>,
      ctx: GatewayContext,
    ) => {
      const res = await call(ctx, () => ctx.deps.identity.register(input));
      return { ...tokens(res.tokens), user: userView(res.user) };
    },
    login: async (_root, { input }: Args<{ identifier: string; password: string }>, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.identity.login(input));
      return { ...tokens(res.tokens), user: userView(res.user) };
    },
    refreshToken: async (_root, args: { token: string }, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.identity.refreshToken({ refreshToken: args.token }));
      return tokens(res.tokens);
    },
    logout: async (_root, _args, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      await call(ctx, () => ctx.deps.identity.logout({}));
      ctx.forgetSessions(viewer.userId, viewer.sessionId);
      return true;
    },
    logoutAll: async (_root, _args, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx);
      const res = await call(ctx, () => ctx.deps.identity.logoutAll({}));
      ctx.forgetSessions(viewer.userId);
      return res.sessionsRevoked;
    },
    updateProfile: async (
      _root,
      { input }: Args<{ displayName?: string | null; bio?: string | null; avatarUrl?: string | null }>,
      ctx: GatewayContext,
    ) => {
      requireViewer(ctx);
      const res = await call(ctx, () =>
        ctx.deps.identity.updateProfile({
          displayName: input.displayName ?? undefined,
          bio: input.bio ?? undefined,
          avatarUrl: input.avatarUrl ?? undefined,
        }),
      );
      return userView(res.user);
    },
  },
};
