/**
 * Search through the gateway: the search service answers with a skeleton
 * (ids and cursors), users and posts are hydrated through the request's
 * DataLoaders (the same as the feed's), the rules drop what the viewer may not
 * see (blocks either way; mutes for posts), and the results are presented as a
 * connection of the SearchResult union.
 */
import type { IResolvers } from "mercurius";
import { Suggestion_Kind } from "../gen/nova/search/v1/search_pb.ts";
import type { GatewayContext } from "./context.ts";
import {
  call,
  connection,
  hiddenUsers,
  hydratePostViews,
  loadAll,
  type Page,
  pageArgs,
  type UserView,
  userView,
} from "./views.ts";

type SearchType = "USERS" | "POSTS" | "HASHTAGS";

const typed = <T extends object>(typename: string, v: T | null) => (v ? { __typename: typename, ...v } : null);

async function search(ctx: GatewayContext, type: SearchType, query: string, page: { cursor: string; limit: number }) {
  const s = ctx.deps.search;
  if (type === "USERS") {
    const res = await call(ctx, () => s.searchUsers({ query, ...page }));
    const loaded = await loadAll(ctx, ctx.loaders.users, res.userIds);
    const users = loaded.map((x) => userView(x));
    // The projection may lag a block by a moment; the graph's answer is the rule.
    const hidden = await hiddenUsers(ctx, res.userIds, false);
    return connection(
      users.map((u) => typed("User", u && !hidden.has(u.id) ? u : null)),
      res.cursors,
      res.nextCursor,
    );
  }
  if (type === "POSTS") {
    const res = await call(ctx, () => s.searchPosts({ query, ...page }));
    const posts = await hydratePostViews(ctx, res.postIds);
    return connection(
      posts.map((p) => typed("Post", p)),
      res.cursors,
      res.nextCursor,
    );
  }
  const res = await call(ctx, () => s.searchHashtags({ query, ...page }));
  return connection(
    res.hashtags.map((h) => typed("Hashtag", { tag: h.tag, postCount: h.postCount })),
    res.cursors,
    res.nextCursor,
  );
}

export const searchResolvers = {
  Query: {
    search: (_root, args: Page & { query: string; type: SearchType }, ctx: GatewayContext) =>
      search(ctx, args.type, args.query, pageArgs(args, 50)),
    trendingHashtags: async (_root, args: { first?: number | null }, ctx: GatewayContext) => {
      const { limit } = pageArgs(args, 50);
      const res = await call(ctx, () => ctx.deps.search.trendingHashtags({ limit }));
      return res.hashtags.map((h) => ({ tag: h.tag, score: h.score, postCount: h.postCount }));
    },
    hashtagPosts: async (_root, args: Page & { tag: string }, ctx: GatewayContext) => {
      const res = await call(ctx, () => ctx.deps.search.postsByHashtag({ tag: args.tag, ...pageArgs(args, 50) }));
      return connection(await hydratePostViews(ctx, res.postIds), res.cursors, res.nextCursor);
    },
    searchSuggestions: async (_root, args: { prefix: string; first?: number | null }, ctx: GatewayContext) => {
      const { limit } = pageArgs({ first: args.first ?? 8 }, 20);
      const res = await call(ctx, () => ctx.deps.search.suggestions({ prefix: args.prefix, limit }));
      const userIds = res.suggestions.flatMap((x) => (x.kind === Suggestion_Kind.USER ? [x.id] : []));
      const loaded = await loadAll(ctx, ctx.loaders.users, userIds);
      const users = new Map(loaded.flatMap((u) => (u ? [[u.id, userView(u)] as const] : [])));
      const hidden = await hiddenUsers(ctx, userIds, false);
      return res.suggestions.flatMap((x): { kind: string; text: string; user: UserView | null }[] => {
        if (x.kind === Suggestion_Kind.HASHTAG) return [{ kind: "HASHTAG", text: x.text, user: null }];
        const u = users.get(x.id);
        return u && !hidden.has(x.id) ? [{ kind: "USER", text: x.text, user: u }] : [];
      });
    },
  },
} satisfies IResolvers;
