/**
 * GetExplore: recent posts ranked by hot rank. Visitors see explore too (as on Bluesky and
 * Mastodon); a viewer's blocks and mutes hide authors.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { FeedService } from "../../../gen/nova/feed/v1/feed_pb.ts";
import { type CursorRule, decodeCursor, pageSize } from "../../../platform/paging.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import { isUuid } from "../../../platform/validate.ts";
import type { FeedContext } from "../context.ts";
import { PAGE } from "./page.ts";

/** A position in explore: `hotRank:postId`. */
const RANKED = /^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?):([0-9a-f-]{36})$/;
const RANKED_CURSOR: CursorRule = { test: (v) => isUuid(RANKED.exec(v)?.[2] ?? "") };

export function getExplore(ctx: FeedContext): ServiceImpl<typeof FeedService>["getExplore"] {
  return async (req) => {
    const viewer = optionalUser()?.userId;
    const limit = pageSize(req.limit, PAGE);
    const m = RANKED.exec(decodeCursor(req.cursor, RANKED_CURSOR) ?? "");
    const after = m ? { rank: Number(m[1]), id: m[2] as string } : undefined;
    const page = await ctx.queries.explorePage(ctx.db.reader, viewer, after, limit);
    return { postIds: page.rows.map((x) => x.post_id), cursors: page.cursors, nextCursor: page.nextCursor };
  };
}
