import { create } from "@bufbuild/protobuf";
import type { MethodImpl } from "@connectrpc/connect";
import { type SearchService, TrendingHashtagSchema } from "../../../gen/nova/search/v1/search_pb.ts";
import { pageSize } from "../../../platform/paging.ts";
import type { SearchContext } from "../options.ts";
import { timed, trendingQuery } from "../queries.ts";
import { PAGES } from "../validation.ts";

/** TrendingHashtags: the last 24 hours' hashtags by uses decayed with trendingHalfLifeHours, one per author. */
export function trendingHashtags(ctx: SearchContext): MethodImpl<typeof SearchService.method.trendingHashtags> {
  return async (req) => {
    const limit = pageSize(req.limit, PAGES.trending);
    const rows = await timed("trending", () => trendingQuery(ctx.reader, ctx.options.trendingHalfLifeHours, limit));
    return {
      hashtags: rows.map((x) => create(TrendingHashtagSchema, { tag: x.tag, score: x.score, postCount: x.posts })),
    };
  };
}
