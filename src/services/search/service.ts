/**
 * The search service (nova.search.v1): a read-only projection (schema
 * `search`) fed by the identity, graph and content events (consumers.ts),
 * queried with PostgreSQL full-text search and pg_trgm similarity
 * (queries.ts). Answers are skeletons: ids and cursors, hydrated by the caller
 * (ARCHITECTURE §6). One RPC per file in rpc/.
 *
 * - Blocks (either way) hide users and posts at read time, from the blocks
 *   projection (Blocked/Unblocked), without a call per search; deleted posts
 *   leave the projection with PostDeleted/PostPurged.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Kysely } from "kysely";
import type { SearchService } from "../../gen/nova/search/v1/search_pb.ts";
import { postLanguageOf, type SearchOptions, searchContext } from "./options.ts";
import { postsByHashtag } from "./rpc/postsByHashtag.ts";
import { searchHashtags } from "./rpc/searchHashtags.ts";
import { searchPosts } from "./rpc/searchPosts.ts";
import { searchUsers } from "./rpc/searchUsers.ts";
import { suggestions } from "./rpc/suggestions.ts";
import { trendingHashtags } from "./rpc/trendingHashtags.ts";

export function createSearch(deps: {
  db: { writer: Kysely<unknown>; reader: Kysely<unknown> };
  options?: Partial<SearchOptions>;
}) {
  const ctx = searchContext(deps.db.reader, deps.options);
  const service: ServiceImpl<typeof SearchService> = {
    searchUsers: searchUsers(ctx),
    searchPosts: searchPosts(ctx),
    searchHashtags: searchHashtags(ctx),
    postsByHashtag: postsByHashtag(ctx),
    suggestions: suggestions(ctx),
    trendingHashtags: trendingHashtags(ctx),
  };
  return { service, postLanguage: postLanguageOf(ctx.defaultConfig), options: ctx.options };
}
