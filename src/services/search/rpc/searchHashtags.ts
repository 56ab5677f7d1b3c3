import { create } from "@bufbuild/protobuf";
import type { MethodImpl } from "@connectrpc/connect";
import { z } from "zod";
import { HashtagSchema, type SearchService } from "../../../gen/nova/search/v1/search_pb.ts";
import { pageOf, pageSize } from "../../../platform/paging.ts";
import type { SearchContext } from "../options.ts";
import { fold, searchHashtagsQuery, timed } from "../queries.ts";
import { decodeCursor, encodeCursor, fingerprint, PAGES, prefixPattern, validateQuery } from "../validation.ts";

/** Position: [tier, postCount, tag]. */
const POSITION = z.tuple([z.number().int().min(0).max(2), z.number().int().min(0), z.string().max(64)]);

/** SearchHashtags: exact tag, then prefixes (busiest first), then similar tags. */
export function searchHashtags(ctx: SearchContext): MethodImpl<typeof SearchService.method.searchHashtags> {
  return async (req) => {
    const q = validateQuery("query", req.query).replace(/^#/, "");
    const limit = pageSize(req.limit, PAGES.results);
    const fp = fingerprint("hashtags", q);
    const after = decodeCursor(req.cursor, fp, POSITION);
    const rows = await timed("hashtags", async () => {
      const f = q === "" ? "" : await fold(ctx.reader, q);
      return searchHashtagsQuery(ctx.reader, {
        f,
        prefix: prefixPattern(f),
        fuzzyThreshold: ctx.options.fuzzyThreshold,
        after,
        limit,
      });
    });
    const page = pageOf(rows, limit, (x) => encodeCursor(fp, [x.tier, x.post_count, x.tag]));
    return {
      hashtags: page.rows.map((x) => create(HashtagSchema, { tag: x.tag, postCount: x.post_count })),
      cursors: page.cursors,
      nextCursor: page.nextCursor,
    };
  };
}
