import type { MethodImpl } from "@connectrpc/connect";
import { z } from "zod";
import type { SearchService } from "../../../gen/nova/search/v1/search_pb.ts";
import { pageOf, pageSize } from "../../../platform/paging.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import type { SearchContext } from "../options.ts";
import { postsByHashtagQuery, timed } from "../queries.ts";
import { decodeCursor, encodeCursor, fingerprint, PAGES, uuid, validateTag } from "../validation.ts";

/** PostsByHashtag: newest first by post id (UUIDv7: time order), so pages hold still while posts arrive. */
export function postsByHashtag(ctx: SearchContext): MethodImpl<typeof SearchService.method.postsByHashtag> {
  return async (req) => {
    const tag = validateTag("tag", req.tag);
    const limit = pageSize(req.limit, PAGES.results);
    const viewer = optionalUser()?.userId;
    const fp = fingerprint("tag", tag);
    const after = decodeCursor(req.cursor, fp, z.tuple([uuid]));
    const rows = await timed("posts_by_hashtag", () =>
      postsByHashtagQuery(ctx.reader, { tag, viewer, after: after?.[0], limit }),
    );
    const page = pageOf(rows, limit, (x) => encodeCursor(fp, [x.id]));
    return { postIds: page.rows.map((x) => x.id), cursors: page.cursors, nextCursor: page.nextCursor };
  };
}
