/**
 * The graph part of the gateway: a user's counts, the viewer's relationship
 * to them, their followers and following (lists: skeleton from the graph
 * service, users hydrated through the users loader), and the relationship
 * mutations, which answer with the user as the change left them.
 */
import type { IResolvers } from "mercurius";
import type { Counts, MutedWord, Relationship } from "../../gen/nova/graph/v1/graph_pb.ts";
import type { User } from "../../gen/nova/identity/v1/identity_pb.ts";
import { NovaError } from "../../platform/errors.ts";
import { type GatewayContext, requireViewer } from "../context.ts";
import { toGraphQLError } from "../errors.ts";
import {
  call,
  closedToViewer,
  keepAll,
  listField,
  loadAll,
  type Page,
  pageArgs,
  type Skeleton,
  userView,
} from "../views.ts";

type Parent = { id: string };

/**
 * The privacy rule for a user's lists: a private account's followers and following are for it and its
 * followers. The parent (a UserView) says whether the account is private, so a public one costs no call.
 */
const listClosed = (ctx: GatewayContext, u: Parent & { isPrivate?: boolean }) =>
  u.isPrivate === false ? false : closedToViewer(ctx, u.id);

const NONE: Skeleton = { items: [], cursors: [], next: "" };

/** Skeleton: one page of a user's followers (user ids and cursors) from the graph service. */
async function followersSkeleton(ctx: GatewayContext, args: Page, u: Parent): Promise<Skeleton> {
  if (await listClosed(ctx, u)) return NONE;
  const res = await call(ctx, () => ctx.deps.graph.listFollowers({ userId: u.id, ...pageArgs(args) }));
  return { items: res.userIds, cursors: res.cursors, next: res.nextCursor };
}

/** Skeleton: one page of the users a user follows (user ids and cursors) from the graph service. */
async function followingSkeleton(ctx: GatewayContext, args: Page, u: Parent): Promise<Skeleton> {
  if (await listClosed(ctx, u)) return NONE;
  const res = await call(ctx, () => ctx.deps.graph.listFollowing({ userId: u.id, ...pageArgs(args) }));
  return { items: res.userIds, cursors: res.cursors, next: res.nextCursor };
}

/** Skeleton: one page of the accounts the viewer blocks or mutes (their own list only). */
const ownListSkeleton =
  (rpc: "listBlocked" | "listMuted") =>
  async (ctx: GatewayContext, args: Page): Promise<Skeleton> => {
    requireViewer(ctx);
    const graph = ctx.deps.graph;
    const res = await call<{ userIds: string[]; cursors: string[]; nextCursor: string }>(ctx, () =>
      rpc === "listBlocked" ? graph.listBlocked(pageArgs(args)) : graph.listMuted(pageArgs(args)),
    );
    return { items: res.userIds, cursors: res.cursors, next: res.nextCursor };
  };

/** Skeleton: one page of the pending follow requests to the viewer (their own list only). */
async function followRequestsSkeleton(ctx: GatewayContext, args: Page): Promise<Skeleton> {
  requireViewer(ctx);
  const res = await call(ctx, () => ctx.deps.graph.listFollowRequests(pageArgs(args)));
  return { items: res.userIds, cursors: res.cursors, next: res.nextCursor };
}

/** Hydrate: the users in one batch (a user gone since the skeleton was read is dropped). */
const hydrateUsers = (ctx: GatewayContext, page: Skeleton) => loadAll(ctx, ctx.loaders.users, page.items);

const presentUsers = (users: (User | undefined)[]) => users.map((x) => userView(x));

/** Followers and following: no rules step of the gateway's. */
const userList = (skeleton: (ctx: GatewayContext, args: Page, u: Parent) => Promise<Skeleton>) =>
  listField({ skeleton, hydrate: hydrateUsers, rules: keepAll, present: presentUsers });

const mutedWordView = (w: MutedWord) => ({
  id: w.id,
  phrase: w.phrase,
  expiresAt: w.expiresAt || null,
  createdAt: w.createdAt,
});

/** Loads the target user after a relationship change; a vanished user is NOT_FOUND. */
async function userAfter(ctx: GatewayContext, id: string) {
  const u = userView(await call(ctx, () => ctx.loaders.users.load(id)));
  if (!u) throw toGraphQLError(new NovaError("NOT_FOUND", "user not found", { field: "userId" }));
  return u;
}

type PairRpc =
  | "follow"
  | "unfollow"
  | "block"
  | "unblock"
  | "mute"
  | "unmute"
  | "approveFollowRequest"
  | "denyFollowRequest";

function relationshipMutation(rpc: PairRpc) {
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

export const graphResolvers = {
  User: {
    followerCount: async (u: Parent, _args: unknown, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.userCounts.load(u.id)))?.followerCount ?? 0,
    followingCount: async (u: Parent, _args: unknown, ctx: GatewayContext) =>
      (await call(ctx, () => ctx.loaders.userCounts.load(u.id)))?.followingCount ?? 0,
    viewerRelationship: async (u: Parent, _args: unknown, ctx: GatewayContext) => {
      if (!ctx.user || ctx.user.userId === u.id) return null;
      const r = await call(ctx, () => ctx.loaders.relationships.load(u.id));
      return r
        ? {
            following: r.following,
            followedBy: r.followedBy,
            blocking: r.blocking,
            blockedBy: r.blockedBy,
            muting: r.muting,
            requested: r.requested,
            requestedBy: r.requestedBy,
          }
        : null;
    },
    viewerFollowRequested: async (u: Parent, _args: unknown, ctx: GatewayContext) => {
      if (!ctx.user || ctx.user.userId === u.id) return null;
      return (await call(ctx, () => ctx.loaders.relationships.load(u.id)))?.requested ?? false;
    },
    followers: userList(followersSkeleton),
    following: userList(followingSkeleton),
  },
  Query: {
    followRequests: userList(followRequestsSkeleton),
    blockedUsers: userList(ownListSkeleton("listBlocked")),
    mutedUsers: userList(ownListSkeleton("listMuted")),
    mutedWords: async (_root: unknown, _args: unknown, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx).userId;
      return (await call(ctx, () => ctx.loaders.mutedWords.load(viewer))).map(mutedWordView);
    },
  },
  Mutation: {
    addMutedWord: async (_root: unknown, args: { phrase: string; expiresAt?: string | null }, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx).userId;
      const res = await call(ctx, () =>
        ctx.deps.graph.addMutedWord({ phrase: args.phrase, expiresAt: args.expiresAt ?? "" }),
      );
      ctx.loaders.mutedWords.clear(viewer);
      return res.word ? mutedWordView(res.word) : null;
    },
    removeMutedWord: async (_root: unknown, args: { id: string }, ctx: GatewayContext) => {
      const viewer = requireViewer(ctx).userId;
      const res = await call(ctx, () => ctx.deps.graph.removeMutedWord({ id: args.id }));
      ctx.loaders.mutedWords.clear(viewer);
      return res.removed;
    },
    follow: relationshipMutation("follow"),
    unfollow: relationshipMutation("unfollow"),
    block: relationshipMutation("block"),
    unblock: relationshipMutation("unblock"),
    mute: relationshipMutation("mute"),
    unmute: relationshipMutation("unmute"),
    approveFollowRequest: relationshipMutation("approveFollowRequest"),
    denyFollowRequest: relationshipMutation("denyFollowRequest"),
  },
} satisfies IResolvers;
