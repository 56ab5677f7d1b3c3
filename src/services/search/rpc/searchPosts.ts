import type { MethodImpl } from "@connectrpc/connect";
import { z } from "zod";
import type { SearchService } from "../../../gen/nova/search/v1/search_pb.ts";
import { pageOf, pageSize } from "../../../platform/paging.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import type { SearchContext } from "../options.ts";
import { searchPostsQuery, timed } from "../queries.ts";
import {
  decodeCursor,
  encodeCursor,
  fingerprint,
  finite,
  isoTime,
  PAGES,
  uuid,
  validateLanguage,
  validateQuery,
} from "../validation.ts";

/** Position: [asOf, score, createdAt, postId]; asOf fixes the time decay and the set for every page. */
const POSITION = z.tuple([isoTime, finite, isoTime, uuid]);

/**
 * SearchPosts: the newest postCandidates matches (stemmed in the query's language or by exact word),
 * ranked by ts_rank times a time decay computed at the moment of the first page (carried in the cursor),
 * so pages keep one order while posts arrive; equal relevance: newer first.
 */
export function searchPosts(ctx: SearchContext): MethodImpl<typeof SearchService.method.searchPosts> {
  return async (req) => {
    const q = validateQuery("query", req.query);
    const limit = pageSize(req.limit, PAGES.results);
    const config = validateLanguage("language", req.language, ctx.defaultConfig);
    const viewer = optionalUser()?.userId;
    const fp = fingerprint("posts", q, config);
    const after = decodeCursor(req.cursor, fp, POSITION);
    const asOf = after?.[0] ?? new Date().toISOString();
    const candidates = ctx.options.postCandidates;
    const rows = await timed("posts", () =>
      searchPostsQuery(ctx.reader, {
        q,
        config,
        viewer,
        asOf,
        candidates,
        recentScan: ctx.options.postRecentScan || 16 * candidates,
        after: after ? [after[1], after[2], after[3]] : undefined,
        limit,
      }),
    );
    const page = pageOf(rows, limit, (x) => encodeCursor(fp, [asOf, x.score, x.created_at, x.id]));
    return { postIds: page.rows.map((x) => x.id), cursors: page.cursors, nextCursor: page.nextCursor };
  };
}
