/** ListFollowRequests: who asked to follow the caller, newest first (the caller's own list only). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "../../../gen/nova/graph/v1/graph_pb.ts";
import { decodeCursor, LIST, pageSize, SEQ } from "../../../platform/paging.ts";
import { requireUser } from "../../../platform/rpc/context.ts";
import type { GraphDeps } from "../deps.ts";
import { followRequestsPage } from "../queries.ts";

export function listFollowRequests(deps: GraphDeps): ServiceImpl<typeof GraphService>["listFollowRequests"] {
  return async (req) => {
    const me = requireUser().userId;
    const limit = pageSize(req.limit, LIST);
    const before = decodeCursor(req.cursor, SEQ);
    const page = await followRequestsPage(deps.db.reader, me, before, limit);
    return { userIds: page.rows.map((x) => x.id), nextCursor: page.nextCursor, cursors: page.cursors };
  };
}
