import type { MethodImpl } from "@connectrpc/connect";
import { z } from "zod";
import type { SearchService } from "../../../gen/nova/search/v1/search_pb.ts";
import { pageOf, pageSize } from "../../../platform/paging.ts";
import { optionalUser } from "../../../platform/rpc/context.ts";
import type { SearchContext } from "../options.ts";
import { searchUsersQuery, timed } from "../queries.ts";
import { decodeCursor, encodeCursor, fingerprint, finite, PAGES, uuid, validateQuery } from "../validation.ts";

/** Position: [tier, similarity, username, userId]. */
const POSITION = z.tuple([z.number().int().min(0).max(2), finite, z.string().max(64), uuid]);

/** SearchUsers: exact username / display name first, then prefixes, then similar names; ties by shorter username. */
export function searchUsers(ctx: SearchContext): MethodImpl<typeof SearchService.method.searchUsers> {
  return async (req) => {
    const q = validateQuery("query", req.query);
    const limit = pageSize(req.limit, PAGES.results);
    const viewer = optionalUser()?.userId;
    const fp = fingerprint("users", q);
    const after = decodeCursor(req.cursor, fp, POSITION);
    const rows = await timed("users", () =>
      searchUsersQuery(ctx.reader, { q, viewer, fuzzyThreshold: ctx.options.fuzzyThreshold, after, limit }),
    );
    const page = pageOf(rows, limit, (x) => encodeCursor(fp, [x.tier, x.sim, x.username, x.id]));
    return { userIds: page.rows.map((x) => x.id), cursors: page.cursors, nextCursor: page.nextCursor };
  };
}
