/**
 * Search through the gateway: the search service answers with a skeleton
 * (ids and cursors), users and posts are hydrated through the request's
 * DataLoaders (the same as the feed's), the rules drop what the viewer may not
 * see (blocks either way; mutes for posts), and the results are presented as a
 * connection of the SearchResult union.
 */
import type { IResolvers } from "mercurius";
import type { Relationship } from "../../gen/nova/graph/v1/graph_pb.ts";
import type { User } from "../../gen/nova/identity/v1/identity_pb.ts";
import { type Hashtag, Suggestion_Kind } from "../../gen/nova/search/v1/search_pb.ts";
import type { GatewayContext } from "../context.ts";
import {
  call,
  hiddenBy,
  hydratePosts,
  keepAll,
  listField,
  loadAll,
  type Page,
  pageArgs,
  postList,
  postRules,
  presentPosts,
  restrictedUsers,
  type Skeleton,
  type UserView,
  union,
  userView,
  viewerRelationships,
} from "../views.ts";

type SearchType = "USERS" | "POSTS" | "HASHTAGS";
type SearchArgs = Page & { query: string; type: SearchType };

const typed = <T extends object>(typename: string, v: T | null) => (v ? { __typename: typename, ...v } : null);

// Skeletons: one page of users, posts or hashtags matching the query (ids, or whole hashtags, and cursors).
async function usersSkeleton(ctx: GatewayContext, args: SearchArgs): Promise<Skeleton> {
  const res = await call(ctx, () => ctx.deps.search.searchUsers({ query: args.query, ...pageArgs(args, 50) }));
  return { items: res.userIds, cursors: res.cursors, next: res.nextCursor };
}

async function postsSkeleton(ctx: GatewayContext, args: SearchArgs): Promise<Skeleton> {
  const res = await call(ctx, () => ctx.deps.search.searchPosts({ query: args.query, ...pageArgs(args, 50) }));
  return { items: res.postIds, cursors: res.cursors, next: res.nextCursor };
}

async function hashtagsSkeleton(ctx: GatewayContext, args: SearchArgs): Promise<Skeleton<Hashtag>> {
  const res = await call(ctx, () => ctx.deps.search.searchHashtags({ query: args.query, ...pageArgs(args, 50) }));
  return { items: res.hashtags, cursors: res.cursors, next: res.nextCursor };
}

interface HydratedUsers {
  users: (User | undefined)[];
  relationships: (Relationship | undefined)[];
  restricted: Set<string>;
}

const searchUsers = listField({
  skeleton: usersSkeleton,
  // The projection may lag a block by a moment; the graph's answer is the rule.
  hydrate: async (ctx, page): Promise<HydratedUsers> => {
    const users = await loadAll(ctx, ctx.loaders.users, page.items);
    const [relationships, restricted] = await Promise.all([
      viewerRelationships(ctx, page.items),
      restrictedUsers(ctx, page.items),
    ]);
    return { users, relationships, restricted };
  },
  // Blocks either way, a suspension or a ban hide a user; a muted one is still found.
  rules: ({ users, relationships, restricted }: HydratedUsers) => {
    const hidden = union(hiddenBy(relationships, false), restricted);
    return users.map((u) => (u && !hidden.has(u.id) ? u : undefined));
  },
  present: (users) => users.map((u) => typed("User", userView(u))),
});

const searchPosts = listField({
  skeleton: postsSkeleton,
  hydrate: (ctx, page) => hydratePosts(ctx, page.items),
  rules: postRules,
  present: (posts) => presentPosts(posts).map((p) => typed("Post", p)),
});

const searchHashtags = listField({
  skeleton: hashtagsSkeleton,
  hydrate: async (_ctx, page) => page.items,
  rules: keepAll,
  present: (hashtags: Hashtag[]) => hashtags.map((h) => typed("Hashtag", { tag: h.tag, postCount: h.postCount })),
});

/** The `search` field: one list per result type, each its own steps. */
function search(root: unknown, args: SearchArgs, ctx: GatewayContext) {
  const list = args.type === "USERS" ? searchUsers : args.type === "POSTS" ? searchPosts : searchHashtags;
  return list(root, args, ctx);
}

/** Skeleton: one page of a hashtag's posts; then the kit's post steps. */
const hashtagPosts = postList(async (ctx, args: Page & { tag: string }): Promise<Skeleton> => {
  const res = await call(ctx, () => ctx.deps.search.postsByHashtag({ tag: args.tag, ...pageArgs(args, 50) }));
  return { items: res.postIds, cursors: res.cursors, next: res.nextCursor };
});

export const searchResolvers = {
  Query: {
    search,
    trendingHashtags: async (_root: unknown, args: { first?: number | null }, ctx: GatewayContext) => {
      const { limit } = pageArgs(args, 50);
      const res = await call(ctx, () => ctx.deps.search.trendingHashtags({ limit }));
      return res.hashtags.map((h) => ({ tag: h.tag, score: h.score, postCount: h.postCount }));
    },
    hashtagPosts,
    searchSuggestions: async (_root: unknown, args: { prefix: string; first?: number | null }, ctx: GatewayContext) => {
      const { limit } = pageArgs({ first: args.first ?? 8 }, 20);
      const res = await call(ctx, () => ctx.deps.search.suggestions({ prefix: args.prefix, limit }));
      const userIds = res.suggestions.flatMap((x) => (x.kind === Suggestion_Kind.USER ? [x.id] : []));
      const loaded = await loadAll(ctx, ctx.loaders.users, userIds);
      const users = new Map(loaded.flatMap((u) => (u ? [[u.id, userView(u)] as const] : [])));
      const [relationships, restricted] = await Promise.all([
        viewerRelationships(ctx, userIds),
        restrictedUsers(ctx, userIds),
      ]);
      const hidden = union(hiddenBy(relationships, false), restricted);
      return res.suggestions.flatMap((x): { kind: string; text: string; user: UserView | null }[] => {
        if (x.kind === Suggestion_Kind.HASHTAG) return [{ kind: "HASHTAG", text: x.text, user: null }];
        const u = users.get(x.id);
        return u && !hidden.has(x.id) ? [{ kind: "USER", text: x.text, user: u }] : [];
      });
    },
  },
} satisfies IResolvers;
